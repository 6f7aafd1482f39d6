/**
 * Windowed statistics per tag (DESIGN.md section 7, plantwire-stats).
 *
 * Cost per sample, window of n samples:
 * - mean, sum, stddev, rms: O(1). Running sums of (x - K) and (x - K)^2 with Neumaier compensation,
 *   K a shift near the window mean, so values like 1e9 + small never cancel catastrophically. Every
 *   time the window has turned over once, K is moved to the window's value nearest its mean and the
 *   sums are recomputed from the window (O(n) every n samples: O(1) amortised); rounding never
 *   accumulates. K is one of the data's own values, not the mean itself, so that whole numbers keep
 *   whole deviations and their sum and mean come out exact (a shift of 9.67 gave a sum of six
 *   counts as 58.00000000000001).
 *   The same rebase runs early when the squared terms added and removed since the last one dwarf
 *   the window's own spread (a level shift that has just left the window), keeping stddev to about
 *   1e-10 relative.
 * - min, max: monotonic deques (rings of positions, no Array.shift), O(1) amortised; when the
 *   values are kept in order as well (median or p95 asked for), the ends of that order instead, and
 *   no deques (the order's cost is paid anyway; the deques were ~30 ns a sample more). Of equal
 *   extremes the deque gives the oldest, the order the newest of the maximum: they differ only
 *   in the sign of a zero (-0 and 0), never in value.
 * - median, p95: exact. Up to SORTED_VALUES_MAX samples the values are kept in a sorted typed array
 *   (sorted-values.ts: a binary search and a move of a few kB a sample, a rank one read); past
 *   that, in an order-statistics tree over the window (a treap with subtree sizes): O(log n)
 *   expected to insert, remove and find a rank, where the array's move would be up to 8 MB a sample
 *   for a window of a million. A window that grows past the limit moves to the tree.
 * - first, last, count: O(1).
 * The window is a ring of typed arrays (value, timestamp, quality): no object per sample. The deques
 * and the tree are kept only when a statistic that needs them is asked for: a mean alone is the
 * running sums and nothing else.
 * Quantiles use linear interpolation between closest ranks (Hyndman-Fan type 7, the default of
 * numpy and of spreadsheet PERCENTILE.INC): median of an even window is the mean of the middle two.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample } from '../shared/sample';
import { SORTED_VALUES_MAX, SortedValues } from './sorted-values';
import { DEFAULT_MAX_TAGS, TagTable, estimatedEventTime } from './tag-table';

export const STAT_NAMES = ['mean', 'min', 'max', 'sum', 'count', 'stddev', 'rms', 'range', 'median', 'p95', 'first', 'last'] as const;
export type StatName = (typeof STAT_NAMES)[number];
/** The statistics a stats node computes unless told otherwise (in STAT_NAMES order, as the dialog saves them). */
export const DEFAULT_STATS: readonly StatName[] = Object.freeze(['mean', 'min', 'max', 'count', 'stddev'] as StatName[]);

/**
 * How compute() builds a result: the default list and the full list (what "select all" gives) by
 * one object literal each, any other list property by property; StatsEngine hands it every list in
 * STAT_NAMES order, the order the dialog saves, so the default five saved from the dialog take the
 * literal too. An object built property by property past four properties (the room V8 gives an
 * empty literal) takes a second, out-of-object store and a shape change a property: in a flow that made the default five
 * statistics cost ~250 ns a sample more than the mean alone, the literal ~60 (bench/analytics,
 * 2026-11-26). The figures are the same either way.
 */
export const StatsLayout = { Listed: 0, Default: 1, All: 2 } as const;
export type StatsLayout = (typeof StatsLayout)[keyof typeof StatsLayout];

export function statsLayout(stats: readonly StatName[]): StatsLayout {
  const same = (list: readonly StatName[]) => list.length === stats.length && list.every((s, i) => stats[i] === s);
  return same(DEFAULT_STATS) ? StatsLayout.Default : same(STAT_NAMES) ? StatsLayout.All : StatsLayout.Listed;
}
/** Sample standard deviation (n - 1) from the sum of squared deviations; null below two values. */
function sampleSd(m2: number, n: number): number | null {
  return n < 2 ? null : Math.sqrt(m2 / (n - 1));
}

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
/**
 * Largest magnitude a stats node takes. The running sums square deviations: past about 1.3e154
 * a square overflows to Infinity, and the sums stay NaN or wrong after the value has left the
 * window. 1e150 leaves room for a million squares of (2 x 1e150) below Number.MAX_VALUE.
 */
