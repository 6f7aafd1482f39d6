/**
 * Digital output logic: active-low, commands from message payloads, and timed pulses. Writes
 * electrical levels through a setter so it runs on a real line or a simulated pin alike.
 * No node-red import here.
 */
import { InputError } from '../shared/errors';
import type { Level } from './gpio-bus';
import { typeName } from '../shared/sample';

/** The longest pulse: an hour. Longer than that is a schedule, not a pulse. */
export const MAX_PULSE_MS = 3_600_000;

/** Reads a command: true/false, 1/0, "on"/"off", "true"/"false", "1"/"0", "high"/"low". */
export function parseCommand(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (raw === 1 || raw === 0) return raw === 1;
  if (typeof raw === 'string') {
    const s = raw.trim().toLowerCase();
    if (['1', 'on', 'true', 'high'].includes(s)) return true;
    if (['0', 'off', 'false', 'low'].includes(s)) return false;
  }
  throw new InputError(`msg.payload must be true/false, 1/0 or "on"/"off", not ${shown(raw)}`);
}

function shown(raw: unknown): string {
  return typeof raw === 'string' ? `"${raw.slice(0, 20)}"` : typeof raw === 'number' ? String(raw) : typeName(raw);
}

export function parsePulse(raw: unknown, where = 'msg.pulse'): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > MAX_PULSE_MS) {
    throw new InputError(`${where} must be a duration in ms, 1-${MAX_PULSE_MS}, not ${shown(raw)}`);
  }
  return Math.round(n);
}

export class GpioOutput {
  private pulseTimer?: NodeJS.Timeout;
  private state = false;

  constructor(
    private readonly write: (level: Level) => void,
    private readonly activeLow: boolean,
  ) {}

  get active(): boolean {
    return this.state;
  }

  get pulsing(): boolean {
    return this.pulseTimer !== undefined;
  }

  levelFor(active: boolean): Level {
    return active !== this.activeLow ? 1 : 0;
  }

  /** Sets the output; a command cancels a pulse in progress (the newest command wins). */
  set(active: boolean): void {
    this.cancelPulse();
    this.apply(active);
  }

  /** Active for `ms`, then inactive; `onEnd` runs when the pulse ends on its own. */
  pulse(ms: number, onEnd?: () => void): void {
    this.cancelPulse();
    this.apply(true);
    this.pulseTimer = setTimeout(() => {
      this.pulseTimer = undefined;
      this.apply(false);
      onEnd?.();
    }, ms);
  }

  private apply(active: boolean): void {
    this.write(this.levelFor(active));
    this.state = active;
  }

  private cancelPulse(): void {
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.pulseTimer = undefined;
  }

  /** On close a pulse in progress is ended, so an output is never left on by a redeploy mid-pulse. */
  stop(): void {
    if (this.pulseTimer) {
      this.cancelPulse();
      this.apply(false);
    }
  }
}
