/**
 * Resampling into fixed time buckets (DESIGN.md section 7, plantwire-resample).
 *
 * Rules the help text states:
 * - Buckets are [k x interval, (k + 1) x interval) in epoch milliseconds of event time (the
 *   samples' timestamps), so every node with the same interval cuts time at the same instants.
 *   The interval is taken in whole milliseconds (Math.round(seconds x 1000)).
 *   A result carries the bucket START as its timestamp and the worst quality of its samples.
 * - A bucket closes when a sample of a later bucket arrives, or, for quiet inputs, by a timer: when
 *   the tag's estimated event time (its last timestamp plus the wall-clock time since it arrived)
 *   is past the bucket end by a grace of min(interval, 2 s).
 * - A sample for a bucket already closed is late: it is dropped and counted (the node shows the
 *   count in its status); samples inside the open bucket may arrive in any order.
 * - fill `previous`: an empty bucket between two others repeats the previous bucket's value and
 *   quality (sample-and-hold, right for report-by-exception input); for `count` and `sum` an empty
 *   bucket is 0. At most `maxFill` (1000) empty buckets are filled per gap; the rest of a longer gap
 *   is skipped. One message (or one timer tick) fills at most FILL_BUDGET (100,000) buckets, shared
 *   evenly by its tags (at least one each): a batch of 10,000 tags after a long outage would
 *   otherwise make 10 million samples at once. fill `none`: empty buckets give nothing.
 * - null (a failed reading) is not aggregated.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, worstQuality, type Quality, type Sample } from '../shared/sample';
import { CompensatedSum, DEFAULT_MAX_TAGS, TagTable, estimatedEventTime, evenShare } from './tag-table';

export const AGGREGATES = ['mean', 'min', 'max', 'last', 'sum', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/** Empty buckets filled for one message or one timer tick, all its tags together. */
export const FILL_BUDGET = 100_000;

export interface ResampleOptions {
  /** Seconds. */
  interval: number;
  aggregate: Aggregate;
  fill: 'none' | 'previous';
  maxFill?: number;
  /** Empty buckets one message (or timer tick) may fill, shared by its tags (FILL_BUDGET). */
  fillBudget?: number;
  maxTags?: number;
}

export interface ResampleSample extends Sample {
  /** True for an empty bucket given a value by fill `previous`. */
  filled?: boolean;
}

interface Bucket {
  /** Bucket index: the bucket is [k x interval, (k + 1) x interval). */
  k: number;
  n: number;
  sum: CompensatedSum;
  min: number;
  max: number;
  last: number;
  lastTs: number;
  q: Quality;
}

interface TagState {
  open: Bucket | null;
  /** Index of the first bucket that may still take samples (one after the last closed one). */
  closedUntil: number;
  prev: { value: number; q: Quality } | null;
  lastTs: number;
  lastArrival: number;
  unit?: string;
}

export class Resampler {
  private readonly tags: TagTable<TagState>;
  private readonly ms: number;
  private readonly maxFill: number;
  private readonly fillBudget: number;
  readonly graceMs: number;
  /** Late samples dropped since start. */
  late = 0;

  constructor(private readonly o: ResampleOptions) {
    if (typeof o.interval !== 'number' || !Number.isFinite(o.interval) || o.interval * 1000 < 1) {
      throw new ConfigError('interval must be a number of seconds, at least 0.001');
    }
    if (!(AGGREGATES as readonly string[]).includes(o.aggregate)) throw new ConfigError(`aggregate must be one of ${AGGREGATES.join(', ')}`);
    if (o.fill !== 'none' && o.fill !== 'previous') throw new ConfigError('fill must be "none" or "previous"');
    // Whole milliseconds: 16.1 s is 16100.000000000002 ms in binary, and bucket edges at multiples of
    // that drift off the instants (16.1 s x k) every other node cuts time at.
    this.ms = Math.round(o.interval * 1000);
    this.maxFill = o.maxFill ?? 1000;
    this.fillBudget = o.fillBudget ?? FILL_BUDGET;
    this.graceMs = Math.min(this.ms, 2000);
    this.tags = new TagTable<TagState>(
      () => ({ open: null, closedUntil: -Infinity, prev: null, lastTs: -Infinity, lastArrival: 0 }),
      o.maxTags ?? DEFAULT_MAX_TAGS,
    );
  }

  /** Index of the bucket that holds `ts`. */
  bucketOf(ts: number): number {
    return Math.floor(ts / this.ms);
  }