export const MAX_MAGNITUDE = 1e150;

const GOOD = 0;
const UNCERTAIN = 1;
const BAD = 2;
const QUALITY_CODE: Record<Quality, number> = { good: GOOD, uncertain: UNCERTAIN, bad: BAD };
const NIL = -1;

/**
 * The twelve statistics as a plain object (its prototype is Object.prototype, as an object
 * literal's; the same keys in the same order), built by a constructor rather than a literal.
 * V8 tracks literals' allocation sites and, when most of their objects survive a young-generation
 * collection (as the payloads of a burst of messages in flight do), allocates all later ones in the
 * old generation ("pretenuring"), where these short-lived objects cost a full collection to free:
 * stats with all twelve statistics then ran at 0.53-0.61 of the pass-through instead of 0.76-0.80
 * (bench/analytics, 2 of 5 full runs and every run of it alone; node --no-allocation-site-pretenuring
 * gave 0.76-0.80 too). Made by this constructor, the same bench gave 0.76-0.79 in every run.
 */
function AllStats(
  this: StatsResult,
  mean: number,
  min: number,
  max: number,
  sum: number,
  count: number,
  stddev: number,
  rms: number,
  range: number,
  median: number | null,
  p95: number | null,
  first: number,
  last: number,
): void {
  this.mean = mean;
  this.min = min;
  this.max = max;
  this.sum = sum;
  this.count = count;
  this.stddev = stddev;
  this.rms = rms;
  this.range = range;
  this.median = median;
  this.p95 = p95;
  this.first = first;
  this.last = last;
}
AllStats.prototype = Object.prototype;

