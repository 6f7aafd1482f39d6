/**
 * Anomaly detectors, one per tag: z-score over a sliding window, an EWMA control chart, and a
 * robust median/MAD score. Each scores a value against what came *before* it, so a spike cannot
 * hide itself by moving its own baseline.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample } from '../shared/sample';
import { FutureCheck, formatTime } from './event-clock';
import { CompensatedSum } from './tag-table';
import { SortedValues } from './sorted-values';
import { RollingWindow, type RollingFeatures } from './window';

export const ANOMALY_METHODS = ['zscore', 'ewma', 'mad'] as const;
export type AnomalyMethod = (typeof ANOMALY_METHODS)[number];

export interface AnomalyOptions {
  method: AnomalyMethod;
  /** Samples in the sliding window (zscore, mad); for ewma the span, lambda = 2 / (window + 1). */
  window: number;
  /** |score| above this is an anomaly (standard deviations; the control limit L for ewma). */
  threshold: number;
  /** Samples learned before any is judged. */
  warmup: number;
}

export interface AnomalyResult {
  tag: string;
  value: number | null;
  /** Deviation in units of spread; null while warming up or for a bad sample. */
  score: number | null;
  anomaly: boolean;
  /** What the value was compared with: window mean, window median, or the EWMA centre line. */
  baseline: number | null;
  warmingUp: boolean;
  /** Samples still to learn before judging starts (0 once warm). */
  warmupLeft: number;
  quality: Quality;
  ts: number;
}

/** Consistency constant: 1.4826 x MAD estimates the standard deviation of normal data. */
export const MAD_SCALE = 1.4826;
/** Consistency constant for the mean absolute deviation: sqrt(pi / 2) x MeanAD estimates it too. */
export const MEAN_AD_SCALE = 1.253314;
export const MAX_WINDOW = 10_000;
export const MAX_TAGS = 10_000;
/** Largest |value| scored: squares of larger values overflow double precision and would turn scores into NaN. */
export const MAX_MAGNITUDE = 1e100;
/** Smallest spread used, relative to the baseline, so that a flat history gives a finite score. */
export const MIN_RELATIVE_SPREAD = 1e-9;

