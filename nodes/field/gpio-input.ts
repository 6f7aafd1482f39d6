/**
 * Digital input logic: debounce, active-low, edge selection, and pulse counting with a rate, for
 * flow meters and machine cycles. Fed with electrical levels by a GPIO line; timers and clock
 * are the global ones so tests drive them with fake timers. No node-red import here.
 */
import { EventEmitter } from 'events';
import { ConfigError } from '../shared/errors';
import type { Level } from './gpio-bus';

export type Edge = 'rising' | 'falling' | 'both';
export type InputMode = 'state' | 'count';

export interface GpioInputOptions {
  edge: Edge;
  /** A level must hold this long (ms) to count: contact bounce shorter than this is ignored. 0: off. */
  debounce: number;
  /** The input is active when the pin is low (a contact to ground with a pull-up). */
  activeLow: boolean;
  mode: InputMode;
  /** Count mode: ms between count/rate reports. */
  reportInterval: number;
  /** Count mode: the total to continue from (kept across restarts by the node). */
  initialTotal?: number;
  now?: () => number;
}

export interface StateEvent {
  active: boolean;
  ts: number;
}

export interface CountEvent {
  /** Pulses since the counter was last reset. */
  total: number;
  /**
   * Pulses per second over the last completed report period; before the first period has ended,
   * over the time since it began.
   */
  rate: number;
  ts: number;
}

export interface GpioInputEvents {
  state: [StateEvent];
  count: [CountEvent];
}

export function checkInputOptions(o: GpioInputOptions): void {
  if (!['rising', 'falling', 'both'].includes(o.edge)) throw new ConfigError(`edge must be rising, falling or both, not "${o.edge}"`);
  if (!['state', 'count'].includes(o.mode)) throw new ConfigError(`mode must be state or count, not "${o.mode}"`);
  if (!Number.isFinite(o.debounce) || o.debounce < 0 || o.debounce > 60_000) throw new ConfigError('debounce must be 0-60000 ms');
  if (o.mode === 'count' && (!Number.isFinite(o.reportInterval) || o.reportInterval < 100 || o.reportInterval > 3_600_000)) {
    throw new ConfigError('report interval must be 100 ms to 1 h');
  }
}

export class GpioInput extends EventEmitter<GpioInputEvents> {
  private stable: boolean | undefined;
  private raw: Level = 0;
  private debounceTimer?: NodeJS.Timeout;
  private reportTimer?: NodeJS.Timeout;
  private totalCount: number;
  private periodCount = 0;
  private periodStart = 0;
  /** Rate of the last completed report period; undefined until one has ended. */
  private lastRate?: number;
  private readonly now: () => number;

  constructor(private readonly o: GpioInputOptions) {
    super();
    checkInputOptions(o);
    this.now = o.now ?? Date.now;
    const t = o.initialTotal ?? 0;
    this.totalCount = Number.isSafeInteger(t) && t >= 0 ? t : 0;
  }

  get total(): number {
    return this.totalCount;
  }

  get active(): boolean {
    return this.stable ?? false;
  }

  private logical(level: Level): boolean {
    return this.o.activeLow ? level === 0 : level === 1;
  }

  /** Takes the line's level at start; state mode reports it once so consumers know where they stand. */
  start(level: Level): void {
    this.raw = level;
    this.stable = this.logical(level);
    this.periodStart = this.now();
    if (this.o.mode === 'state') this.emit('state', { active: this.stable, ts: this.now() });
    else this.reportTimer = setInterval(() => this.endPeriod(), this.o.reportInterval);
  }

  /** An electrical level change from the line. */
  level(level: Level): void {
    this.raw = level;
    if (this.o.debounce <= 0) {
      this.settle();
      return;
    }
    // Restart the wait on every change: only a level that holds for `debounce` ms is real.
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.settle();
    }, this.o.debounce);
  }

  private settle(): void {
    const active = this.logical(this.raw);
    if (active === this.stable) return;
    this.stable = active;
    const wanted = this.o.edge === 'both' || (this.o.edge === 'rising') === active;
    if (!wanted) return;
    if (this.o.mode === 'state') {
      this.emit('state', { active, ts: this.now() });
    } else {
      this.totalCount++;
      this.periodCount++;
    }
  }

  /** The periodic report: closes the report period, emits its rate, and starts the next one. */
  private endPeriod(): CountEvent {
    const ts = this.now();
    const seconds = (ts - this.periodStart) / 1000;
    const rate = seconds > 0 ? this.periodCount / seconds : 0;
    this.lastRate = rate;
    this.periodCount = 0;
    this.periodStart = ts;
    const e: CountEvent = { total: this.totalCount, rate, ts };
    this.emit('count', e);
    return e;
  }

  /**
   * An on-demand report (a message asked): the total now, and the rate of the last completed
   * period (before the first has ended, the rate since it began). It leaves the period running,
   * so a frequent poll neither makes a spike nor shortens the periodic report's window.
   */
  report(): CountEvent {
    const ts = this.now();
    let rate = this.lastRate;
    if (rate === undefined) {
      const seconds = (ts - this.periodStart) / 1000;
      rate = seconds > 0 ? this.periodCount / seconds : 0;
    }
    const e: CountEvent = { total: this.totalCount, rate, ts };
    this.emit('count', e);
    return e;
  }

  /** The state now, for a message asking for it. */
  current(): StateEvent {
    return { active: this.active, ts: this.now() };
  }

  resetTotal(): void {
    this.totalCount = 0;
  }

  /** Count mode: continues from a saved total (a whole number >= 0; anything else is ignored). Returns whether it was taken. */
  restoreTotal(total: unknown): boolean {
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0) return false;
    this.totalCount = total;
    return true;
  }

  stop(): void {
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.debounceTimer = undefined;
    this.reportTimer = undefined;
  }
}