/** Quantile p of a sorted array, linear interpolation between closest ranks (type 7). */
export function quantileSorted(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  if (frac === 0 || lo + 1 >= sorted.length) return sorted[lo];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/**
 * A monotonic deque of ring positions (min or max of a sliding window), itself a ring of fixed
 * capacity: O(1) amortised per sample, no allocation (Array.shift would be O(n)).
 */
class ExtremeDeque {
  items: Int32Array;
  head = 0;
  length = 0;
  constructor(capacity: number) {
    this.items = new Int32Array(capacity);
  }
  front(): number {
    return this.items[this.head];
  }
  back(): number {
    return this.items[(this.head + this.length - 1) & (this.items.length - 1)];
  }
  push(pos: number): void {
    this.items[(this.head + this.length) & (this.items.length - 1)] = pos;
    this.length++;
  }
  popBack(): void {
    this.length--;
  }
  shift(): void {
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
  }
  clear(): void {
    this.head = 0;
    this.length = 0;
  }
  /** Re-expresses the positions after the window's ring was grown and unrolled (`map` old -> new). */
  regrow(capacity: number, map: (pos: number) => number): void {
    const items = new Int32Array(capacity);
    for (let i = 0; i < this.length; i++) items[i] = map(this.items[(this.head + i) & (this.items.length - 1)]);
    this.items = items;
    this.head = 0;
  }
}

/**
 * The window's values in sorted order, for median and p95: a treap (a binary search tree balanced
 * by random priorities) with subtree sizes, so that inserting, removing and finding the k-th
 * smallest are each O(log n) expected. A node is a ring position of the window; equal values are
 * ordered by arrival, so every key is distinct and the one removed is always the sample that leaves.
 * Exact: the k-th value is one of the window's own values.
 */
class OrderTree {
  private left: Int32Array;
  private right: Int32Array;
  private size: Int32Array;
  private prio: Int32Array;
  private key: Float64Array;
  /** Arrival number of the value at a position: the tie-break between equal values. */
  private arrival: Float64Array;
  private root = NIL;
  private arrivals = 0;
  private seed = 0x2545f491;

  constructor(capacity: number) {
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.size = new Int32Array(capacity);
    this.prio = new Int32Array(capacity);
    this.key = new Float64Array(capacity);
    this.arrival = new Float64Array(capacity);
  }

  clear(): void {
    this.root = NIL;
  }

  /** New, empty arrays of `capacity` (the caller inserts the window again, oldest first). */
  regrow(capacity: number): void {
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.size = new Int32Array(capacity);
    this.prio = new Int32Array(capacity);
    this.key = new Float64Array(capacity);
    this.arrival = new Float64Array(capacity);
    this.root = NIL;
  }

  insert(pos: number, v: number): void {
    // xorshift32: priorities need only be independent of the values, not unpredictable.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x;
    this.prio[pos] = x;
    this.left[pos] = NIL;
    this.right[pos] = NIL;
    this.size[pos] = 1;
    this.key[pos] = v;
    this.arrival[pos] = this.arrivals++;
    this.root = this.insertAt(this.root, pos);
  }

  remove(pos: number): void {
    this.root = this.removeAt(this.root, pos);
  }

  /** The k-th smallest value (0-based), k below the number of values held. */
  kth(k: number): number {
    const left = this.left;
    const size = this.size;
    let t = this.root;
    for (;;) {
      const l = left[t];
      const ls = l === NIL ? 0 : size[l];
      if (k < ls) t = l;
      else if (k === ls) return this.key[t];
      else {
        k -= ls + 1;
        t = this.right[t];
      }
    }
  }

  /** Quantile p of the n values held, type 7: the same arithmetic as quantileSorted. */
  quantile(n: number, p: number): number {
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const frac = h - lo;
    if (frac === 0 || lo + 1 >= n) return this.kth(lo);
    // Ranks lo and lo + 1 in one descent: the next value is the leftmost node of the right subtree
    // of rank lo's node, or else the last node the descent turned left at.
    const left = this.left;
    const size = this.size;
    let k = lo;
    let t = this.root;
    let next = NIL;
    for (;;) {
      const l = left[t];
      const ls = l === NIL ? 0 : size[l];
      if (k < ls) {
        next = t;
        t = l;
      } else if (k === ls) break;
      else {
        k -= ls + 1;
        t = this.right[t];
      }
    }
    let r = this.right[t];
    if (r !== NIL) {
      while (left[r] !== NIL) r = left[r];
      next = r;
    }
    const a = this.key[t];
    return a + frac * (this.key[next] - a);
  }

  /** Whether the key at `a` sorts before the key at `b`. */
  private before(a: number, b: number): boolean {
    const va = this.key[a];
    const vb = this.key[b];
    return va < vb || (va === vb && this.arrival[a] < this.arrival[b]);
  }

  private insertAt(t: number, pos: number): number {
    if (t === NIL) return pos;
    this.size[t]++;
    if (this.before(pos, t)) {
      const l = this.insertAt(this.left[t], pos);
      this.left[t] = l;
      if (this.prio[l] > this.prio[t]) return this.rotateRight(t);
    } else {
      const r = this.insertAt(this.right[t], pos);
      this.right[t] = r;
      if (this.prio[r] > this.prio[t]) return this.rotateLeft(t);
    }
    return t;
  }

  private removeAt(t: number, pos: number): number {
    if (t === pos) return this.merge(this.left[t], this.right[t]);
    this.size[t]--;
    if (this.before(pos, t)) this.left[t] = this.removeAt(this.left[t], pos);
    else this.right[t] = this.removeAt(this.right[t], pos);
    return t;
  }

  private merge(a: number, b: number): number {
    if (a === NIL) return b;
    if (b === NIL) return a;
    if (this.prio[a] > this.prio[b]) {
      this.right[a] = this.merge(this.right[a], b);
      this.resize(a);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b]);
    this.resize(b);
    return b;
  }

  private resize(t: number): void {
    const l = this.left[t];
    const r = this.right[t];
    this.size[t] = 1 + (l === NIL ? 0 : this.size[l]) + (r === NIL ? 0 : this.size[r]);
  }

  private rotateRight(t: number): number {
    const l = this.left[t];
    this.left[t] = this.right[l];
    this.right[l] = t;
    this.size[l] = this.size[t];
    this.resize(t);
    return l;
  }

  private rotateLeft(t: number): number {
    const r = this.right[t];
    this.right[t] = this.left[r];
    this.left[r] = t;
    this.size[r] = this.size[t];
    this.resize(t);
    return r;
  }
}

export interface RollingFeatures {
  /** Keep min and max (monotonic deques, or the ends of the order when that is kept): min, max, range. */
  extremes: boolean;
  /** Keep the values in order: median, p95. */
  order: boolean;
}

const ALL_FEATURES: RollingFeatures = { extremes: true, order: true };