const MIN_HISTORY: Record<AnomalyMethod, number> = { zscore: 2, ewma: 2, mad: 3 };

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1), two-pass for accuracy. */
export function stddev(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

function scoreOf(x: number, baseline: number, spread: number): number {
  if (x === baseline) return 0;
  return (x - baseline) / Math.max(spread, MIN_RELATIVE_SPREAD * Math.max(1, Math.abs(baseline)));
}

interface Detector {
  /** Scores x against the history (null when there is too little), then learns it. */
  update(x: number): { score: number | null; baseline: number | null };
  baseline(): number | null;
}

/** Median of the n values of `w`: the middle one, or the mean of the middle two. */
function medianOf(w: Ranked, n: number): number {
  const mid = n >> 1;
  return n % 2 ? w.kth(mid) : (w.kth(mid - 1) + w.kth(mid)) / 2;
}

/** A window's values by rank. */
interface Ranked {
  kth(k: number): number;
}

/**
 * The median absolute deviation of a window's values from their median, without listing the
 * deviations. Below the median (ranks 0..split) the deviations grow downwards, above it (ranks
 * split+1..n-1) upwards: two sorted runs A and B, each value read by rank.
 * The k-th smallest of the two runs takes some i from A and k + 1 - i from B: i is the first
 * where A[i] is not below B[k - i]. That i moves little from one sample to the next, so the search
 * starts where the last one ended and gallops out from there (O(log n) reads at worst, a few as a
 * rule), where sorting the deviations was O(n log n) a sample.
 */
class MadFinder {
  private w!: Ranked;
  private med = 0;
  private split = 0;
  /** Where the last search ended: the next one starts there. */
  private guess = 0;

  mad(w: Ranked, n: number, med: number): number {
    this.w = w;
    this.med = med;
    this.split = (n - 1) >> 1;
    const sizeA = this.split + 1;
    const sizeB = n - sizeA;
    const mid = n >> 1;
    // Odd n: the mid-th smallest deviation. Even n: the mean of the (mid-1)-th and the mid-th,
    // the second one the smaller of the next value of either run.
    const k = n % 2 ? mid : mid - 1;
    const lo = Math.max(0, k + 1 - sizeB);
    const hi = Math.min(k + 1, sizeA);
    const i = this.firstNotBelow(k, lo, hi, Math.min(hi, Math.max(lo, this.guess)));
    this.guess = i;
    const j = k + 1 - i;
    const kth = Math.max(i > 0 ? this.a(i - 1) : -Infinity, j > 0 ? this.b(j - 1) : -Infinity);
    if (n % 2) return kth;
    const next = Math.min(i < sizeA ? this.a(i) : Infinity, j < sizeB ? this.b(j) : Infinity);
    return (kth + next) / 2;
  }

  /** The a-th smallest deviation below the median. */
  private a(i: number): number {
    return this.med - this.w.kth(this.split - i);
  }

  /** The b-th smallest deviation above the median. */
  private b(j: number): number {
    return this.w.kth(this.split + 1 + j) - this.med;
  }

  /** Whether taking i from A is too few for the k-th smallest: A[i] below B[k - i]. */
  private tooFew(k: number, i: number): boolean {
    return this.a(i) < this.b(k - i);
  }

  /** The first i in [lo, hi) that is not too few (or hi), searched outwards from `from`. */
  private firstNotBelow(k: number, lo: number, hi: number, from: number): number {
    let low = lo;
    let high = hi;
    if (from < hi && this.tooFew(k, from)) {
      low = from + 1;
      for (let step = 1; low + step - 1 < hi; step *= 2) {
        const t = low + step - 1;
        if (!this.tooFew(k, t)) {
          high = t;
          break;
        }
        low = t + 1;
      }
    } else {
      high = from;
      for (let step = 1; high - step >= lo; step *= 2) {
        const t = high - step;
        if (this.tooFew(k, t)) {
          low = t + 1;
          break;
        }
        high = t;
      }
    }
    while (low < high) {
      const m = (low + high) >> 1;
      if (this.tooFew(k, m)) low = m + 1;
      else high = m;
    }
    return low;
  }
}

/** What a detector's window does: take a value, let the oldest go. */
interface SlidingValues {
  readonly count: number;
  push(x: number, ts: number, q: Quality): void;
  evict(): void;
}

/** Room a window's arrays start with; they double as values arrive, up to the window's size. */
const INITIAL_CAPACITY = 16;

/**
 * The last `size` values in arrival order (a ring) and in value order (SortedValues), for the
 * median and the MAD.
 */
class SortedWindow implements SlidingValues, Ranked {
  /** The values in arrival order: a ring that starts small and grows to `size` with the values. */
  private ring: Float64Array;
  private readonly values: SortedValues;
  private head = 0;
  private n = 0;

  constructor(private readonly size: number) {
    const start = Math.min(size, INITIAL_CAPACITY);
    this.ring = new Float64Array(start);
    this.values = new SortedValues(start);
  }

  get count(): number {
    return this.n;
  }

  kth(k: number): number {
    return this.values.kth(k);
  }

  /** Adds x; the window must have room (evict first). */
  push(x: number): void {
    this.values.insert(x);
    if (this.n === this.ring.length) this.grow();
    this.ring[(this.head + this.n) % this.ring.length] = x;
    this.n++;
  }

  /** Removes the oldest value (moved out of the order together with the next push). */
  evict(): void {
    if (this.n === 0) return;
    this.values.remove(this.ring[this.head]);
    this.head = (this.head + 1) % this.ring.length;
    this.n--;
  }

  /** Twice the room (at most `size`), the values unrolled oldest first. */
  private grow(): void {
    const next = new Float64Array(Math.min(this.size, this.ring.length * 2));
    for (let i = 0; i < this.n; i++) next[i] = this.ring[(this.head + i) % this.ring.length];
    this.ring = next;
    this.head = 0;
  }
}

/**
 * A score against the last `size` values, kept in the stats node's window: `centre` is the baseline,
 * `spread` the unit of the score; a value is scored against what came before it, then learned.
 */
abstract class WindowDetector<W extends SlidingValues> implements Detector {
  constructor(
    protected readonly w: W,
    private readonly size: number,
    /** Values needed before a score means anything. */
    private readonly minHistory: number,
  ) {}
  protected abstract centre(n: number): number;
  protected abstract spread(n: number, centre: number): number;
  update(x: number) {
    const n = this.w.count;
    const baseline = n ? this.centre(n) : null;
    const score = baseline !== null && n >= this.minHistory ? scoreOf(x, baseline, this.spread(n, baseline)) : null;
    if (n >= this.size) this.w.evict();
    this.w.push(x, 0, 'good');
    return { score, baseline };
  }
  baseline() {
    return this.w.count ? this.centre(this.w.count) : null;
  }
}

/** z-score: mean and sample standard deviation as running sums (compensated, shifted, rebased as the window turns over), O(1) a sample. */
class ZScore extends WindowDetector<RollingWindow> {
  constructor(size: number) {
    // The window's arrays start small and grow with the values (memory follows what is held).
    super(new RollingWindow(NO_FEATURES), size, MIN_HISTORY.zscore);
  }
  protected centre(): number {
    return this.w.mean();
  }
  protected spread(): number {
    return this.w.sampleStddev();
  }
}

/** Median and MAD, from the window's values kept in order: a sample costs two binary searches and one move of at most `size` doubles (SortedValues), the MAD a few reads by rank. */
class RobustMad extends WindowDetector<SortedWindow> {
  private readonly finder = new MadFinder();
  constructor(size: number) {
    super(new SortedWindow(size), size, MIN_HISTORY.mad);
  }
  protected centre(n: number): number {
    return medianOf(this.w, n);
  }
  protected spread(n: number, median: number): number {
    const mad = this.finder.mad(this.w, n, median);
    if (mad > 0) return MAD_SCALE * mad;
    // Half the window or more equals the median (a quantised or mostly steady signal): the MAD is 0
    // though the history is not flat, and every step off the median would score in the millions.
    // Then the mean absolute deviation from the median (Iglewicz and Hoaglin's modified z-score),
    // O(n), only in such windows; 0 only for a flat history (MIN_RELATIVE_SPREAD applies).
    let sum = 0;
    for (let k = 0; k < n; k++) sum += Math.abs(this.w.kth(k) - median);
    return (MEAN_AD_SCALE * sum) / n;
  }
}

const NO_FEATURES: RollingFeatures = { extremes: false, order: false };

/**
 * EWMA control chart (Montgomery, Introduction to Statistical Quality Control, 6th ed., 9.2):
 * phase I learns the centre line mu0 and sigma from the warm-up samples; phase II charts
 * z_t = lambda x_t + (1 - lambda) z_(t-1), z_0 = mu0, against the exact-variance limits
 * mu0 +/- L sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2t))). The score is
 * (z_t - mu0) / sigma_z, so |score| > L is outside the limits.
 */
class EwmaChart implements Detector {
  private readonly phase1: number[] = [];
  /** Running sum of phase1: its mean, the baseline while learning, without a pass per sample. */
  private readonly phase1Sum = new CompensatedSum();
  private mu0 = 0;
  private sigma = 0;
  private z = 0;
  private t = 0;
  constructor(
    private readonly lambda: number,
    private readonly learn: number,
  ) {}
  update(x: number) {
    if (this.phase1.length < this.learn) {
      this.phase1.push(x);
      this.phase1Sum.add(x);
      if (this.phase1.length === this.learn) {
        this.mu0 = mean(this.phase1);
        this.sigma = stddev(this.phase1);
        this.z = this.mu0;
        return { score: null, baseline: this.mu0 };
      }
      return { score: null, baseline: this.phase1Sum.value / this.phase1.length };
    }
    this.t++;
    this.z = this.lambda * x + (1 - this.lambda) * this.z;
    const l = this.lambda;
    const sigmaZ = this.sigma * Math.sqrt((l / (2 - l)) * (1 - Math.pow(1 - l, 2 * this.t)));
    return { score: scoreOf(this.z, this.mu0, sigmaZ), baseline: this.mu0 };
  }
  baseline() {
    if (this.phase1.length === 0) return null;
    return this.phase1.length < this.learn ? this.phase1Sum.value / this.phase1.length : this.mu0;
  }
}

/** A result, built in one literal (one shape for every result). */
function result(tag: string, ts: number, value: number | null, score: number | null, anomaly: boolean, baseline: number | null, left: number, quality: Quality): AnomalyResult {
  return { tag, value, score, anomaly, baseline, warmingUp: left > 0, warmupLeft: left, quality, ts };
}

interface TagState {
  detector: Detector;
  learned: number;
  lastTs: number;
}

export function checkAnomalyOptions(o: AnomalyOptions): void {
  if (!ANOMALY_METHODS.includes(o.method)) throw new ConfigError(`method must be one of ${ANOMALY_METHODS.join(', ')}`);
  const min = MIN_HISTORY[o.method];
  if (!Number.isInteger(o.window) || o.window < min || o.window > MAX_WINDOW) {
    throw new ConfigError(`window must be a whole number of samples from ${min} to ${MAX_WINDOW}`);
  }
  if (typeof o.threshold !== 'number' || !Number.isFinite(o.threshold) || o.threshold <= 0) throw new ConfigError('threshold must be a number > 0');
  if (!Number.isInteger(o.warmup) || o.warmup < 0 || o.warmup > 1_000_000) throw new ConfigError('warmup must be a whole number of samples >= 0');
}

export class AnomalyEngine {
  private readonly tags = new Map<string, TagState>();
  /** Samples a tag must learn before it is judged: the warmup setting, at least what the method needs. */
  readonly warmup: number;
  readonly lambda: number;
  private readonly future: FutureCheck;

  /** `now`: this host's clock, to refuse timestamps far in the future. */
  constructor(
    private readonly o: AnomalyOptions,
    now: () => number = () => Date.now(),
  ) {
    checkAnomalyOptions(o);
    this.future = new FutureCheck(now);
    this.warmup = Math.max(o.warmup, MIN_HISTORY[o.method]);
    this.lambda = 2 / (o.window + 1);
  }

  private create(): Detector {
    if (this.o.method === 'zscore') return new ZScore(this.o.window);
    if (this.o.method === 'mad') return new RobustMad(this.o.window);
    return new EwmaChart(this.lambda, this.warmup);
  }

  /**
   * Judges one sample. A bad sample (quality bad or value null) is neither learned nor judged:
   * it comes back with score null, anomaly false and quality bad.
   */
  process(s: Sample): AnomalyResult {
    return this.processValue(s.tag, s.value === null ? null : numericValue(s), s.quality, s.ts);
  }

  /**
   * process() for a value already read (a number, or null for a failed reading): what a single-form
   * message of one number takes, without a sample object.
   */
  processValue(tag: string, x: number | null, quality: Quality, ts: number): AnomalyResult {
    if (x !== null && Math.abs(x) > MAX_MAGNITUDE) throw new InputError(`tag "${tag}": value ${x} is beyond ±1e100 and cannot be scored`);
    this.future.check(tag, ts);
    let t = this.tags.get(tag);
    if (t && ts < t.lastTs) throw new InputError(`tag "${tag}": timestamp ${formatTime(ts)} is earlier than the previous sample's`);
    if (!t) {
      if (this.tags.size >= MAX_TAGS) throw new InputError(`more than ${MAX_TAGS} tags: tag "${tag}" refused`);
      t = { detector: this.create(), learned: 0, lastTs: ts };
      this.tags.set(tag, t);
    }
    t.lastTs = ts;
    const left = Math.max(0, this.warmup - t.learned);
    if (x === null || quality === 'bad') return result(tag, ts, x, null, false, t.detector.baseline(), left, 'bad');
    const r = t.detector.update(x);
    t.learned++;
    if (left > 0) return result(tag, ts, x, null, false, r.baseline, left, quality);
    const score = r.score;
    return result(tag, ts, x, score, score !== null && Math.abs(score) > this.o.threshold, r.baseline, left, quality);
  }

  /** Refuses, as a whole, a batch whose new tags would pass MAX_TAGS (one batch must not lock out later tags). */
  admit(tags: readonly string[]): void {
    // One tag (the single form): no set of the new ones to build.
    if (tags.length === 1 && (this.tags.size < MAX_TAGS || this.tags.has(tags[0]))) return;
    const fresh = new Set(tags.filter((t) => !this.tags.has(t))).size;
    if (this.tags.size + fresh > MAX_TAGS) {
      throw new InputError(`batch refused: its ${fresh} new tags would pass the limit of ${MAX_TAGS} tags (${this.tags.size} known)`);
    }
  }

  /** msg.reset: forgets one tag, or every tag. */
  reset(tag?: string): void {
    if (tag === undefined) this.tags.clear();
    else this.tags.delete(tag);
  }

  get size(): number {
    return this.tags.size;
  }
}
