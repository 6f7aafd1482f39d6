/**
 * A node's state kept in its node context, for the nodes whose state must outlive a redeploy, and
 * a restart with a persistent context store (rate totals, alarm states, OEE counters, a GPIO input's pulse total).
 *
 * Any context store: the saved state is read with a callback, as asynchronous-only stores (a file
 * store without cache, database-backed stores) require, and input that arrives before it is back
 * waits for it, in order. Writes: at once, then at most once per `everyMs` while the state keeps
 * changing (a timer, no clock read per message), and on close. A write per message halved the
 * rate node's throughput (bench/analytics) and a file store without cache would write a file each
 * time; the file store with its cache flushes every 30 s anyway.
 */
import { InputError } from './errors';
import type { InputHandler } from './input';
import type { Done, NodeMessageInFlow, Send } from './red';

/** The node context calls used here (Node-RED's context API with callbacks). */
export interface StateContext {
  get(key: string, callback: (err: Error | undefined, value: unknown) => void): void;
  set(key: string, value: unknown, callback: (err?: Error) => void): void;
}

export interface SavedStateOptions {
  /** The context key. */
  key: string;
  /** Takes back what the store held (undefined when it held nothing). */
  restore(saved: unknown): void;
  /** What to write. */
  snapshot(): unknown;
  /** A failed read or write, to report on the node (there is no message to fail). */
  failed(what: 'load' | 'save', err: Error): void;
  everyMs?: number;
  /** Inputs that may wait for the saved state; one more is refused. */
  maxWaiting?: number;
}

export class SavedState {
  private loaded = false;
  private closed = false;
  private readonly waiting: Array<(err?: Error) => void> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirty = false;
  private readonly everyMs: number;
  private readonly maxWaiting: number;

  /** Starts reading the saved state (a synchronous store answers before this returns). */
  constructor(
    private readonly ctx: StateContext,
    private readonly o: SavedStateOptions,
  ) {
    this.everyMs = o.everyMs ?? 1000;
    this.maxWaiting = o.maxWaiting ?? 10_000;
    ctx.get(o.key, (err, saved) => {
      if (this.closed) return;
      if (err) o.failed('load', err);
      else o.restore(saved);
      this.loaded = true;
      for (const run of this.waiting.splice(0)) run();
    });
  }

  get ready(): boolean {
    return this.loaded;
  }

  /**
   * Runs `run` now when the saved state is back, else once it is (in arrival order), or with an
   * error if the node closes first. Throws InputError when `maxWaiting` inputs already wait.
   */
  whenReady(run: (err?: Error) => void): void {
    if (this.loaded) {
      run();
      return;
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new InputError(`the saved state is still loading and ${this.maxWaiting} messages are waiting`);
    }
    this.waiting.push(run);
  }

  /**
   * The state changed: written now, or when the current quiet period ends. Not before the saved
   * state is back (the node's state is then not yet what it must save: writing would lose it).
   */
  save(): void {
    if (this.closed || !this.loaded) return;
    if (this.timer) {
      this.dirty = true;
      return;
    }
    this.write();
    this.timer = setTimeout(this.quietEnd, this.everyMs);
  }

  /** A change that must not wait for the quiet period to end (a reset): written now. */
  saveNow(): void {
    if (this.closed || !this.loaded) return;
    this.write();
    this.timer ??= setTimeout(this.quietEnd, this.everyMs);
  }

  /** Node close: what changed since the last write is written; inputs still waiting get `err`. */
  close(err: Error): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty && this.loaded) this.write();
    this.closed = true;
    for (const run of this.waiting.splice(0)) run(err);
  }

  private write(): void {
    this.dirty = false;
    this.ctx.set(this.o.key, this.o.snapshot(), (err?: Error) => {
      if (err) this.o.failed('save', err);
    });
  }

  private readonly quietEnd = (): void => {
    this.timer = undefined;
    if (!this.dirty) return;
    this.write();
    this.timer = setTimeout(this.quietEnd, this.everyMs);
  };
}

/**
 * An input handler (for onInput) that runs `handle` once `saved` is back, in arrival order: a
 * refusal it throws calls `refused` (to show it on the node) and fails the message through done.
 */
export function afterLoad(saved: SavedState, handle: (msg: NodeMessageInFlow, send: Send, done: Done) => void, refused: () => void): InputHandler {
  return (msg, send, done) =>
    saved.whenReady((err) => {
      if (err) return done(err);
      try {
        handle(msg, send, done);
      } catch (e) {
        refused();
        done(e instanceof Error ? e : new Error(String(e)));
      }
    });
}