/**
 * One tag's window: the running figures described at the top of this file, over a ring of typed
 * arrays (value, timestamp, quality) that grows by doubling and is never shifted.
 */
export class RollingWindow {
  private vals: Float64Array;
  private tss: Float64Array;
  private qs: Uint8Array;
  private mask: number;
  /** Ring position of the oldest sample. */
  private head = 0;
  private n = 0;
  private readonly minQ: ExtremeDeque | null;
  private readonly maxQ: ExtremeDeque | null;
  /** The values in order (median, p95), when asked for: one of these two, by the ring's size. */
  private order: OrderTree | null = null;
  private sortedValues: SortedValues | null = null;
  private shift = 0;
  // Two Neumaier compensated sums (see CompensatedSum), kept inline: s1 of (x - shift), s2 of its square.
  private s1 = 0;
  private c1 = 0;
  private s2 = 0;
  private c2 = 0;
  private removedSinceRebase = 0;
  /** Sum of every squared deviation added or removed since the last rebase: bounds the rounding in s2. */
  private mass = 0;
  private uncertain = 0;
  private bad = 0;

  /**
   * `features`: the running structures to keep (a boolean keeps the sorted order or not, and the
   * extremes always, as before); `capacity`: the samples expected (the ring grows past it).
   */
  constructor(features: RollingFeatures | boolean = ALL_FEATURES, capacity = 16) {
    const f = typeof features === 'boolean' ? { extremes: true, order: features } : features;
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.mask = cap - 1;
    this.vals = new Float64Array(cap);
    this.tss = new Float64Array(cap);
    this.qs = new Uint8Array(cap);
    // With the values in order, min and max are its ends: no deques.
    const deques = f.extremes && !f.order;
    this.minQ = deques ? new ExtremeDeque(cap) : null;
    this.maxQ = deques ? new ExtremeDeque(cap) : null;
    if (f.order) {
      if (cap <= SORTED_VALUES_MAX) this.sortedValues = new SortedValues(cap);
      else this.order = new OrderTree(cap);
    }
  }

  get count(): number {
    return this.n;
  }
  get oldestTs(): number | undefined {
    return this.n > 0 ? this.tss[this.head] : undefined;
  }
  get newestTs(): number | undefined {
    return this.n > 0 ? this.tss[(this.head + this.n - 1) & this.mask] : undefined;
  }