  /** Checks every sample first, so that a batch is taken whole or refused whole. */
  validate(samples: readonly Sample[]): void {
    if (samples.length === 1) {
      // One sample (the single form): the same checks without the Set a batch needs.
      const s = samples[0];
      if (s.value === null) return;
      numericValue(s);
      const max = this.o.maxTags ?? DEFAULT_MAX_TAGS;
      if (!this.tags.peek(s.tag) && this.tags.size + 1 > max) throw new InputError(`this message brings 1 new tags; a resample node keeps at most ${max}`);
      return;
    }
    const fresh = new Set<string>();
    for (const s of samples) {
      if (s.value === null) continue;
      numericValue(s);
      if (!this.tags.peek(s.tag)) fresh.add(s.tag);
    }
    const max = this.o.maxTags ?? DEFAULT_MAX_TAGS;
    if (this.tags.size + fresh.size > max) throw new InputError(`this message brings ${fresh.size} new tags; a resample node keeps at most ${max}`);
  }

  /** Adds samples; returns the buckets they close, in order. */
  push(samples: readonly Sample[], arrival: number): ResampleSample[] {
    this.validate(samples);
    const out: ResampleSample[] = [];
    const cap = this.fillCap(samples.length);
    for (const s of samples) {
      if (s.value === null) continue;
      const v = numericValue(s);
      const st = this.tags.get(s.tag);
      if (s.unit !== undefined) st.unit = s.unit;
      const k = this.bucketOf(s.ts);
      if (k < st.closedUntil || (st.open && k < st.open.k)) {
        this.late++;
        continue;
      }
      if (s.ts > st.lastTs) {
        st.lastTs = s.ts;
        st.lastArrival = arrival;
      }
      if (st.open && k > st.open.k) this.close(s.tag, st, out);
      if (!st.open) {
        this.fill(s.tag, st, k, out, cap);
        st.open = { k, n: 0, sum: new CompensatedSum(), min: Infinity, max: -Infinity, last: v, lastTs: -Infinity, q: 'good' };
      }
      const b = st.open;
      b.n++;
      b.sum.add(v);
      if (v < b.min) b.min = v;
      if (v > b.max) b.max = v;
      if (s.ts >= b.lastTs) {
        b.last = v;
        b.lastTs = s.ts;
      }
      b.q = worstQuality(b.q, s.quality);
    }
    return out;
  }

  /** Timer: closes (and with fill previous, fills) the buckets of quiet tags whose end has passed. */
  closeDue(now: number): ResampleSample[] {
    const out: ResampleSample[] = [];
    const cap = this.fillCap(this.tags.size);
    for (const [tag, st] of this.tags.entries()) {
      if (st.lastTs === -Infinity) continue;
      const horizon = estimatedEventTime(st.lastTs, st.lastArrival, now) - this.graceMs;
      // Buckets whose end is at or before the horizon are over; the first one not over:
      const firstOpen = Math.floor(horizon / this.ms);
      if (st.open && st.open.k < firstOpen) this.close(tag, st, out);
      if (!st.open) this.fill(tag, st, firstOpen, out, cap, true);
    }
    return out;
  }

  reset(tag?: string): void {
    this.tags.reset(tag);
  }

  get tagCount(): number {
    return this.tags.size;
  }

  private close(tag: string, st: TagState, out: ResampleSample[]): void {
    const b = st.open!;
    st.open = null;
    st.closedUntil = b.k + 1;
    const value = this.value(b);
    st.prev = { value, q: b.q };
    out.push(this.sample(tag, st, value, b.q, b.k));
  }

  /** Empty buckets each of `tags` tags may fill in one call: maxFill, less when the budget is shared by many. */
  private fillCap(tags: number): number {
    return evenShare(this.fillBudget, tags, this.maxFill);
  }

  /**
   * Closes the empty buckets before bucket `until`; with fill previous, emits them (at most `cap`
   * a call). From the timer (`byTimer`) a longer run continues on the next tick; from a sample, the
   * rest of a very long gap is skipped.
   */
  private fill(tag: string, st: TagState, until: number, out: ResampleSample[], cap: number, byTimer = false): void {
    if (this.o.fill !== 'previous' || st.prev === null || st.closedUntil === -Infinity) {
      if (!byTimer) st.closedUntil = Math.max(st.closedUntil, until);
      return;
    }
    const zero = this.o.aggregate === 'count' || this.o.aggregate === 'sum';
    let filled = 0;
    while (st.closedUntil < until) {
      if (filled >= cap) {
        if (!byTimer) st.closedUntil = until;
        break;
      }
      const r = this.sample(tag, st, zero ? 0 : st.prev.value, zero ? 'good' : st.prev.q, st.closedUntil);
      r.filled = true;
      out.push(r);
      filled++;
      st.closedUntil++;
    }
  }

  private value(b: Bucket): number {
    switch (this.o.aggregate) {
      case 'mean':
        return b.sum.value / b.n;
      case 'min':
        return b.min;
      case 'max':
        return b.max;
      case 'last':
        return b.last;
      case 'sum':
        return b.sum.value;
      case 'count':
        return b.n;
    }
  }

  private sample(tag: string, st: TagState, value: number, quality: Quality, k: number): ResampleSample {
    const s: ResampleSample = { tag, value, quality, ts: k * this.ms };
    if (st.unit !== undefined) s.unit = st.unit;
    return s;
  }
}
