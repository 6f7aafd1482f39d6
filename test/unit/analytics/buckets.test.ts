import fc from 'fast-check';
import { Resampler, type Aggregate, type ResampleOptions } from '../../../nodes/analytics/buckets';
import type { Quality, Sample } from '../../../nodes/shared/sample';

const s = (value: Sample['value'], ts: number, tag = 't', quality: Quality = 'good'): Sample => ({ tag, value, quality, ts });
const make = (o: Partial<ResampleOptions> = {}) => new Resampler({ interval: 10, aggregate: 'mean', fill: 'none', ...o });
const pairs = (xs: Sample[]) => xs.map((x) => [x.ts, x.value]);

describe('Resampler', () => {
  it('aligns buckets to multiples of the interval since the epoch and stamps them with their start', () => {
    const r = make();
    expect(r.push([s(1, 1_700_000_003_000), s(3, 1_700_000_009_999)], 0)).toEqual([]);
    expect(r.push([s(10, 1_700_000_010_000)], 0)).toEqual([{ tag: 't', value: 2, quality: 'good', ts: 1_700_000_000_000 }]);
  });

  it.each<[Aggregate, number]>([
    ['mean', 2.5],
    ['min', 1],
    ['max', 4],
    ['last', 2],
    ['sum', 10],
    ['count', 4],
  ])('aggregates %s', (aggregate, want) => {
    const r = make({ aggregate });
    // In-bucket order does not matter: "last" is the newest timestamp, not the last to arrive.
    r.push([s(3, 1_000), s(4, 2_000), s(2, 9_000), s(1, 5_000)], 0);
    expect(r.push([s(0, 10_000)], 0)[0].value).toBe(want);
  });

  it('agrees with a brute-force grouping for random series (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 7_000 }), fc.integer({ min: -1000, max: 1000 })), { minLength: 1, maxLength: 80 }), (steps) => {
        const r = make({ interval: 5, aggregate: 'sum' });
        let ts = 0;
        const all: Array<[number, number]> = [];
        const got: Sample[] = [];
        for (const [dt, v] of steps) {
          ts += dt;
          all.push([ts, v]);
          got.push(...r.push([s(v, ts)], 0));
        }
        const want = new Map<number, number>();
        for (const [t, v] of all) want.set(Math.floor(t / 5000) * 5000, (want.get(Math.floor(t / 5000) * 5000) ?? 0) + v);
        const lastBucket = Math.floor(ts / 5000) * 5000;
        want.delete(lastBucket); // still open
        expect(pairs(got)).toEqual([...want.entries()]);
      }),
    );
  });

  it('fill previous: repeats the last value for empty buckets (count and sum give 0); fill none skips them', () => {
    const prev = make({ fill: 'previous' });
    prev.push([s(5, 1_000, 't', 'uncertain')], 0);
    expect(prev.push([s(9, 41_000)], 0).map((x) => [x.ts, x.value, x.quality, x.filled ?? false])).toEqual([
      [0, 5, 'uncertain', false],
      [10_000, 5, 'uncertain', true],
      [20_000, 5, 'uncertain', true],
      [30_000, 5, 'uncertain', true],
    ]);
    const count = make({ fill: 'previous', aggregate: 'count' });
    count.push([s(5, 1_000), s(5, 2_000)], 0);
    expect(count.push([s(9, 21_000)], 0).map((x) => x.value)).toEqual([2, 0]);
    const none = make();
    none.push([s(5, 1_000)], 0);
    expect(pairs(none.push([s(9, 41_000)], 0))).toEqual([[0, 5]]);
  });

  it('fills at most maxFill buckets of a long gap and skips the rest', () => {
    const r = make({ fill: 'previous', maxFill: 3, interval: 1 });
    r.push([s(1, 0)], 0);
    const got = r.push([s(2, 1_000_000)], 0);
    expect(pairs(got)).toEqual([[0, 1], [1000, 1], [2000, 1], [3000, 1]]);
    expect(pairs(r.push([s(3, 1_001_000)], 0))).toEqual([[1_000_000, 2]]);
  });

  it('shares the fill budget of a message among its tags: a 10,000-tag batch after a long outage fills 10 buckets a tag, not 1,000', () => {
    const r = make({ fill: 'previous', interval: 1 });
    const tags = Array.from({ length: 10_000 }, (_, i) => `t${i}`);
    r.push(tags.map((t) => s(1, 0, t)), 0);
    // 20 minutes later: 1,200 empty buckets a tag. The closed bucket 0 and 10 filled ones each.
    const got = r.push(tags.map((t) => s(2, 1_200_000, t)), 0);
    expect(got).toHaveLength(10_000 * 11);
    const first = got.filter((x) => x.tag === 't0');
    expect(pairs(first)).toEqual(Array.from({ length: 11 }, (_, k) => [k * 1000, 1]));
    expect(first.slice(1).every((x) => x.filled === true)).toBe(true);
    // The rest of the gap is skipped, as for a gap longer than maxFill: the next bucket closes next.
    expect(pairs(r.push([s(3, 1_201_000, 't0')], 0))).toEqual([[1_200_000, 2]]);
    // A message with few tags still fills up to maxFill for each.
    const few = make({ fill: 'previous', interval: 1 });
    few.push([s(1, 0, 'a'), s(1, 0, 'b')], 0);
    expect(few.push([s(2, 1_200_000, 'a'), s(2, 1_200_000, 'b')], 0)).toHaveLength(2 * 1001);
  });

  it('shares the fill budget of a timer tick among the quiet tags (a host clock that jumped an hour), catching up over the next ticks', () => {
    const r = make({ fill: 'previous', interval: 1, fillBudget: 100 });
    const tags = Array.from({ length: 20 }, (_, i) => `t${i}`);
    r.push(tags.map((t) => s(5, 0, t)), 0);
    expect(r.closeDue(2_000)).toHaveLength(20); // bucket 0 of each tag closes
    // Wall clock one hour on: 3,600 empty buckets a tag, 100 / 20 = 5 a tag this tick, and so on.
    const tick = r.closeDue(3_602_000);
    expect(tick).toHaveLength(100);
    expect(pairs(tick.filter((x) => x.tag === 't7'))).toEqual([[1000, 5], [2000, 5], [3000, 5], [4000, 5], [5000, 5]]);
    expect(pairs(r.closeDue(3_602_000).filter((x) => x.tag === 't7'))).toEqual([[6000, 5], [7000, 5], [8000, 5], [9000, 5], [10_000, 5]]);
  });

  it('drops and counts late samples for closed buckets; early order inside the open bucket is fine', () => {
    const r = make();
    r.push([s(1, 15_000)], 0);
    r.push([s(2, 25_000)], 0); // closes [10 s, 20 s)
    expect(r.push([s(100, 12_000), s(100, 3_000)], 0)).toEqual([]);
    expect(r.late).toBe(2);
    r.push([s(4, 21_000)], 0);
    expect(r.push([s(0, 30_000)], 0)[0].value).toBe(3);
  });

  it('closes a quiet bucket by the timer after the grace, in the tag event time', () => {
    const r = make({ interval: 10 });
    const skew = 3_600_000; // wall clock one hour ahead of the device
    r.push([s(7, 5_000)], 5_000 + skew);
    expect(r.closeDue(11_999 + skew)).toEqual([]); // event time 11 999 < end 10 000 + grace 2 000
    expect(r.closeDue(12_000 + skew)).toEqual([{ tag: 't', value: 7, quality: 'good', ts: 0 }]);
    expect(r.closeDue(30_000 + skew)).toEqual([]);
    // The closed bucket is closed: a sample for it is late.
    r.push([s(1, 9_000)], 40_000 + skew);
    expect(r.late).toBe(1);
  });

  it('with fill previous the timer keeps emitting held values for a quiet (report-by-exception) input', () => {
    const r = make({ interval: 10, fill: 'previous' });
    r.push([s(7, 5_000)], 5_000);
    expect(pairs(r.closeDue(12_000))).toEqual([[0, 7]]);
    expect(pairs(r.closeDue(21_999))).toEqual([]);
    expect(pairs(r.closeDue(42_000))).toEqual([[10_000, 7], [20_000, 7], [30_000, 7]]);
    expect(pairs(r.push([s(8, 45_000)], 45_000))).toEqual([]);
    expect(pairs(r.push([s(9, 50_000)], 50_000))).toEqual([[40_000, 8]]);
  });

  it('passes the worst quality of a bucket on and keeps tags apart', () => {
    const r = make();
    r.push([s(1, 0, 'a'), s(2, 0, 'b', 'bad'), s(3, 1, 'a', 'uncertain')], 0);
    expect(r.push([s(0, 10_000, 'a'), s(0, 10_000, 'b')], 0).map((x) => [x.tag, x.value, x.quality])).toEqual([
      ['a', 2, 'uncertain'],
      ['b', 2, 'bad'],
    ]);
  });

  it('refuses text, skips null, resets per tag', () => {
    const r = make();
    expect(() => r.push([s(1, 0, 'a'), s('on', 0, 'b')], 0)).toThrow(/must be a number/);
    expect(r.tagCount).toBe(0);
    expect(r.push([s(null, 0, 'a', 'bad')], 0)).toEqual([]);
    r.push([s(1, 0, 'a'), s(1, 0, 'b')], 0);
    r.reset('a');
    expect(r.push([s(1, 10_000, 'a'), s(1, 10_000, 'b')], 0).map((x) => x.tag)).toEqual(['b']);
  });

  it('bounds the number of tags it keeps', () => {
    const r = make({ maxTags: 2 });
    expect(() => r.push([s(1, 0, 'a'), s(1, 0, 'b'), s(1, 0, 'c')], 0)).toThrow(/at most 2/);
    expect(r.tagCount).toBe(0);
  });

  it.each([
    [{ interval: 0 }, /interval/],
    [{ interval: NaN }, /interval/],
    [{ aggregate: 'avg' }, /aggregate/],
    [{ fill: 'linear' }, /fill/],
  ])('refuses settings %p', (patch, msg) => {
    expect(() => make(patch as Partial<ResampleOptions>)).toThrow(msg);
  });
});

describe('Resampler: whole-millisecond intervals', () => {
  it('cuts buckets at whole milliseconds (16.1 s is 16100 ms, not 16100.000000000002)', () => {
    const r = make({ interval: 16.1, aggregate: 'last' });
    // 1,610,000 ms is exactly 100 x 16.1 s: the start of bucket 100.
    expect(r.bucketOf(1_610_000)).toBe(100);
    r.push([s(1, 1_610_000)], 0);
    const [out] = r.push([s(2, 1_700_000_000_000)], 0);
    expect(out).toEqual({ tag: 't', value: 1, quality: 'good', ts: 1_610_000 });
    // Far from the epoch too, every edge is a whole number of milliseconds.
    expect(r.push([s(3, 1_700_000_016_100)], 0).map((x) => Number.isInteger(x.ts))).toEqual([true]);
  });
});
