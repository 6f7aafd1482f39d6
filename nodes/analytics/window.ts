/**
 * Windowed statistics per tag (DESIGN.md section 7, plantwire-stats).
 *
 * Cost per sample, window of n samples:
 * - mean, sum, stddev, rms: O(1). Running sums of (x - K) and (x - K)^2 with Neumaier compensation,
 *   K a shift near the window mean, so values like 1e9 + small never cancel catastrophically. Every
 *   time the window has turned over once, K is moved to the current mean and the sums are
 *   recomputed from the window (O(n) every n samples: O(1) amortised); rounding never accumulates.
 *   The same rebase runs early when the squared terms added and removed since the last one dwarf
 *   the window's own spread (a level shift that has just left the window), keeping stddev to about
 *   1e-10 relative.
 * - min, max: monotonic deques, O(1) amortised.
 * - median, p95: exact, from a sorted copy of the window kept with binary-search insert and remove:
 *   O(log n) comparisons plus an O(n) array shift (a memmove; about 1 microsecond for n = 1000).
 *   The sorted copy is kept only when one of the two is asked for.
 * - first, last, count: O(1).
 * Quantiles use linear interpolation between closest ranks (Hyndman-Fan type 7, the default of
 * numpy and of spreadsheet PERCENTILE.INC): median of an even window is the mean of the middle two.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample } from '../shared/sample';
import { CompensatedSum, DEFAULT_MAX_TAGS, TagTable, estimatedEventTime } from './tag-table';

export const STAT_NAMES = ['mean', 'min', 'max', 'sum', 'count', 'stddev', 'rms', 'range', 'median', 'p95', 'first', 'last'] as const;
export type StatName = (typeof STAT_NAMES)[number];
/** One figure per requested statistic; `stddev` is null while the window holds fewer than two samples. */
export type StatsResult = Partial<Record<StatName, number | null>>;

export interface StatsSample extends Omit<Sample, 'value'> {
  value: StatsResult;
}

export interface WindowOptions {
  window: 'count' | 'time';
  /** Samples (count window) or seconds (time window). */
  size: number;
  /** `sample`: sliding window, one result per sample; `window`: tumbling window, one result per window. */
  emit: 'sample' | 'window';
  stats: readonly StatName[];
  /** Largest number of samples a time window may hold per tag (memory bound). */
  maxSamples?: number;
  maxTags?: number;
}

export const MAX_COUNT_WINDOW = 1_000_000;
export const DEFAULT_MAX_SAMPLES = 100_000;

interface Entry {
  v: number;
  ts: number;
  q: Quality;
  seq: number;
}

