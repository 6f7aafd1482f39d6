import { heldArrayBytes, heldArrayBytesSettled } from '../../helpers/memory';
import fc from 'fast-check';
import { DEFAULT_STATS, RollingWindow, STAT_NAMES, StatsEngine, StatsLayout, quantileSorted, statsLayout, type StatName, type StatsResult } from '../../../nodes/analytics/window';
import type { Quality, Sample } from '../../../nodes/shared/sample';

const ALL: StatName[] = [...STAT_NAMES];
const s = (value: Sample['value'], ts: number, tag = 't', quality: Quality = 'good'): Sample => ({ tag, value, quality, ts });

/** Every statistic recomputed from scratch, the slow obvious way. */
function bruteForce(xs: number[]): StatsResult {
  const n = xs.length;
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return {
    mean,
    min: sorted[0],
    max: sorted[n - 1],
    sum: xs.reduce((a, b) => a + b, 0),
    count: n,
    stddev: n < 2 ? null : Math.sqrt(ss / (n - 1)),
    rms: Math.sqrt(xs.reduce((a, b) => a + b * b, 0) / n),
    range: sorted[n - 1] - sorted[0],
    median: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    first: xs[0],
    last: xs[n - 1],
  };
}

function expectClose(got: StatsResult, want: StatsResult, scale: number): void {
  for (const k of ALL) {
    const g = got[k];
    const w = want[k];
    if (w === null || w === undefined) {
      expect(g).toBe(w);
      continue;
    }
    expect(typeof g).toBe('number');
    // Relative to the magnitude of the data: sums of n values carry n * eps * max|x| at worst.
    expect(Math.abs((g as number) - w)).toBeLessThanOrEqual(1e-9 * Math.max(1, scale));
  }
}

const series = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 120 });

