import fc from 'fast-check';
import { heldArrayBytes } from '../../helpers/memory';
import { AnomalyEngine, MAD_SCALE, MAX_TAGS, MEAN_AD_SCALE, type AnomalyOptions, type AnomalyResult } from '../../../nodes/analytics/detectors';
import type { Quality } from '../../../nodes/shared/sample';

/** Deterministic noise: mulberry32 + Box-Muller. */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

function series(n: number, seed: number, level = 50, sigma = 1): number[] {
  const g = gaussian(seed);
  return Array.from({ length: n }, () => level + sigma * g());
}

function run(o: AnomalyOptions, xs: readonly number[], tag = 't', quality: Quality = 'good'): AnomalyResult[] {
  const e = new AnomalyEngine(o);
  return xs.map((value, i) => e.process({ tag, value, quality, ts: 1000 * i }));
}

// Brute-force references, written independently of the engine.
const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + (v - avg(a)) ** 2, 0) / (a.length - 1));
const med = (a: number[]) => {
  const b = [...a].sort((x, y) => x - y);
  return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};

describe('AnomalyEngine: z-score', () => {
  const o: AnomalyOptions = { method: 'zscore', window: 20, threshold: 4, warmup: 5 };

  it('matches a brute-force recomputation over the previous window', () => {
    const xs = series(120, 1);
    const out = run(o, xs);
    for (let i = 5; i < xs.length; i++) {
      const h = xs.slice(Math.max(0, i - 20), i);
      expect(out[i].baseline).toBeCloseTo(avg(h), 10);
      expect(out[i].score).toBeCloseTo((xs[i] - avg(h)) / sd(h), 9);
    }
  });

  it('flags exactly the injected spikes', () => {
    const xs = series(300, 2);
    const spikes = [60, 140, 230];
    for (const i of spikes) xs[i] += 9;
    const flagged = run(o, xs).flatMap((r, i) => (r.anomaly ? [i] : []));
    expect(flagged).toEqual(spikes);
  });

  it('warm-up samples are learned but never judged, even a spike', () => {
    const xs = [50, 51, 49, 500, 50, 50.5, 49.5];
    const out = run(o, xs);
    expect(out.slice(0, 5).map((r) => [r.anomaly, r.score, r.warmingUp, r.warmupLeft])).toEqual([
      [false, null, true, 5], [false, null, true, 4], [false, null, true, 3], [false, null, true, 2], [false, null, true, 1],
    ]);
    expect(out[5]).toMatchObject({ warmingUp: false, warmupLeft: 0 });
    expect(out[5].baseline).toBeCloseTo(avg(xs.slice(0, 5)), 10);
  });

  it('a flat history gives a finite score: 0 for the same value, an anomaly for any change', () => {
    const out = run({ ...o, warmup: 3 }, [7, 7, 7, 7, 7.5]);
    expect(out[3]).toMatchObject({ score: 0, anomaly: false, baseline: 7 });
    expect(out[4].anomaly).toBe(true);
    expect(Number.isFinite(out[4].score)).toBe(true);
  });
});

