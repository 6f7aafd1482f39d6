/**
 * Event time for engines that must act when no sample arrives (alarm delays, shelving, OEE
 * periods). Between samples, event time is the last sample's timestamp plus the time that has
 * passed on the local clock since that sample arrived: a device clock that runs an hour behind
 * keeps running an hour behind, and a delay counts the same seconds whether or not more samples
 * come in.
 */
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