describe('StatsEngine: sliding count window', () => {
  it('matches a brute-force recomputation over the window for random series', () => {
    fc.assert(
      // Sizes past 16 and 32: windows start with room for 16 samples and grow as they fill.
      fc.property(series, fc.integer({ min: 1, max: 70 }), (xs, size) => {
        const e = new StatsEngine({ window: 'count', size, emit: 'sample', stats: ALL });
        const scale = Math.max(1, ...xs.map(Math.abs)) * size;
        xs.forEach((x, i) => {
          const [r] = e.push([s(x, i)], i);
          expectClose(r.value, bruteForce(xs.slice(Math.max(0, i + 1 - size), i + 1)), scale);
        });
      }),
    );
  });

  it('a batch of 10,000 new tags does not claim each one a whole window (1,000,000 samples, all statistics)', () => {
    const batch = Array.from({ length: 10_000 }, (_, i) => s(i, 0, `t${i}`));
    const held = heldArrayBytes(() => {
      const e = new StatsEngine({ window: 'count', size: 1_000_000, emit: 'sample', stats: ALL });
      expect(e.push(batch, 0)).toHaveLength(10_000);
      return e;
    });
    // Each window's arrays hold 16 samples (~0.6 KB a tag, 6 MB in all); room for the first 4,096
    // of each was 1.3 GB.
    expect(held).toBeLessThan(64 * 1024 * 1024);
  });

  it('holds the bytes a sample the help gives: 17, 25 with extremes or with an order (its ends are min and max), 49 past 4,096', async () => {
    const bytesPerSlot = async (stats: StatName[], size: number, tags: number): Promise<number> => {
      const slots = 2 ** Math.ceil(Math.log2(size)); // each window rounded up to a power of two
      const held = await heldArrayBytesSettled(() => {
        const e = new StatsEngine({ window: 'count', size, emit: 'sample', stats });
        for (let i = 0; i < size; i++) e.push(Array.from({ length: tags }, (_, t) => s(Math.sin(i * 7 + t), i, `t${t}`)), 0);
        return e;
      });
      return held / (tags * slots);
    };
    // Ranges, not exact figures: a little of another test's garbage can still go or come during a
    // measurement, a fraction of a byte a slot at these sizes.
    const near = (got: number, want: number) => {
      expect(got).toBeGreaterThan(want - 1.5);
      expect(got).toBeLessThan(want + 1.5);
    };
    near(await bytesPerSlot(['mean'], 1000, 200), 17);
    near(await bytesPerSlot(['mean', 'min', 'max'], 1000, 200), 25);
    // Median or p95: the sorted copy (8 bytes), and min and max read from its ends, no deques (8 more).
    near(await bytesPerSlot(ALL, 1000, 200), 25);
    near(await bytesPerSlot(['median'], 1000, 200), 25);
    // Past 4,096 samples the order-statistics tree: 32 bytes a sample, still no deques.
    near(await bytesPerSlot(ALL, 5000, 20), 49);
  });

  it('gives the NIST-style answer exactly: 1000000001, 1000000003, 1000000002 -> mean 1000000002, sd 1', () => {
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['mean', 'stddev', 'sum', 'rms'] });
    const cycle = [1000000001, 1000000003, 1000000002];
    let last: StatsResult = {};
    for (let i = 0; i < 3; i++) last = e.push([s(cycle[i], i)], i)[0].value;
    expect(last.mean).toBe(1000000002);
    expect(last.stddev).toBe(1);
    expect(last.sum).toBe(3000000006);
    // Every later window holds the same three values in another order: still exact after many slides.
    for (let i = 3; i < 20_000; i++) {
      last = e.push([s(cycle[i % 3], i)], i)[0].value;
      if (i % 3 === 2 || i > 19_990) {
        expect(last.mean).toBe(1000000002);
        expect(last.stddev).toBe(1);
      }
    }
  });

  it('stays accurate after a large level shift leaves the window (no cancellation from old sums)', () => {
    const e = new StatsEngine({ window: 'count', size: 4, emit: 'sample', stats: ['mean', 'stddev'] });
    let ts = 0;
    for (let i = 0; i < 50; i++) e.push([s(1e12 + (i % 7), ts++)], ts);
    let r: StatsResult = {};
    for (const x of [1, 2, 3, 4]) r = e.push([s(x, ts++)], ts)[0].value;
    expect(r.mean).toBe(2.5);
    expect(r.stddev).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('reports stddev as null for one sample and a population of equal values as 0', () => {
    const e = new StatsEngine({ window: 'count', size: 10, emit: 'sample', stats: ['stddev', 'count'] });
    expect(e.push([s(5, 0)], 0)[0].value).toEqual({ stddev: null, count: 1 });
    expect(e.push([s(5, 1)], 1)[0].value).toEqual({ stddev: 0, count: 2 });
  });

  it('returns only the statistics asked for, in that order', () => {
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['p95', 'first'] });
    const [r] = e.push([s(2, 0)], 0);
    expect(Object.keys(r.value)).toEqual(['p95', 'first']);
  });
});

describe('StatsEngine: sliding time window', () => {
  it('matches a brute-force recomputation over (t - size, t] for random series', () => {
    const steps = fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.double({ min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true })), {
      minLength: 1,
      maxLength: 100,
    });
    fc.assert(
      fc.property(steps, fc.integer({ min: 1, max: 5 }), (pts, sizeS) => {
        const e = new StatsEngine({ window: 'time', size: sizeS, emit: 'sample', stats: ALL });
        let ts = 1_700_000_000_000;
        const seen: Array<{ ts: number; v: number }> = [];
        for (const [dt, v] of pts) {
          ts += dt;
          seen.push({ ts, v });
          const [r] = e.push([s(v, ts)], ts);
          const inWindow = seen.filter((p) => p.ts > ts - sizeS * 1000).map((p) => p.v);
          expectClose(r.value, bruteForce(inWindow), 1e4 * inWindow.length);
        }
      }),
    );
  });
});