describe('AnomalyEngine: median/MAD', () => {
  const o: AnomalyOptions = { method: 'mad', window: 25, threshold: 5, warmup: 10 };

  it('matches a brute-force median and 1.4826 x MAD', () => {
    const xs = series(100, 3);
    const out = run(o, xs);
    for (let i = 10; i < xs.length; i++) {
      const h = xs.slice(Math.max(0, i - 25), i);
      const m = med(h);
      const mad = med(h.map((v) => Math.abs(v - m)));
      expect(out[i].baseline).toBeCloseTo(m, 10);
      expect(out[i].score).toBeCloseTo((xs[i] - m) / (MAD_SCALE * mad), 9);
    }
  });

  it('a quantised signal whose MAD is 0 (most of the window at one value) is scored by the mean absolute deviation, not flagged at every step', () => {
    // 20.0 three times, 20.1 once, over and over: the median is 20.0 and so is most of the window.
    const xs: number[] = Array.from({ length: 400 }, (_, i) => (i % 4 === 3 ? 20.1 : 20.0));
    xs[300] = 21;
    const out = run({ method: 'mad', window: 30, threshold: 3.5, warmup: 30 }, xs);
    expect(out.flatMap((r, i) => (r.anomaly ? [i] : []))).toEqual([300]);
    // 0.1 off the median against 1.253314 x the mean absolute deviation (7 or 8 of 30 values 0.1 off).
    // (Not while the spike is in the window: it adds to the mean absolute deviation.)
    const steps = out.filter((r, i) => i > 30 && xs[i] === 20.1 && (i < 300 || i > 330)).map((r) => r.score!);
    expect(steps.length).toBeGreaterThan(80);
    for (const z of steps) expect(z).toBeGreaterThan(2.5);
    for (const z of steps) expect(z).toBeLessThan(3.5);
    // A flat history still flags any change (the MIN_RELATIVE_SPREAD rule).
    const flat = run({ method: 'mad', window: 10, threshold: 3.5, warmup: 10 }, [...Array(20).fill(5), 5.001]);
    expect(flat[20].anomaly).toBe(true);
  });

  it('finds two spikes close together, which a robust baseline is not fooled by', () => {
    const xs = series(150, 4);
    xs[80] += 12;
    xs[83] -= 12;
    const flagged = run(o, xs).flatMap((r, i) => (r.anomaly ? [i] : []));
    expect(flagged).toEqual([80, 83]);
  });
});

describe('AnomalyEngine: EWMA control chart', () => {
  const o: AnomalyOptions = { method: 'ewma', window: 9, threshold: 3, warmup: 30 };

  it('derives lambda from the window and follows the chart recursion with exact-variance limits', () => {
    const e = new AnomalyEngine(o);
    expect(e.lambda).toBeCloseTo(0.2, 12);
    const xs = series(80, 5);
    const out = run(o, xs);
    const p1 = xs.slice(0, 30);
    const mu0 = avg(p1);
    const sigma = sd(p1);
    let z = mu0;
    for (let i = 30; i < xs.length; i++) {
      const t = i - 29;
      z = 0.2 * xs[i] + 0.8 * z;
      const sz = sigma * Math.sqrt((0.2 / 1.8) * (1 - 0.8 ** (2 * t)));
      expect(out[i].baseline).toBeCloseTo(mu0, 10);
      expect(out[i].score).toBeCloseTo((z - mu0) / sz, 9);
    }
  });

  it('detects a sustained shift of one sigma that no single sample shows', () => {
    const xs = series(200, 6);
    for (let i = 100; i < 200; i++) xs[i] += 1;
    const out = run(o, xs);
    expect(out.slice(0, 100).some((r) => r.anomaly)).toBe(false);
    const first = out.findIndex((r) => r.anomaly);
    expect(first).toBeGreaterThanOrEqual(100);
    expect(first).toBeLessThan(140);
    // A Shewhart check of single samples (|x - mu0| > 3 sigma) sees nothing up to that point.
    const mu0 = avg(xs.slice(0, 30));
    const sigma = sd(xs.slice(0, 30));
    expect(xs.slice(100, first + 1).filter((x) => Math.abs(x - mu0) > 3 * sigma)).toEqual([]);
  });
});

