/**
 * Keeps trying to open a piece of hardware (a GPIO line, an I2C bus) on an exponential backoff,
 * telling the node once per failure episode. No node-red import here.
 */
import { Backoff } from '../shared/backoff';
import { asError } from './reason';

export interface ReopenHandlers<T> {
  open(): T | Promise<T>;
  opened(resource: T): void;
  /** `first` is true once per episode (log then); `attempt` counts failures in a row. */
  failed(error: Error, first: boolean, attempt: number, retryIn: number): void;
  /**
   * Closes a resource whose open() finished after stop(): nobody else holds it. Default: its own
   * close() method, if it has one.
   */
  close?(resource: T): void | Promise<void>;
}

export class Reopener<T> {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private resource?: T;
  private readonly backoff: Backoff;

  constructor(private readonly h: ReopenHandlers<T>, backoff?: Backoff) {
    this.backoff = backoff ?? new Backoff({ initial: 1000, max: 60_000, jitter: 0.2 });
  }

  get current(): T | undefined {
    return this.resource;
  }

  async start(): Promise<void> {
    if (this.stopped || this.resource !== undefined) return;
    try {
      const r = await this.h.open();
      if (this.stopped) {
        // Opened while the node was closing: stop() had nothing to hand back, so close it here.
        this.discard(r);
        return;
      }
      this.resource = r;
      this.backoff.reset();
      this.h.opened(r);
    } catch (err) {
      if (this.stopped) return;
      const first = this.backoff.failures === 0;
      const retryIn = this.backoff.next();
      this.h.failed(asError(err), first, this.backoff.failures, retryIn);
      this.timer = setTimeout(() => {
        // Done waiting: a later loss must see no retry pending, or it would never reopen.
        this.timer = undefined;
        void this.start();
      }, retryIn);
    }
  }

  private discard(r: T): void {
    try {
      const done = this.h.close
        ? this.h.close(r)
        : typeof (r as { close?: unknown } | undefined)?.close === 'function'
          ? (r as unknown as { close(): unknown }).close()
          : undefined;
      if (done && typeof (done as Promise<unknown>).then === 'function') (done as Promise<unknown>).then(undefined, () => undefined);
    } catch {
      // Closing a resource nobody uses: nothing to report.
    }
  }

  /** The resource failed after it was opened: drop it and start retrying. */
  lost(): void {
    this.resource = undefined;
    if (!this.stopped && !this.timer) void this.start();
  }

  /** Stops retrying and hands back what is open, for the caller to close. */
  stop(): T | undefined {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const r = this.resource;
    this.resource = undefined;
    return r;
  }
}
