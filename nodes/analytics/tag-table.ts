/**
 * Per-tag state for the analytics engines (stats, deadband, rate, resample). A tag seen for the
 * first time gets fresh state; the number of tags is bounded so that a flow that puts a counter or
 * a timestamp in `msg.topic` by mistake gets a clear error instead of growing memory without end.
 */
import { InputError } from '../shared/errors';

export const DEFAULT_MAX_TAGS = 10_000;

export class TagTable<T> {
  private readonly states = new Map<string, T>();
  // The last tag looked up and its state: a flow of one tag (the common single form) skips the Map.
  private lastTag: string | undefined;
  private lastState: T | undefined;

  constructor(
    private readonly create: (tag: string) => T,
    private readonly maxTags: number = DEFAULT_MAX_TAGS,
  ) {}

  /** The state of `tag`, created on first use. */
  get(tag: string): T {
    if (tag === this.lastTag) return this.lastState as T;
    let s = this.states.get(tag);
    if (s === undefined) {
      if (this.states.size >= this.maxTags) {
        throw new InputError(`tag "${tag.slice(0, 60)}": this node already keeps ${this.maxTags} tags (is msg.topic a tag name?)`);
      }
      s = this.create(tag);
      this.states.set(tag, s);
    }
    this.lastTag = tag;
    this.lastState = s;
    return s;
  }

  /** Whether one more tag (or `tag` itself, when known) fits. */
  admits(tag: string): boolean {
    return this.states.has(tag) || this.states.size < this.maxTags;
  }

  peek(tag: string): T | undefined {
    if (tag === this.lastTag) return this.lastState;
    return this.states.get(tag);
  }

  set(tag: string, state: T): void {
    this.states.set(tag, state);
    if (tag === this.lastTag) this.lastState = state;
  }

  /** Forgets one tag, or every tag when `tag` is undefined. */
  reset(tag?: string): void {
    if (tag === undefined) this.states.clear();
    else this.states.delete(tag);
    if (tag === undefined || tag === this.lastTag) {
      this.lastTag = undefined;
      this.lastState = undefined;
    }
  }

  get size(): number {
    return this.states.size;
  }

  entries(): IterableIterator<[string, T]> {
    return this.states.entries();
  }
}

/** Neumaier's compensated sum: the error stays O(eps) however many terms are added and removed. */
export class CompensatedSum {
  private s = 0;
  private c = 0;

  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
  }

  get value(): number {
    return this.s + this.c;
  }

  clear(): void {
    this.s = 0;
    this.c = 0;
  }
}

/**
 * Event time of a tag "now": its last sample's timestamp plus the wall-clock time since that sample
 * arrived. Timers that close buckets of quiet inputs use it, so a device whose clock is off by
 * minutes still has its buckets closed at the right moment of its own time.
 */
/**
 * One part of a budget shared evenly by `parts` (tags, lines) for one call: at most `cap`, at least
 * one, so that every part moves on however many share it.
 */
export function evenShare(budget: number, parts: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.floor(budget / Math.max(1, parts))));
}

export function estimatedEventTime(lastTs: number, lastArrival: number, now: number): number {
  return lastTs + Math.max(0, now - lastArrival);
}