describe('AnomalyEngine: input rules', () => {
  const o: AnomalyOptions = { method: 'zscore', window: 10, threshold: 3, warmup: 3 };

  it('does not learn or judge a bad sample, and marks it bad', () => {
    const xs = series(30, 7);
    const clean = run(o, xs);
    const e = new AnomalyEngine(o);
    const mixed: AnomalyResult[] = [];
    xs.forEach((value, i) => {
      mixed.push(e.process({ tag: 't', value, quality: 'good', ts: i * 10 }));
      if (i === 12) {
        const bad = e.process({ tag: 't', value: 1e6, quality: 'bad', ts: i * 10 + 1 });
        expect(bad).toMatchObject({ score: null, anomaly: false, quality: 'bad', value: 1e6 });
        expect(e.process({ tag: 't', value: null, quality: 'good', ts: i * 10 + 2 })).toMatchObject({ quality: 'bad', value: null });
      }
    });
    expect(mixed.map((r) => r.score)).toEqual(clean.map((r) => r.score));
  });

  it('passes uncertain quality on', () => {
    const out = run(o, [1, 2, 3, 4], 't', 'uncertain');
    expect(out.every((r) => r.quality === 'uncertain')).toBe(true);
  });

  it('keeps each tag apart and forgets on reset', () => {
    const e = new AnomalyEngine(o);
    [1, 2, 3].forEach((v, i) => e.process({ tag: 'a', value: v, quality: 'good', ts: i }));
    expect(e.process({ tag: 'b', value: 100, quality: 'good', ts: 5 })).toMatchObject({ warmingUp: true, warmupLeft: 3 });
    expect(e.process({ tag: 'a', value: 2, quality: 'good', ts: 5 })).toMatchObject({ warmingUp: false, score: 0 });
    e.reset('a');
    expect(e.process({ tag: 'a', value: 2, quality: 'good', ts: 6 })).toMatchObject({ warmingUp: true });
    e.reset();
    expect(e.size).toBe(0);
  });

  it('refuses new tags beyond MAX_TAGS', () => {
    const e = new AnomalyEngine(o);
    for (let i = 0; i < MAX_TAGS; i++) e.process({ tag: `t${i}`, value: 1, quality: 'good', ts: 0 });
    expect(() => e.process({ tag: 'extra', value: 1, quality: 'good', ts: 0 })).toThrow(/more than 10000 tags/);
    expect(e.process({ tag: 't1', value: 1, quality: 'good', ts: 1 }).tag).toBe('t1');
  });

  it('refuses out-of-order timestamps, text and impossible settings', () => {
    const e = new AnomalyEngine(o);
    e.process({ tag: 'a', value: 1, quality: 'good', ts: 100 });
    expect(() => e.process({ tag: 'a', value: 1, quality: 'good', ts: 99 })).toThrow(/earlier than the previous/);
    expect(() => e.process({ tag: 'a', value: 'x', quality: 'good', ts: 101 })).toThrow(/must be a number/);
    expect(() => new AnomalyEngine({ ...o, window: 1 })).toThrow(/window/);
    expect(() => new AnomalyEngine({ ...o, method: 'mad', window: 2 })).toThrow(/window/);
    expect(() => new AnomalyEngine({ ...o, window: 2.5 })).toThrow(/window/);
    expect(() => new AnomalyEngine({ ...o, threshold: 0 })).toThrow(/threshold/);
    expect(() => new AnomalyEngine({ ...o, warmup: -1 })).toThrow(/warmup/);
    expect(() => new AnomalyEngine({ ...o, method: 'fancy' as never })).toThrow(/method/);
  });
});

