/**
 * Anomaly detectors, one per tag: z-score over a sliding window, an EWMA control chart, and a
 * robust median/MAD score. Each scores a value against what came *before* it, so a spike cannot
 * hide itself by moving its own baseline.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample } from '../shared/sample';
import { checkEventTime, formatTime } from './event-clock';

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

export function median(xs: readonly number[]): number {
  const a = [...xs].sort((p, q) => p - q);
  const mid = a.length >> 1;
  return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
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

/** Fixed-size ring of the last `size` values. */
class Ring {
  private readonly buf: number[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(x: number): void {
    if (this.buf.length < this.size) this.buf.push(x);
    else this.buf[this.next] = x;
    this.next = (this.next + 1) % this.size;
  }
  values(): readonly number[] {
    return this.buf;
  }
  get length(): number {
    return this.buf.length;
  }
}

class ZScore implements Detector {
  private readonly ring: Ring;
  constructor(window: number) {
    this.ring = new Ring(window);
  }
  update(x: number) {
    const h = this.ring.values();
    let out: { score: number | null; baseline: number | null } = { score: null, baseline: h.length ? mean(h) : null };
    if (h.length >= 2) {
      const m = mean(h);
      out = { score: scoreOf(x, m, stddev(h)), baseline: m };
    }
    this.ring.push(x);
    return out;
  }
  baseline() {
    return this.ring.length ? mean(this.ring.values()) : null;
  }
}

class RobustMad implements Detector {
  private readonly ring: Ring;
  constructor(window: number) {
    this.ring = new Ring(window);
  }
  update(x: number) {
    const h = this.ring.values();
    let out: { score: number | null; baseline: number | null } = { score: null, baseline: h.length ? median(h) : null };
    if (h.length >= 3) {
      const med = median(h);
      const mad = median(h.map((v) => Math.abs(v - med)));
      out = { score: scoreOf(x, med, MAD_SCALE * mad), baseline: med };
    }
    this.ring.push(x);
    return out;
  }
  baseline() {
    return this.ring.length ? median(this.ring.values()) : null;
  }
}

/**
 * EWMA control chart (Montgomery, Introduction to Statistical Quality Control, 6th ed., 9.2):
 * phase I learns the centre line mu0 and sigma from the warm-up samples; phase II charts
 * z_t = lambda x_t + (1 - lambda) z_(t-1), z_0 = mu0, against the exact-variance limits
 * mu0 +/- L sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2t))). The score is
 * (z_t - mu0) / sigma_z, so |score| > L is outside the limits.
 */
class EwmaChart implements Detector {
  private readonly phase1: number[] = [];
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
      if (this.phase1.length === this.learn) {
        this.mu0 = mean(this.phase1);
        this.sigma = stddev(this.phase1);
        this.z = this.mu0;
      }
      return { score: null, baseline: mean(this.phase1) };
    }
    this.t++;
    this.z = this.lambda * x + (1 - this.lambda) * this.z;
    const l = this.lambda;
    const sigmaZ = this.sigma * Math.sqrt((l / (2 - l)) * (1 - Math.pow(1 - l, 2 * this.t)));
    return { score: scoreOf(this.z, this.mu0, sigmaZ), baseline: this.mu0 };
  }
  baseline() {
    if (this.phase1.length === 0) return null;
    return this.phase1.length < this.learn ? mean(this.phase1) : this.mu0;
  }
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

  /** `now`: this host's clock, to refuse timestamps far in the future. */
  constructor(
    private readonly o: AnomalyOptions,
    private readonly now: () => number = Date.now,
  ) {
    checkAnomalyOptions(o);
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
    const x = s.value === null ? null : numericValue(s);
    if (x !== null && Math.abs(x) > MAX_MAGNITUDE) throw new InputError(`tag "${s.tag}": value ${x} is beyond ±1e100 and cannot be scored`);
    checkEventTime(s.tag, s.ts, this.now());
    let t = this.tags.get(s.tag);
    if (t && s.ts < t.lastTs) throw new InputError(`tag "${s.tag}": timestamp ${formatTime(s.ts)} is earlier than the previous sample's`);
    if (!t) {
      if (this.tags.size >= MAX_TAGS) throw new InputError(`more than ${MAX_TAGS} tags: tag "${s.tag}" refused`);
      t = { detector: this.create(), learned: 0, lastTs: s.ts };
      this.tags.set(s.tag, t);
    }
    t.lastTs = s.ts;
    const left = Math.max(0, this.warmup - t.learned);
    const base = { tag: s.tag, value: x, ts: s.ts, warmingUp: left > 0, warmupLeft: left };
    if (x === null || s.quality === 'bad') {
      return { ...base, score: null, anomaly: false, baseline: t.detector.baseline(), quality: 'bad' };
    }
    const r = t.detector.update(x);
    t.learned++;
    if (left > 0) return { ...base, score: null, anomaly: false, baseline: r.baseline, quality: s.quality };
    const score = r.score;
    return { ...base, score, anomaly: score !== null && Math.abs(score) > this.o.threshold, baseline: r.baseline, quality: s.quality };
  }

  /** Refuses, as a whole, a batch whose new tags would pass MAX_TAGS (one batch must not lock out later tags). */
  admit(tags: readonly string[]): void {
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