  /** Samples held with a timestamp after `cutoff` (binary search: timestamps are in order). For validation, not the per-sample path. */
  countNewerThan(cutoff: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tss[(this.head + mid) & this.mask] > cutoff) hi = mid;
      else lo = mid + 1;
    }
    return this.n - lo;
  }

  push(v: number, ts: number, q: Quality): void {
    if (this.n === 0) {
      this.shift = v;
      this.s1 = this.c1 = this.s2 = this.c2 = 0;
      this.removedSinceRebase = 0;
      this.mass = 0;
      this.head = 0;
    } else if (this.n > this.mask) this.grow();
    const pos = (this.head + this.n) & this.mask;
    this.vals[pos] = v;
    this.tss[pos] = ts;
    const qc = QUALITY_CODE[q];
    this.qs[pos] = qc;
    this.n++;
    const d = v - this.shift;
    this.add1(d);
    this.add2(d * d);
    this.mass += d * d;
    const minQ = this.minQ;
    if (minQ) {
      const maxQ = this.maxQ!;
      const vals = this.vals;
      while (minQ.length > 0 && vals[minQ.back()] > v) minQ.popBack();
      minQ.push(pos);
      while (maxQ.length > 0 && vals[maxQ.back()] < v) maxQ.popBack();
      maxQ.push(pos);
    }
    if (this.sortedValues) this.sortedValues.insert(v);
    else if (this.order) this.order.insert(pos, v);
    if (qc === BAD) this.bad++;
    else if (qc === UNCERTAIN) this.uncertain++;
  }

  /** Removes the oldest sample. */
  evict(): void {
    if (this.n === 0) return;
    const pos = this.head;
    const v = this.vals[pos];
    const d = v - this.shift;
    this.add1(-d);
    this.add2(-d * d);
    this.mass += d * d;
    if (this.minQ) {
      if (this.minQ.length > 0 && this.minQ.front() === pos) this.minQ.shift();
      if (this.maxQ!.length > 0 && this.maxQ!.front() === pos) this.maxQ!.shift();
    }
    if (this.sortedValues) this.sortedValues.remove(v);
    else if (this.order) this.order.remove(pos);
    const qc = this.qs[pos];
    if (qc === BAD) this.bad--;
    else if (qc === UNCERTAIN) this.uncertain--;
    this.head = (this.head + 1) & this.mask;
    this.n--;
    if (++this.removedSinceRebase >= this.n) this.rebase();
  }

  clear(): void {
    this.n = 0;
    this.head = 0;
    this.minQ?.clear();
    this.maxQ?.clear();
    this.order?.clear();
    this.sortedValues?.clear();
    this.s1 = this.c1 = this.s2 = this.c2 = 0;
    this.removedSinceRebase = 0;
    this.mass = 0;
    this.uncertain = 0;
    this.bad = 0;
  }

  /** Doubles the ring, unrolled so that the oldest sample is at position 0. */
  private grow(): void {
    const oldMask = this.mask;
    const head = this.head;
    const cap = (oldMask + 1) * 2;
    const vals = new Float64Array(cap);
    const tss = new Float64Array(cap);
    const qs = new Uint8Array(cap);
    for (let i = 0; i < this.n; i++) {
      const p = (head + i) & oldMask;
      vals[i] = this.vals[p];
      tss[i] = this.tss[p];
      qs[i] = this.qs[p];
    }
    const map = (pos: number): number => (pos - head) & oldMask;
    this.minQ?.regrow(cap, map);
    this.maxQ?.regrow(cap, map);
    this.vals = vals;
    this.tss = tss;
    this.qs = qs;
    this.mask = cap - 1;
    this.head = 0;
    // The sorted array holds values, not ring positions: it only needs room. Past its limit the
    // window moves to the tree, which is filled again oldest first, as the tree always is.
    if (this.sortedValues && cap > SORTED_VALUES_MAX) {
      this.sortedValues = null;
      this.order = new OrderTree(0);
    }
    if (this.sortedValues) this.sortedValues.grow(cap);
    else if (this.order) {
      this.order.regrow(cap);
      for (let i = 0; i < this.n; i++) this.order.insert(i, vals[i]);
    }
  }

  private add1(x: number): void {
    const s = this.s1;
    const t = s + x;
    if (Math.abs(s) >= Math.abs(x)) this.c1 += s - t + x;
    else this.c1 += x - t + s;
    this.s1 = t;
  }

  private add2(x: number): void {
    const s = this.s2;
    const t = s + x;
    if (Math.abs(s) >= Math.abs(x)) this.c2 += s - t + x;
    else this.c2 += x - t + s;
    this.s2 = t;
  }

  /**
   * Moves the shift to the window's value nearest its mean and recomputes the sums from the samples
   * themselves. Some value lies within the population standard deviation of the mean (else the
   * variance would be larger), so s2 is at most twice m2 and m2 = s2 - s1^2/n cancels little; and
   * a value of the data (not the mean, 9.666...) keeps the deviations of whole numbers whole, so
   * their sum, shift x n + s1, stays exact. The running mean is good enough to pick that value.
   */
  private rebase(): void {
    this.removedSinceRebase = 0;
    const n = this.n;
    if (n === 0) return;
    const vals = this.vals;
    const mean = this.mean();
    let shift = vals[this.head];
    let best = Math.abs(shift - mean);
    for (let i = 1; i < n; i++) {
      const v = vals[(this.head + i) & this.mask];
      const d = Math.abs(v - mean);
      if (d < best) {
        best = d;
        shift = v;
      }
    }
    this.shift = shift;
    this.s1 = this.c1 = this.s2 = this.c2 = 0;
    for (let i = 0; i < n; i++) {
      const d = this.vals[(this.head + i) & this.mask] - this.shift;
      this.add1(d);
      this.add2(d * d);
    }
    this.mass = this.s2 + this.c2;
  }

  /** Sum of squared deviations from the window mean. */
  private m2(): number {
    const n = this.n;
    const s1 = this.s1 + this.c1;
    return Math.max(0, this.s2 + this.c2 - (s1 * s1) / n);
  }

  /** The worst quality in the window: a bad sample taints every result until it leaves the window. */
  get quality(): Quality {
    return this.bad > 0 ? 'bad' : this.uncertain > 0 ? 'uncertain' : 'good';
  }

  /**
   * m2(), first starting afresh when it could be inaccurate: large terms added and removed since
   * the last rebase (a level shift that has left the window) leave rounding of about eps * mass in
   * s2; when that could exceed 1e-10 of m2, the sums are recomputed from the window.
   */
  private accurateM2(): number {
    const m2 = this.m2();
    if (this.mass > 1e6 * m2 && this.n > 1) {
      this.rebase();
      return this.m2();
    }
    return m2;
  }

  /** Mean of the values held (NaN when empty). */
  mean(): number {
    return this.shift + (this.s1 + this.c1) / this.n;
  }

  /** Sample standard deviation (n - 1) of the values held; NaN below two values. */
  sampleStddev(): number {
    return this.n < 2 ? NaN : Math.sqrt(this.accurateM2() / (this.n - 1));
  }

  /** The smallest value held (the window must keep its extremes or its order and hold a value). */
  private min(): number {
    if (this.minQ) return this.vals[this.minQ.front()];
    return this.sortedValues ? this.sortedValues.kth(0) : this.order!.kth(0);
  }

  /** The largest value held (as min). */
  private max(): number {
    if (this.maxQ) return this.vals[this.maxQ.front()];
    return this.sortedValues ? this.sortedValues.kth(this.n - 1) : this.order!.kth(this.n - 1);
  }

  /** Quantile p of the values held (type 7); the window must keep its order and hold a value. */
  private quantile(p: number): number {
    return this.sortedValues ? this.sortedValues.quantile(p) : this.order!.quantile(this.n, p);
  }

  /** The statistics of the window; `layout` must be statsLayout(stats). */
  compute(stats: readonly StatName[], layout: StatsLayout = StatsLayout.Listed): StatsResult {
    const n = this.n;
    if (n === 0) return {};
    const m2 = this.accurateM2();
    const s1 = this.s1 + this.c1;
    const mean = this.shift + s1 / n;
    if (layout === StatsLayout.Default) {
      return { mean, min: this.min(), max: this.max(), count: n, stddev: sampleSd(m2, n) };
    }
    if (layout === StatsLayout.All) {
      const min = this.min();
      const max = this.max();
      return new (AllStats as unknown as new (...a: Array<number | null>) => StatsResult)(
        mean,
        min,
        max,
        this.shift * n + s1,
        n,
        sampleSd(m2, n),
        Math.sqrt(mean * mean + m2 / n),
        max - min,
        this.quantile(0.5),
        this.quantile(0.95),
        this.vals[this.head],
        this.vals[(this.head + n - 1) & this.mask],
      );
    }
    // Made here, not above: the two layouts return their own object and allocate nothing else.
    const out: StatsResult = {};
    for (let i = 0; i < stats.length; i++) {
      switch (stats[i]) {
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
          out.min = this.min();
          break;
        case 'max':
          out.max = this.max();
          break;
        case 'range':
          out.range = this.max() - this.min();
          break;
        case 'stddev':
          out.stddev = sampleSd(m2, n);
          break;
        case 'rms':
          out.rms = Math.sqrt(mean * mean + m2 / n);
          break;
        case 'median':
          out.median = this.quantile(0.5);
          break;
        case 'p95':
          out.p95 = this.quantile(0.95);
          break;
        case 'first':
          out.first = this.vals[this.head];
          break;
        case 'last':
          out.last = this.vals[(this.head + n - 1) & this.mask];
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
  /**
   * Tumbling time window: index of the open window (floor(ts / size)); with the window empty, of
   * the last one closed (by the timer): readings for it or earlier ones are late.
   */
  slot: number;
  unit?: string;
}

/** The statistics engine for all tags of one node. */
export class StatsEngine {
  private readonly tags: TagTable<TagWindow>;
  private readonly sizeMs: number;
  private readonly maxSamples: number;
  private readonly features: RollingFeatures;
  private readonly maxTags: number;
  private readonly layout: StatsLayout;
  /** The statistics asked for, once each, in STAT_NAMES order. */
  readonly statistics: readonly StatName[];
  /** pushOne's result record, reused: one object less per message. */
  private readonly one: StatsSample = { tag: '', value: {}, quality: 'good', ts: 0, unit: undefined };
  /** Late readings dropped since start (tumbling time windows: their window was already sent). */
  late = 0;

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
    // Results list their statistics in STAT_NAMES order (the dialog's), whatever the order or
    // repeats of the list: a dialog-saved default list then takes the default's one-literal build.
    this.statistics = STAT_NAMES.filter((s) => o.stats.includes(s));
    this.layout = statsLayout(this.statistics);
    // Whole milliseconds: 16.1 s is 16100.000000000002 ms in binary, and window edges at multiples
    // of that drift off the instants every other node cuts time at.
    this.sizeMs = Math.round(o.size * 1000);
    this.maxSamples = o.maxSamples ?? DEFAULT_MAX_SAMPLES;
    // Only what the statistics asked for is kept: a mean alone pays for no deque and no order tree.
    this.features = {
      extremes: o.stats.includes('min') || o.stats.includes('max') || o.stats.includes('range'),
      order: o.stats.includes('median') || o.stats.includes('p95'),
    };
    this.maxTags = o.maxTags ?? DEFAULT_MAX_TAGS;
    this.tags = new TagTable<TagWindow>(
      // Every window starts small and doubles as its samples arrive: memory follows the samples
      // held, and one batch of many new tags cannot claim each one's whole window at once.
      () => ({ window: new RollingWindow(this.features), lastTs: -Infinity, lastArrival: 0, slot: NaN }),
      this.maxTags,
    );
  }

  /**
   * Checks samples before any state changes, so a batch is taken whole or refused whole.
   * Throws InputError for text values, values beyond MAX_MAGNITUDE, timestamps older than the
   * tag's newest, too many tags, or a time window with no room left (maxSamples).
   */
  validate(samples: readonly Sample[]): void {
    if (samples.length === 1) {
      // One sample (the single form): the same checks without the bookkeeping a batch needs.
      const s = samples[0];
      if (s.value === null) return;
      this.checkOne(s.tag, numericValue(s), s.ts);
      return;
    }
    const newest = new Map<string, number>();
    // Samples of a tag seen earlier in this batch, past the first: made only when a tag repeats.
    let repeats: Map<string, number> | undefined;
    let fresh = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      if (s.value === null) continue;
      this.checkMagnitude(s.tag, numericValue(s));
      const st = this.tags.peek(s.tag);
      const before = newest.get(s.tag);
      const prev = before ?? st?.lastTs ?? -Infinity;
      if (s.ts < prev) {
        throw new InputError(`tag "${s.tag}": timestamp ${s.ts} is older than the previous sample (${prev}); samples must arrive in time order`);
      }
      let earlier = 0;
      if (before === undefined) {
        if (!st) fresh++;
      } else {
        repeats ??= new Map<string, number>();
        earlier = repeats.get(s.tag) ?? 1;
        repeats.set(s.tag, earlier + 1);
      }
      // The window holds at most what it holds now plus this batch's earlier samples: only near
      // maxSamples is it worth working out what it would hold.
      if ((st === undefined ? 0 : st.window.count) + earlier >= this.maxSamples && this.o.window === 'time') this.checkRoom(s.tag, st, s.ts, samples, i);
      newest.set(s.tag, s.ts);
    }
    if (fresh > 0 && this.tags.size + fresh > this.maxTags) {
      throw new InputError(`this message brings ${fresh} new tags; a stats node keeps at most ${this.maxTags}`);
    }
  }

  /** validate for one numeric sample: a value the sums can square, in time order, room for its tag and in its window. */
  private checkOne(tag: string, v: number, ts: number): void {
    this.checkMagnitude(tag, v);
    const st = this.tags.peek(tag);
    const prev = st?.lastTs ?? -Infinity;
    if (ts < prev) {
      throw new InputError(`tag "${tag}": timestamp ${ts} is older than the previous sample (${prev}); samples must arrive in time order`);
    }
    if (!st) {
      if (this.tags.size + 1 > this.maxTags) throw new InputError(`this message brings 1 new tags; a stats node keeps at most ${this.maxTags}`);
    } else if (st.window.count >= this.maxSamples && this.o.window === 'time') this.checkRoom(tag, st, ts, undefined, 0);
  }

  private checkMagnitude(tag: string, v: number): void {
    if (Math.abs(v) > MAX_MAGNITUDE) {
      throw new InputError(`tag "${tag}": value ${v} is beyond ±1e150; a stats node squares its values and those squares would overflow`);
    }
  }

  /**
   * Refuses a sample that `tag`'s time window has no room for: the samples it would hold when the
   * sample is added (after the evictions, or the close of a tumbling window, the sample brings),
   * counting the samples of the tag in `batch` before index `upTo`. Checked in validation, not in
   * add(), so that a refused message changes nothing (no evictions, no earlier samples of the batch).
   */
  private checkRoom(tag: string, st: TagWindow | undefined, ts: number, batch: readonly Sample[] | undefined, upTo: number): void {
    const sliding = this.o.emit === 'sample';
    const cutoff = ts - this.sizeMs;
    const slot = Math.floor(ts / this.sizeMs);
    let held = 0;
    if (st !== undefined) {
      const w = st.window;
      if (sliding) held = w.countNewerThan(cutoff);
      else if (w.count > 0) held = slot === st.slot ? w.count : 0;
      else if (slot <= st.slot) return; // late: dropped, not added
    }
    if (batch !== undefined) {
      // The tag's earlier samples of the batch are in time order: back from this one to the first
      // that leaves the window (or opens an earlier tumbling one).
      for (let i = upTo - 1; i >= 0 && held < this.maxSamples; i--) {
        const s = batch[i];
        if (s.tag !== tag || s.value === null) continue;
        if (sliding ? s.ts <= cutoff : Math.floor(s.ts / this.sizeMs) !== slot) break;
        held++;
      }
    }
    if (held >= this.maxSamples) {
      throw new InputError(`tag "${tag}": the time window already holds ${this.maxSamples} samples; use a shorter window or a count window`);
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
      const r = this.add(s.tag, numericValue(s), s.quality, s.ts, s.unit, arrival, undefined);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /**
   * push for one numeric sample (a single-form message), without the arrays and objects around
   * it: its result, or undefined when it gives none (one sample gives at most one: a tumbling
   * window closes before the sample opens the next). The result is a record reused by the next
   * call: read it before pushing again. Its `value` is a new object every time.
   */
  pushOne(tag: string, value: number, quality: Quality, ts: number, unit: string | undefined, arrival: number): StatsSample | undefined {
    this.checkOne(tag, value, ts);
    return this.add(tag, value, quality, ts, unit, arrival, this.one);
  }

  /**
   * Adds one validated value to its tag's window; returns the result it produces, if any (written
   * into `into` when given, else a new object).
   */
  private add(tag: string, v: number, quality: Quality, ts: number, unit: string | undefined, arrival: number, into: StatsSample | undefined): StatsSample | undefined {
    const st = this.tags.get(tag);
    st.lastTs = ts;
    st.lastArrival = arrival;
    if (unit !== undefined) st.unit = unit;
    const w = st.window;
    if (this.o.emit === 'sample') {
      if (this.o.window === 'count') {
        if (w.count >= this.o.size) w.evict();
      } else {
        while (w.count > 0 && w.oldestTs! <= ts - this.sizeMs) w.evict();
      }
      w.push(v, ts, quality);
      return this.result(tag, st, ts, into);
    }
    if (this.o.window === 'count') {
      w.push(v, ts, quality);
      if (w.count < this.o.size) return undefined;
      const r = this.result(tag, st, ts, into);
      w.clear();
      return r;
    }
    const slot = Math.floor(ts / this.sizeMs);
    let r: StatsSample | undefined;
    if (w.count === 0) {
      // The timer has sent this window (or a later one, then this reading is later still): a
      // second, partial result for it would be wrong, so the reading is dropped and counted, as
      // the resample node drops late samples.
      if (slot <= st.slot) {
        this.late++;
        return undefined;
      }
    } else if (slot !== st.slot) {
      r = this.result(tag, st, w.newestTs!, into);
      w.clear();
    }
    st.slot = slot;
    w.push(v, ts, quality);
    return r;
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

  /** The figures of `tag`'s window as a result at `ts`: written into `into` when given, else a new object. */
  private result(tag: string, st: TagWindow, ts: number, into?: StatsSample): StatsSample {
    const value = st.window.compute(this.statistics, this.layout);
    if (into === undefined) {
      const r: StatsSample = { tag, value, quality: st.window.quality, ts };
      if (st.unit !== undefined) r.unit = st.unit;
      return r;
    }
    into.tag = tag;
    into.value = value;
    into.quality = st.window.quality;
    into.ts = ts;
    into.unit = st.unit;
    return into;
  }
}