describe('AnomalyEngine: properties', () => {
  it.each(['zscore', 'ewma', 'mad'] as const)('%s: any finite series gives finite scores and baselines, never NaN', (method) => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e100, max: 1e100, noNaN: true }), { minLength: 1, maxLength: 60 }), (xs) => {
        const out = run({ method, window: 8, threshold: 3, warmup: 3 }, xs);
        for (const r of out) {
          expect(r.score === null || Number.isFinite(r.score)).toBe(true);
          expect(r.baseline === null || Number.isFinite(r.baseline)).toBe(true);
          expect(typeof r.anomaly).toBe('boolean');
        }
      }),
      { numRuns: 150 },
    );
  });

  // Sliding figures against a brute-force recomputation over the window (sort, two passes), for
  // random series with many ties (small integers) or none, and random window sizes.
  const seriesArb = fc.oneof(
    fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 80 }),
    // Zeros of both signs: the order kept must be that of a stable sort, down to the sign.
    fc.array(fc.constantFrom(0, -0, 1, -1), { minLength: 1, maxLength: 80 }),
    fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 80 }),
  );
  /**
   * Runs `method` over xs and calls `check` with each result and the window of values before it
   * (at most `window` of them); a result with no values before it must have no baseline.
   */
  const eachWithHistory = (
    method: 'mad' | 'zscore',
    xs: number[],
    window: number,
    check: (r: AnomalyResult, h: number[], i: number) => void,
  ) => {
    run({ method, window, threshold: 3, warmup: 0 }, xs).forEach((r, i) => {
      const h = xs.slice(Math.max(0, i - window), i);
      if (h.length === 0) expect(r.baseline).toBeNull();
      else check(r, h, i);
    });
  };
  const bruteMedian = (h: number[]) => {
    const a = [...h].sort((p, q) => p - q);
    const mid = a.length >> 1;
    return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
  };

  it.each(['zscore', 'mad'] as const)('%s: 10,000 new tags with a 10,000-value window do not claim each one a whole window', (method) => {
    const held = heldArrayBytes(() => {
      const e = new AnomalyEngine({ method, window: 10_000, threshold: 3, warmup: 10 });
      for (let i = 0; i < 10_000; i++) e.processValue(`t${i}`, 1, 'good', 0);
      expect(e.size).toBe(10_000);
      return e;
    });
    // Room for 16 values a tag (a few MB in all); room for the whole window was 1.3 to 2 GB.
    expect(held).toBeLessThan(64 * 1024 * 1024);
  });

  it('mad: median and MAD over the window are exactly those of a sort of the window', () => {
    fc.assert(
      // Windows past 16: their arrays start with room for 16 values and grow as they fill.
      fc.property(seriesArb, fc.integer({ min: 3, max: 60 }), (xs, window) => {
        eachWithHistory('mad', xs, window, (r, h, i) => {
          const med = bruteMedian(h);
          expect(r.baseline).toBe(med);
          if (h.length < 3) return expect(r.score).toBeNull();
          const mad = bruteMedian(h.map((v) => Math.abs(v - med)));
          // MAD 0 (half the window or more at the median): the mean absolute deviation, summed in value order.
          const meanAd = [...h].sort((a, b) => a - b).reduce((sum, v) => sum + Math.abs(v - med), 0);
          const unit = mad > 0 ? MAD_SCALE * mad : (MEAN_AD_SCALE * meanAd) / h.length;
          const spread = Math.max(unit, 1e-9 * Math.max(1, Math.abs(med)));
          expect(r.score).toBe(xs[i] === med ? 0 : (xs[i] - med) / spread);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('zscore: mean and standard deviation over the window match a two-pass recomputation', () => {
    fc.assert(
      fc.property(seriesArb, fc.integer({ min: 2, max: 60 }), (xs, window) => {
        eachWithHistory('zscore', xs, window, (r, h, i) => {
          const m = avg(h);
          // Running sums round at the precision of the largest value since the window last started
          // afresh (at most two windows back), as the stats node's do; a two-pass sum only at the window's.
          const scale = Math.max(1, ...xs.slice(Math.max(0, i - 2 * window), i).map(Math.abs));
          expect(Math.abs(r.baseline! - m)).toBeLessThanOrEqual(1e-12 * scale);
          if (h.length < 2) return expect(r.score).toBeNull();
          const s = Math.max(sd(h), 1e-9 * Math.max(1, Math.abs(m)));
          const want = xs[i] === m ? 0 : (xs[i] - m) / s;
          // Rounding of the mean itself (either way, about n eps of the largest value) moves x - m
          // by that much: the bound is relative to the score plus that over the spread.
          expect(Math.abs(r.score! - want)).toBeLessThanOrEqual(1e-9 * Math.abs(want) + (1e-12 * scale) / s);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses values beyond ±1e100', () => {
    const e = new AnomalyEngine({ method: 'zscore', window: 5, threshold: 3, warmup: 2 });
    expect(() => e.process({ tag: 't', value: 1e200, quality: 'good', ts: 0 })).toThrow(/beyond/);
  });
});