/** A FIFO with O(1) push, shift and access to both ends. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  front(): T | undefined {
    return this.items[this.head];
  }
  back(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const x = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  popBack(): T | undefined {
    return this.length > 0 ? this.items.pop() : undefined;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i];
  }
}

/** Index of the first element of `a` not less than `x`. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Quantile p of a sorted array, linear interpolation between closest ranks (type 7). */
export function quantileSorted(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  if (frac === 0 || lo + 1 >= sorted.length) return sorted[lo];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/** One tag's window: the O(1) running figures described at the top of this file. */
export class RollingWindow {
  private readonly entries = new Fifo<Entry>();
  private readonly minQ = new Fifo<Entry>();
  private readonly maxQ = new Fifo<Entry>();
  private readonly sorted: number[] | null;
  private shift = 0;
  private readonly s1 = new CompensatedSum();
  private readonly s2 = new CompensatedSum();
  private seq = 0;
  private removedSinceRebase = 0;
  /** Sum of every squared deviation added or removed since the last rebase: bounds the rounding in s2. */
  private mass = 0;
  private uncertain = 0;
  private bad = 0;

  constructor(keepSorted: boolean) {
    this.sorted = keepSorted ? [] : null;
  }

  get count(): number {
    return this.entries.length;
  }
  get oldestTs(): number | undefined {
    return this.entries.front()?.ts;
  }
  get newestTs(): number | undefined {
    return this.entries.back()?.ts;
  }

  push(v: number, ts: number, q: Quality): void {
    if (this.entries.length === 0) {
      this.shift = v;
      this.s1.clear();
      this.s2.clear();
      this.removedSinceRebase = 0;
      this.mass = 0;
    }
    const e: Entry = { v, ts, q, seq: this.seq++ };
    this.entries.push(e);
    const d = v - this.shift;
    this.s1.add(d);
    this.s2.add(d * d);
    this.mass += d * d;
    while ((this.minQ.back()?.v ?? -Infinity) > v) this.minQ.popBack();
    this.minQ.push(e);
    while ((this.maxQ.back()?.v ?? Infinity) < v) this.maxQ.popBack();
    this.maxQ.push(e);
    if (this.sorted) this.sorted.splice(lowerBound(this.sorted, v), 0, v);
    if (q === 'bad') this.bad++;
    else if (q === 'uncertain') this.uncertain++;
  }

  /** Removes the oldest sample. */
  evict(): void {
    const e = this.entries.shift();
    if (!e) return;
    const d = e.v - this.shift;
    this.s1.add(-d);
    this.s2.add(-d * d);
    this.mass += d * d;
    if (this.minQ.front() === e) this.minQ.shift();
    if (this.maxQ.front() === e) this.maxQ.shift();
    if (this.sorted) this.sorted.splice(lowerBound(this.sorted, e.v), 1);
    if (e.q === 'bad') this.bad--;
    else if (e.q === 'uncertain') this.uncertain--;
    if (++this.removedSinceRebase >= this.entries.length) this.rebase();
  }

  clear(): void {
    this.entries.clear();
    this.minQ.clear();
    this.maxQ.clear();
    if (this.sorted) this.sorted.length = 0;
    this.s1.clear();
    this.s2.clear();
    this.removedSinceRebase = 0;
    this.mass = 0;
    this.uncertain = 0;
    this.bad = 0;
  }

  /** Moves the shift to the window mean and recomputes the sums from the samples themselves. */
  private rebase(): void {
    this.removedSinceRebase = 0;
    const n = this.entries.length;
    if (n === 0) return;
    const sum = new CompensatedSum();
    for (const e of this.entries) sum.add(e.v);
    this.shift = sum.value / n;
    this.s1.clear();
    this.s2.clear();
    for (const e of this.entries) {
      const d = e.v - this.shift;
      this.s1.add(d);
      this.s2.add(d * d);
    }
    this.mass = this.s2.value;
  }

  /** Sum of squared deviations from the window mean. */
  private m2(): number {
    const n = this.entries.length;
    const s1 = this.s1.value;
    return Math.max(0, this.s2.value - (s1 * s1) / n);
  }

  /** The worst quality in the window: a bad sample taints every result until it leaves the window. */
  get quality(): Quality {
    return this.bad > 0 ? 'bad' : this.uncertain > 0 ? 'uncertain' : 'good';
  }

  compute(stats: readonly StatName[]): StatsResult {
    const n = this.entries.length;
    const out: StatsResult = {};
    if (n === 0) return out;
    let m2 = this.m2();
    // Large terms added and removed since the last rebase (a level shift that has left the window)
    // leave rounding of about eps * mass in s2; when that could exceed 1e-10 of m2, start afresh.
    if (this.mass > 1e6 * m2 && n > 1) {
      this.rebase();
      m2 = this.m2();
    }
    const s1 = this.s1.value;
    const mean = this.shift + s1 / n;
    for (const name of stats) {
      switch (name) {
        case 'mean':
          out.mean = mean;
          break;
        case 'sum':
          out.sum = this.shift * n + s1;
          break;
        case 'count':
          out.count = n;
          break;
        case 'min':
          out.min = this.minQ.front()!.v;
          break;
        case 'max':
          out.max = this.maxQ.front()!.v;
          break;
        case 'range':
          out.range = this.maxQ.front()!.v - this.minQ.front()!.v;
          break;
        case 'stddev':
          out.stddev = n < 2 ? null : Math.sqrt(m2 / (n - 1));
          break;
        case 'rms':
          out.rms = Math.sqrt(mean * mean + m2 / n);
          break;
        case 'median':
          out.median = quantileSorted(this.sorted!, 0.5);
          break;
        case 'p95':
          out.p95 = quantileSorted(this.sorted!, 0.95);
          break;
        case 'first':
          out.first = this.entries.front()!.v;
          break;
        case 'last':
          out.last = this.entries.back()!.v;
          break;
      }
    }
    return out;
  }
}

interface TagWindow {
  window: RollingWindow;
  /** Newest timestamp seen for the tag: older samples are refused. */
  lastTs: number;
  lastArrival: number;
  /** Tumbling time window: index of the open window (floor(ts / size)). */
  slot: number;
  unit?: string;
}

/** The statistics engine for all tags of one node. */
export class StatsEngine {
  private readonly tags: TagTable<TagWindow>;
  private readonly sizeMs: number;
  private readonly maxSamples: number;
  private readonly keepSorted: boolean;

  constructor(private readonly o: WindowOptions) {
    if (o.window !== 'count' && o.window !== 'time') throw new ConfigError('window must be "count" or "time"');
    if (o.emit !== 'sample' && o.emit !== 'window') throw new ConfigError('emit must be "sample" or "window"');
    if (typeof o.size !== 'number' || !Number.isFinite(o.size) || o.size <= 0) throw new ConfigError('size must be a number above 0');
    if (o.window === 'count' && (!Number.isInteger(o.size) || o.size > MAX_COUNT_WINDOW)) {
      throw new ConfigError(`size of a count window must be a whole number of samples, 1 to ${MAX_COUNT_WINDOW}`);
    }
    if (o.window === 'time' && o.size * 1000 < 1) throw new ConfigError('size of a time window must be at least 0.001 s');
    if (!Array.isArray(o.stats) || o.stats.length === 0) throw new ConfigError('choose at least one statistic');
    for (const s of o.stats) {
      if (!(STAT_NAMES as readonly string[]).includes(s)) throw new ConfigError(`unknown statistic "${String(s)}"; use ${STAT_NAMES.join(', ')}`);
    }
    this.sizeMs = o.size * 1000;
    this.maxSamples = o.maxSamples ?? DEFAULT_MAX_SAMPLES;
    this.keepSorted = o.stats.includes('median') || o.stats.includes('p95');
    this.tags = new TagTable<TagWindow>(
      () => ({ window: new RollingWindow(this.keepSorted), lastTs: -Infinity, lastArrival: 0, slot: NaN }),
      o.maxTags ?? DEFAULT_MAX_TAGS,
    );
  }

  /**
   * Checks samples before any state changes, so a batch is taken whole or refused whole.
   * Throws InputError for text values, timestamps older than the tag's newest, or too many tags.
   */
  validate(samples: readonly Sample[]): void {
    const newest = new Map<string, number>();
    let fresh = 0;
    for (const s of samples) {
      if (s.value === null) continue;
      numericValue(s);
      const prev = newest.get(s.tag) ?? this.tags.peek(s.tag)?.lastTs ?? -Infinity;
      if (s.ts < prev) {
        throw new InputError(`tag "${s.tag}": timestamp ${s.ts} is older than the previous sample (${prev}); samples must arrive in time order`);
      }
      if (!newest.has(s.tag) && !this.tags.peek(s.tag)) fresh++;
      newest.set(s.tag, s.ts);
    }
    if (fresh > 0 && this.tags.size + fresh > (this.o.maxTags ?? DEFAULT_MAX_TAGS)) {
      throw new InputError(`this message brings ${fresh} new tags; a stats node keeps at most ${this.o.maxTags ?? DEFAULT_MAX_TAGS}`);
    }
  }

  /**
   * Adds samples (validated first) and returns the results they produce: one per numeric sample
   * with a sliding window, one per closed window with a tumbling window. A null value (a failed
   * reading) is not added to the window and produces nothing.
   */
  push(samples: readonly Sample[], arrival: number): StatsSample[] {
    this.validate(samples);
    const out: StatsSample[] = [];
    for (const s of samples) {
      if (s.value === null) continue;
      const v = numericValue(s);
      const st = this.tags.get(s.tag);
      st.lastTs = s.ts;
      st.lastArrival = arrival;
      if (s.unit !== undefined) st.unit = s.unit;
      const w = st.window;
      if (this.o.emit === 'sample') {
        if (this.o.window === 'count') {
          if (w.count >= this.o.size) w.evict();
        } else {
          while (w.count > 0 && w.oldestTs! <= s.ts - this.sizeMs) w.evict();
          this.checkCapacity(s.tag, w);
        }
        w.push(v, s.ts, s.quality);
        out.push(this.result(s.tag, st, s.ts));
      } else if (this.o.window === 'count') {
        w.push(v, s.ts, s.quality);
        if (w.count >= this.o.size) {
          out.push(this.result(s.tag, st, s.ts));
          w.clear();
        }
      } else {
        const slot = Math.floor(s.ts / this.sizeMs);
        if (w.count > 0 && slot !== st.slot) {
          out.push(this.result(s.tag, st, w.newestTs!));
          w.clear();
        }
        st.slot = slot;
        this.checkCapacity(s.tag, w);
        w.push(v, s.ts, s.quality);
      }
    }
    return out;
  }

  /**
   * Tumbling time windows of quiet tags: closes every window whose end has passed, in the tag's
   * estimated event time, by `grace` ms. Called by the node's timer; other modes return nothing.
   */
  closeDue(now: number, graceMs = Math.min(this.sizeMs, 2000)): StatsSample[] {
    if (this.o.emit !== 'window' || this.o.window !== 'time') return [];
    const out: StatsSample[] = [];
    for (const [tag, st] of this.tags.entries()) {
      if (st.window.count === 0) continue;
      const end = (st.slot + 1) * this.sizeMs;
      if (estimatedEventTime(st.lastTs, st.lastArrival, now) >= end + graceMs) {
        out.push(this.result(tag, st, st.window.newestTs!));
        st.window.clear();
      }
    }
    return out;
  }

  reset(tag?: string): void {
    this.tags.reset(tag);
  }

  get tagCount(): number {
    return this.tags.size;
  }

  private checkCapacity(tag: string, w: RollingWindow): void {
    if (w.count >= this.maxSamples) {
      throw new InputError(`tag "${tag}": the time window already holds ${this.maxSamples} samples; use a shorter window or a count window`);
    }
  }

  private result(tag: string, st: TagWindow, ts: number): StatsSample {
    const r: StatsSample = { tag, value: st.window.compute(this.o.stats), quality: st.window.quality, ts };
    if (st.unit !== undefined) r.unit = st.unit;
    return r;
  }
}