describe('StatsEngine: tumbling windows', () => {
  it('emits once per count window and starts afresh', () => {
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'window', stats: ['mean', 'count', 'first', 'last'] });
    const got = [1, 2, 3, 4, 5, 6, 7].flatMap((x, i) => e.push([s(x, i * 10)], 0));
    expect(got.map((r) => r.value)).toEqual([
      { mean: 2, count: 3, first: 1, last: 3 },
      { mean: 5, count: 3, first: 4, last: 6 },
    ]);
    expect(got.map((r) => r.ts)).toEqual([20, 50]);
  });

  it('aligns time windows to multiples of size since the epoch and closes them on a later sample', () => {
    const e = new StatsEngine({ window: 'time', size: 10, emit: 'window', stats: ['sum', 'count'] });
    const got = [
      ...e.push([s(1, 5_000), s(2, 9_999)], 0),
      ...e.push([s(10, 10_000)], 0),
      ...e.push([s(20, 35_000)], 0),
    ];
    expect(got.map((r) => [r.value, r.ts])).toEqual([
      [{ sum: 3, count: 2 }, 9_999],
      [{ sum: 10, count: 1 }, 10_000],
    ]);
  });

  it('matches a brute-force grouping into epoch-aligned windows for random series (property)', () => {
    const steps = fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: -1000, max: 1000 })), { minLength: 1, maxLength: 80 });
    fc.assert(
      fc.property(steps, fc.integer({ min: 1, max: 5 }), (pts, sizeS) => {
        const e = new StatsEngine({ window: 'time', size: sizeS, emit: 'window', stats: ['sum', 'count', 'first', 'last'] });
        let ts = 1_700_000_000_000;
        const all: Array<[number, number]> = [];
        const got: StatsResult[] = [];
        for (const [dt, v] of pts) {
          ts += dt;
          all.push([ts, v]);
          got.push(...e.push([s(v, ts)], 0).map((r) => r.value));
        }
        const groups = new Map<number, number[]>();
        for (const [t, v] of all) {
          const k = Math.floor(t / (sizeS * 1000));
          groups.set(k, [...(groups.get(k) ?? []), v]);
        }
        groups.delete(Math.floor(ts / (sizeS * 1000))); // still open
        expect(got).toEqual([...groups.values()].map((xs) => ({ sum: xs.reduce((a, b) => a + b, 0), count: xs.length, first: xs[0], last: xs[xs.length - 1] })));
      }),
    );
  });

  it('closes a quiet tag by the timer, in its own event time even when its clock is off', () => {
    const e = new StatsEngine({ window: 'time', size: 10, emit: 'window', stats: ['mean'] });
    // The device clock is 1 hour behind the wall clock.
    const wall = 3_600_000 + 1_000;
    e.push([s(4, 1_000)], wall);
    expect(e.closeDue(wall + 9_000)).toEqual([]); // event time 10 000: end reached, grace not yet
    expect(e.closeDue(wall + 10_999)).toEqual([]);
    const [r] = e.closeDue(wall + 11_000);
    expect(r).toMatchObject({ tag: 't', value: { mean: 4 }, ts: 1_000 });
    expect(e.closeDue(wall + 50_000)).toEqual([]);
  });
});

describe('StatsEngine: quality, tags and bad input', () => {
  it('keeps tags apart', () => {
    const e = new StatsEngine({ window: 'count', size: 2, emit: 'sample', stats: ['sum'] });
    const got = e.push([s(1, 0, 'a'), s(100, 0, 'b'), s(2, 1, 'a')], 0);
    expect(got.map((r) => [r.tag, r.value.sum])).toEqual([
      ['a', 1],
      ['b', 100],
      ['a', 3],
    ]);
  });

  it('marks results bad while a bad sample is in the window, then good again', () => {
    const e = new StatsEngine({ window: 'count', size: 2, emit: 'sample', stats: ['mean'] });
    const q = [s(1, 0), s(2, 1, 't', 'bad'), s(3, 2, 't', 'uncertain'), s(4, 3), s(5, 4)].map((x) => e.push([x], 0)[0].quality);
    expect(q).toEqual(['good', 'bad', 'bad', 'uncertain', 'good']);
  });

  it('refuses text and out-of-order timestamps without touching state (a batch is all or nothing)', () => {
    const e = new StatsEngine({ window: 'count', size: 5, emit: 'sample', stats: ['count'] });
    e.push([s(1, 100)], 0);
    expect(() => e.push([s(2, 101, 'b'), s(3, 50)], 0)).toThrow(/older than the previous sample/);
    expect(() => e.push([s(2, 101, 'b'), s('high', 102)], 0)).toThrow(/must be a number/);
    expect(e.tagCount).toBe(1);
    expect(e.push([s(2, 100)], 0)[0].value.count).toBe(2);
  });

  it('skips null values (failed readings)', () => {
    const e = new StatsEngine({ window: 'count', size: 5, emit: 'sample', stats: ['count'] });
    expect(e.push([s(null, 0, 't', 'bad')], 0)).toEqual([]);
    expect(e.push([s(true, 1)], 0)[0].value.count).toBe(1);
  });

  it('bounds the number of tags and the samples of a time window', () => {
    const e = new StatsEngine({ window: 'time', size: 100, emit: 'sample', stats: ['count'], maxTags: 2, maxSamples: 3 });
    expect(() => e.push([s(1, 0, 'a'), s(1, 0, 'b'), s(1, 0, 'c')], 0)).toThrow(/at most 2/);
    e.push([s(1, 0, 'a'), s(1, 1, 'a'), s(1, 2, 'a')], 0);
    expect(() => e.push([s(1, 3, 'a')], 0)).toThrow(/already holds 3 samples/);
  });

  it('forgets one tag or all on reset', () => {
    const e = new StatsEngine({ window: 'count', size: 5, emit: 'sample', stats: ['count'] });
    e.push([s(1, 0, 'a'), s(1, 0, 'b')], 0);
    e.reset('a');
    expect(e.push([s(1, 1, 'a'), s(1, 1, 'b')], 0).map((r) => r.value.count)).toEqual([1, 2]);
    e.reset();
    expect(e.tagCount).toBe(0);
  });

  it.each([
    [{ size: 0 }, /above 0/],
    [{ size: 2.5 }, /whole number/],
    [{ stats: [] }, /at least one/],
    [{ stats: ['avg'] }, /unknown statistic "avg"/],
    [{ window: 'sliding' }, /window must be/],
  ])('refuses settings %p', (patch, msg) => {
    expect(() => new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['mean'], ...(patch as object) })).toThrow(msg);
  });
});

