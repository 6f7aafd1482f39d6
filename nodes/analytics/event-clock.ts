/**
 * Event time for engines that must act when no sample arrives (alarm delays, shelving, OEE
 * periods). Between samples, event time is the last sample's timestamp plus the time that has
 * passed on the local clock since that sample arrived: a device clock that runs an hour behind
 * keeps running an hour behind, and a delay counts the same seconds whether or not more samples
 * come in.
 */
import { InputError } from '../shared/errors';

export interface Timers {
  /** Arrival clock, epoch ms. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Largest delay handed to setTimeout (it overflows at 2^31-1 ms and fires at once). */
export const MAX_TIMER_MS = 2_147_000_000;

export class EventClock {
  private lastTs: number | undefined;
  private lastArrival = 0;

  constructor(private readonly timers: Timers) {}

  /** Notes that a sample stamped `ts` arrived now. */
  observe(ts: number): void {
    this.lastTs = ts;
    this.lastArrival = this.timers.now();
  }

  /** Event time now: the last sample's time plus the local time elapsed since it arrived. */
  now(): number {
    if (this.lastTs === undefined) return this.timers.now();
    return this.lastTs + Math.max(0, this.timers.now() - this.lastArrival);
  }

  get seen(): boolean {
    return this.lastTs !== undefined;
  }
}

/** Largest |epoch ms| a Date can hold (ECMA-262 21.4.1.1): +-100,000,000 days from 1970. */
export const DATE_LIMIT_MS = 8.64e15;
/** How far a sample's timestamp may run ahead of this host's clock (a device clock set wrong). */
export const MAX_FUTURE_MS = 24 * 3_600_000;

/** A timestamp for a message: ISO 8601 when it is a date, the bare number when it is not. */
export function formatTime(ts: number): string {
  return Number.isFinite(ts) && Math.abs(ts) <= DATE_LIMIT_MS ? new Date(ts).toISOString() : String(ts);
}

/**
 * Refuses an event time that would poison a tag's state: outside the Date range, or more than a
 * day ahead of this host's clock. Accepted, a timestamp in the year 3000 would make every later
 * sample of the tag "older than the previous one", and the tag would be lost for good.
 */
export function checkEventTime(tag: string, ts: number, now: number): void {
  if (!Number.isFinite(ts) || Math.abs(ts) > DATE_LIMIT_MS) throw new InputError(`tag "${tag}": timestamp ${ts} is outside the range of dates`);
  if (ts > now + MAX_FUTURE_MS) {
    throw new InputError(`tag "${tag}": timestamp ${formatTime(ts)} is more than 24 h ahead of this host's clock (${formatTime(now)})`);
  }
}

/**
 * The host clock as last read here. A timestamp at most a day ahead of it is at most a day ahead
 * of now as well, since the clock has moved on since: most messages need no clock read (~50 ns on
 * these virtual machines, as much as a statistic). It is read again when a timestamp looks too far
 * ahead, and every 1,024 messages, so that a clock stepped back is noticed soon.
 */
export class FutureCheck {
  private clockRead = -Infinity;
  private sinceRead = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** checkEventTime for one sample, against the clock as last read (see above). */
  check(tag: string, ts: number): void {
    if ((++this.sinceRead & 1023) === 0) this.clockRead = this.now();
    if (ts <= this.clockRead + MAX_FUTURE_MS && ts >= -DATE_LIMIT_MS) return;
    const now = (this.clockRead = this.now());
    if (ts > now + MAX_FUTURE_MS || !(Math.abs(ts) <= DATE_LIMIT_MS)) checkEventTime(tag, ts, now);
  }
}

/** The host clock's check, shared by the nodes that read their samples through sample-output. */
const systemCheck = new FutureCheck();

/**
 * checkEventTime for every sample of a message, before any state changes: a batch with one wrong
 * time is refused whole.
 */
export function checkEventTimes(samples: readonly { tag: string; ts: number }[]): void {
  for (let i = 0; i < samples.length; i++) systemCheck.check(samples[i].tag, samples[i].ts);
}

/** checkEventTimes for a message of one sample (the single form), without an array to hold it. */
export function checkSampleTime(tag: string, ts: number): void {
  systemCheck.check(tag, ts);
}
