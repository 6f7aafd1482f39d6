/**
 * The polling loop of one I2C sensor: opens the bus and the driver, reads every `interval` ms,
 * and on failure reports once per failure episode and retries on an exponential backoff. A
 * machine with no bus at all is just a long failure episode: one error, a red status, retries.
 * No node-red import here.
 */
import { EventEmitter } from 'events';
import { Backoff } from '../shared/backoff';
import type { Reading, SensorDriver } from './drivers/driver';
import { asError } from './reason';

export interface OpenedSensor {
  driver: SensorDriver;
  close(): Promise<void>;
}

export interface SensorPollerOptions {
  /** ms between reads; 0 = read only when poll() is called. */
  interval: number;
  /** Opens the bus and runs the driver's init. Rejects when the bus or chip is missing. */
  open(): Promise<OpenedSensor>;
  backoff?: Backoff;
  now?: () => number;
}

export interface FailureEvent {
  error: Error;
  /** True for the first failure after a success (or after start): the one to log. */
  first: boolean;
  /** Attempts failed in a row. */
  failures: number;
  /** ms until the next attempt. */
  retryIn: number;
  /** The last readings again with quality bad (empty if nothing was ever read). */
  stale: Reading[];
}

export interface SensorPollerEvents {
  readings: [readings: Reading[], ts: number];
  failure: [event: FailureEvent];
  recovered: [];
}

export class SensorPoller extends EventEmitter<SensorPollerEvents> {
  private sensor?: OpenedSensor;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private stopped = false;
  private last: Reading[] = [];
  private failing = false;
  private readonly backoff: Backoff;
  private readonly now: () => number;

  constructor(private readonly o: SensorPollerOptions) {
    super();
    this.backoff = o.backoff ?? new Backoff({ initial: 1000, max: 60_000, jitter: 0.2 });
    this.now = o.now ?? Date.now;
  }

  /** Opens the sensor at once (so a missing bus shows at deploy), and reads too unless interval is 0. */
  start(): void {
    void this.poll(this.o.interval > 0);
  }

  /** Reads now (a message arrived, or the timer fired); a read already running is not doubled. */
  async poll(read = true): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let delay = this.o.interval;
    try {
      if (!this.sensor) {
        const opened = await this.o.open();
        if (this.stopped) {
          // Opened while the node was closing: stop() found nothing to close, so close it here.
          await opened.close().catch(() => undefined);
          return;
        }
        this.sensor = opened;
      }
      if (this.stopped) return;
      if (!read) {
        this.backoff.reset();
        if (this.failing) {
          this.failing = false;
          this.emit('recovered');
        }
        return;
      }
      const readings = await this.sensor.driver.read();
      if (this.stopped) return;
      this.last = readings;
      this.backoff.reset();
      if (this.failing) {
        this.failing = false;
        this.emit('recovered');
      }
      this.emit('readings', readings, this.now());
    } catch (err) {
      if (this.stopped) return;
      const first = !this.failing;
      this.failing = true;
      // Start from scratch next time: a chip that browned out needs its configuration again.
      const s = this.sensor;
      this.sensor = undefined;
      if (s) await s.close().catch(() => undefined);
      const retryIn = this.backoff.next();
      delay = Math.max(this.o.interval, retryIn);
      this.emit('failure', {
        error: asError(err),
        first,
        failures: this.backoff.failures,
        retryIn: delay,
        stale: this.last.map((r) => ({ ...r, quality: 'bad' as const })),
      });
    } finally {
      this.busy = false;
      // With interval 0 only failures are retried on the timer; reads wait for poll().
      if (!this.stopped && (this.o.interval > 0 || this.failing)) {
        this.timer = setTimeout(() => void this.poll(this.o.interval > 0), delay);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.sensor;
    this.sensor = undefined;
    if (s) await s.close().catch(() => undefined);
  }
}