describe('StatsEngine: large windows (ring growth, order-statistics tree)', () => {
  /** A seeded series with many repeated values, so that equal keys are the rule, not the exception. */
  function repeats(n: number, seed = 7): number[] {
    const out: number[] = [];
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      out.push((x % 41) - 20);
    }
    return out;
  }

  it('gives the exact median, p95, min and max of a 1000-sample window full of repeated values', () => {
    const xs = repeats(6000);
    const e = new StatsEngine({ window: 'count', size: 1000, emit: 'sample', stats: ['median', 'p95', 'min', 'max', 'first', 'last', 'count'] });
    xs.forEach((x, i) => {
      const [r] = e.push([s(x, i)], i);
      if (i % 397 === 0 || i === xs.length - 1) {
        const win = xs.slice(Math.max(0, i + 1 - 1000), i + 1);
        const sorted = [...win].sort((a, b) => a - b);
        expect(r.value).toEqual({
          median: quantileSorted(sorted, 0.5),
          p95: quantileSorted(sorted, 0.95),
          min: sorted[0],
          max: sorted[sorted.length - 1],
          first: win[0],
          last: win[win.length - 1],
          count: win.length,
        });
      }
    });
  });

  it('keeps a count window larger than its first ring (5000 samples) exact', () => {
    const xs = repeats(12_000, 3).map((x, i) => x * 0.5 + Math.floor(i / 3000));
    const e = new StatsEngine({ window: 'count', size: 5000, emit: 'sample', stats: ALL });
    xs.forEach((x, i) => {
      const [r] = e.push([s(x, i)], i);
      if (i === 4095 || i === 4096 || i === 4999 || i === 5000 || i === 9_999 || i === xs.length - 1) {
        const win = xs.slice(Math.max(0, i + 1 - 5000), i + 1);
        expectClose(r.value, bruteForce(win), 20 * win.length);
        const sorted = [...win].sort((a, b) => a - b);
        expect(r.value.median).toBe(quantileSorted(sorted, 0.5));
        expect(r.value.p95).toBe(quantileSorted(sorted, 0.95));
      }
    });
  });

  it('grows a time window from a few samples to thousands and shrinks it again, staying exact', () => {
    const e = new StatsEngine({ window: 'time', size: 10, emit: 'sample', stats: ['median', 'p95', 'min', 'max', 'count', 'first', 'last'] });
    const xs = repeats(30_000, 11);
    // 1 ms apart for 20 000 samples (the window fills to 10 000), then 5 s apart (it holds 2).
    const ts = xs.map((_, i) => (i < 20_000 ? i : 20_000 + (i - 20_000) * 5000));
    const seen: Array<[number, number]> = [];
    xs.forEach((x, i) => {
      seen.push([ts[i], x]);
      const [r] = e.push([s(x, ts[i])], ts[i]);
      if (i % 1999 === 0 || i === 20_000 || i === 20_001 || i === xs.length - 1) {
        const win = seen.filter(([t]) => t > ts[i] - 10_000).map(([, v]) => v);
        const sorted = [...win].sort((a, b) => a - b);
        expect(r.value).toEqual({
          median: quantileSorted(sorted, 0.5),
          p95: quantileSorted(sorted, 0.95),
          min: sorted[0],
          max: sorted[sorted.length - 1],
          count: win.length,
          first: win[0],
          last: win[win.length - 1],
        });
      }
    });
  });

  it('computes the same mean whether or not the other statistics are kept', () => {
    const xs = repeats(3000, 5).map((x) => x * 1.25 + 1e6);
    const meanOnly = new StatsEngine({ window: 'count', size: 250, emit: 'sample', stats: ['mean'] });
    const all = new StatsEngine({ window: 'count', size: 250, emit: 'sample', stats: ALL });
    xs.forEach((x, i) => {
      const [a] = meanOnly.push([s(x, i)], i);
      const [b] = all.push([s(x, i)], i);
      expect(Object.keys(a.value)).toEqual(['mean']);
      expect(a.value.mean).toBe(b.value.mean);
    });
  });

  it('starts a tumbling window afresh after it closes, with its order statistics', () => {
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'window', stats: ['median', 'min', 'max'] });
    const got = [5, 1, 3, 2, 2, 9, 7, 7, 7].flatMap((x, i) => e.push([s(x, i)], i).map((r) => r.value));
    expect(got).toEqual([
      { median: 3, min: 1, max: 5 },
      { median: 2, min: 2, max: 9 },
      { median: 7, min: 7, max: 7 },
    ]);
  });
});

describe('result layouts (the default built by one literal, the full list by one constructor)', () => {
  it('give the same figures, keys and order as building the result property by property (property)', () => {
    fc.assert(
      fc.property(series, fc.integer({ min: 1, max: 40 }), (xs, size) => {
        const w = new RollingWindow({ extremes: true, order: true }, size);
        xs.forEach((x, i) => {
          if (w.count >= size) w.evict();
          w.push(x, i, 'good');
          for (const [list, layout] of [[DEFAULT_STATS, StatsLayout.Default], [STAT_NAMES, StatsLayout.All]] as const) {
            const fast = w.compute(list, layout);
            const listed = w.compute(list, StatsLayout.Listed);
            expect(Object.keys(fast)).toEqual([...list]);
            expect(Object.keys(listed)).toEqual([...list]);
            for (const k of list) expect(Object.is(fast[k], listed[k])).toBe(true);
            // A plain object like the literal one (the full list is built by a constructor).
            expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
            expect(fast.constructor).toBe(Object);
            expect(JSON.stringify(fast)).toBe(JSON.stringify(listed));
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  it('are chosen only for exactly those lists, in STAT_NAMES order', () => {
    expect(statsLayout(['mean', 'min', 'max', 'count', 'stddev'])).toBe(StatsLayout.Default);
    expect(statsLayout([...STAT_NAMES])).toBe(StatsLayout.All);
    expect(statsLayout(['min', 'mean', 'max', 'count', 'stddev'])).toBe(StatsLayout.Listed);
    expect(statsLayout(['mean', 'min', 'max', 'count'])).toBe(StatsLayout.Listed);
    expect(statsLayout(['mean', 'min', 'max', 'count', 'stddev', 'stddev'])).toBe(StatsLayout.Listed);
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['mean', 'min', 'max', 'count', 'stddev'] });
    expect(Object.keys(e.push([s(4, 1)], 0)[0].value)).toEqual(['mean', 'min', 'max', 'count', 'stddev']);
    expect(e.push([s(6, 2)], 0)[0].value).toEqual({ mean: 5, min: 4, max: 6, stddev: Math.SQRT2, count: 2 });
  });

  it('the engine lists statistics once each in STAT_NAMES order, whatever the order or repeats of its list (property)', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...STAT_NAMES], { minLength: 1 }), fc.array(fc.constantFrom(...STAT_NAMES), { maxLength: 3 }), series, (list, repeats, xs) => {
        const given = [...list, ...repeats.filter((r) => list.includes(r))];
        const canonical = STAT_NAMES.filter((n) => list.includes(n));
        const e = new StatsEngine({ window: 'count', size: 5, emit: 'sample', stats: given });
        const ref = new StatsEngine({ window: 'count', size: 5, emit: 'sample', stats: canonical });
        expect(e.statistics).toEqual(canonical);
        xs.forEach((x, i) => {
          const [a] = e.push([s(x, i)], 0);
          const [b] = ref.push([s(x, i)], 0);
          expect(Object.keys(a.value)).toEqual(canonical);
          expect(a.value).toEqual(b.value);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a list in another order gives the default statistics through the default build (the dialog saves STAT_NAMES order)', () => {
    const older = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['mean', 'min', 'max', 'stddev', 'count'] });
    const dflt = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: DEFAULT_STATS });
    for (const [v, t] of [[4, 1], [6, 2], [5, 3]]) {
      const a = older.push([s(v, t)], 0)[0].value;
      const b = dflt.push([s(v, t)], 0)[0].value;
      expect(Object.keys(a)).toEqual(Object.keys(b));
      expect(a).toEqual(b);
    }
    expect(older.statistics).toEqual(DEFAULT_STATS);
  });
});

describe('StatsEngine: review fixes (late readings, exact sums, refusals that change nothing)', () => {
  it('drops a late reading for a tumbling time window the timer has sent, and counts it: one result per window', () => {
    const e = new StatsEngine({ window: 'time', size: 60, emit: 'window', stats: ['count', 'mean'] });
    expect(e.push([s(10, 1000)], 1000)).toEqual([]);
    expect(e.push([s(20, 30000)], 30000)).toEqual([]);
    const timer = e.closeDue(62500);
    expect(timer.map((r) => r.value)).toEqual([{ count: 2, mean: 15 }]);
    // A delayed reading stamped inside the window the timer has just sent.
    expect(e.push([s(30, 31000)], 62600)).toEqual([]);
    expect(e.pushOne('t', 35, 'good', 32000, undefined, 62700)).toBeUndefined();
    expect(e.late).toBe(2);
    // Nothing reopened it: the next window gives nothing yet, then its own figures only.
    expect(e.push([s(40, 61000)], 63000)).toEqual([]);
    expect(e.push([s(50, 121000)], 123000).map((r) => [r.value, r.ts])).toEqual([[{ count: 1, mean: 40 }, 61000]]);
    expect(e.late).toBe(2);
  });

  it('keeps the sum of whole numbers whole in a sliding window (the shift is a value of the data)', () => {
    const e = new StatsEngine({ window: 'count', size: 6, emit: 'sample', stats: ['sum', 'mean'] });
    let last: StatsResult = {};
    [18, 6, 15, 10, 19, 6, 14, 17, 1, 16, 4].forEach((v, i) => (last = e.push([s(v, i)], 0)[0].value));
    expect(last.sum).toBe(58); // was 58.00000000000001
    expect(last.mean).toBeCloseTo(58 / 6, 14);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 20 }), (xs, size) => {
        const w = new StatsEngine({ window: 'count', size, emit: 'sample', stats: ['sum', 'mean'] });
        xs.forEach((x, i) => {
          const win = xs.slice(Math.max(0, i + 1 - size), i + 1);
          const sum = win.reduce((a, b) => a + b, 0);
          const r = w.push([s(x, i)], 0)[0].value;
          expect(r.sum).toBe(sum);
          if (sum % win.length === 0) expect(r.mean).toBe(sum / win.length);
        });
      }),
    );
  });

  it('refuses a single reading at maxSamples without moving the tag on (no new newest timestamp)', () => {
    const e = new StatsEngine({ window: 'time', size: 100, emit: 'sample', stats: ['count'], maxSamples: 3 });
    e.push([s(1, 0), s(1, 1), s(1, 2)], 0);
    expect(() => e.push([s(1, 50)], 0)).toThrow(/already holds 3 samples/);
    // Refused for room again, not as older than the refused one (the old code had taken its time).
    expect(() => e.push([s(1, 10)], 0)).toThrow(/already holds 3 samples/);
    expect(() => e.pushOne('t', 1, 'good', 10, undefined, 0)).toThrow(/already holds 3 samples/);
    expect(e.push([s(1, 100_000)], 0)[0].value.count).toBe(3); // the sample at 0 leaves
  });

  it('refuses a batch that overfills a time window as a whole: earlier samples of the batch are not taken', () => {
    const e = new StatsEngine({ window: 'time', size: 60, emit: 'sample', stats: ['count', 'sum'], maxSamples: 3 });
    e.push([s(1, 0, 'b'), s(1, 1, 'b'), s(1, 2, 'b')], 0);
    expect(() => e.push([s(10, 3, 'a'), s(10, 3, 'b')], 0)).toThrow(/tag "b": the time window already holds 3/);
    expect(e.push([s(0, 4, 'a')], 0)[0].value).toEqual({ count: 1, sum: 0 });
    // Repeats of one tag within a batch count too.
    expect(() => e.push([s(1, 5, 'c'), s(1, 6, 'c'), s(1, 7, 'c'), s(1, 8, 'c')], 0)).toThrow(/tag "c"/);
    expect(e.tagCount).toBe(2);
  });

  it('counts the room that evictions make, within a batch too', () => {
    const e = new StatsEngine({ window: 'time', size: 1, emit: 'sample', stats: ['count'], maxSamples: 3 });
    e.push([s(1, 0), s(1, 100), s(1, 200)], 0);
    // At 1060 the window holds 100, 200 and 1050: full.
    expect(() => e.push([s(1, 1050), s(1, 1060)], 0)).toThrow(/already holds 3/);
    expect(e.push([s(1, 1050), s(1, 1150)], 0).map((r) => r.value.count)).toEqual([3, 3]);
    const t = new StatsEngine({ window: 'time', size: 1, emit: 'window', stats: ['count'], maxSamples: 2 });
    expect(() => t.push([s(1, 0), s(1, 10), s(1, 20)], 0)).toThrow(/already holds 2/);
    expect(t.tagCount).toBe(0);
    // The third sample opens the next window: room again.
    expect(t.push([s(1, 0), s(1, 10), s(1, 1000)], 0).map((r) => r.value.count)).toEqual([2]);
  });

  it('refuses values whose squares would overflow (beyond 1e150), and nothing of the batch is taken', () => {
    const e = new StatsEngine({ window: 'count', size: 3, emit: 'sample', stats: ['mean', 'stddev', 'rms'] });
    expect(() => e.push([s(2e154, 0)], 0)).toThrow(/beyond ±1e150/);
    expect(() => e.push([s(-2e154, 0)], 0)).toThrow(/beyond ±1e150/);
    expect(() => e.pushOne('t', 1.5e154, 'good', 0, undefined, 0)).toThrow(/beyond ±1e150/);
    expect(() => e.push([s(1, 0, 'a'), s(1e151, 0, 'b')], 0)).toThrow(/tag "b".*beyond/);
    expect(e.tagCount).toBe(0);
    expect(e.push([s(1e150, 0)], 0)[0].value.rms).toBe(1e150);
    const r = [1, 2, 3, 4].map((v, i) => e.push([s(v, i + 1)], 0)[0].value);
    expect(r[3]).toEqual({ mean: 3, stddev: 1, rms: Math.sqrt(29 / 3) });
  });

  it('cuts time windows at whole milliseconds (16.1 s is 16100 ms, not 16100.000000000002)', () => {
    const e = new StatsEngine({ window: 'time', size: 16.1, emit: 'window', stats: ['count'] });
    e.push([s(1, 1_609_999)], 0);
    // 1,610,000 ms is 100 x 16.1 s: the start of window 100, so window 99 closes.
    expect(e.push([s(1, 1_610_000)], 0).map((r) => [r.value.count, r.ts])).toEqual([[1, 1_609_999]]);
    const sliding = new StatsEngine({ window: 'time', size: 16.1, emit: 'sample', stats: ['count'] });
    sliding.push([s(1, 0)], 0);
    // The sample at 0 leaves the window (t - 16100, t] at exactly 16100.
    expect(sliding.push([s(1, 16_100)], 0)[0].value.count).toBe(1);
  });
});
