import fc from 'fast-check';
import { DeadbandFilter, type DeadbandOptions } from '../../../nodes/analytics/deadband-filter';
import { SwingingDoor } from '../../../nodes/analytics/swinging-door';
import type { Quality, Sample } from '../../../nodes/shared/sample';

const s = (value: Sample['value'], ts: number, tag = 't', quality: Quality = 'good'): Sample => ({ tag, value, quality, ts });
const opts = (o: Partial<DeadbandOptions>): DeadbandOptions => ({
  mode: 'absolute',
  deadband: 1,
  deviation: 1,
  rangeLow: 0,
  rangeHigh: 100,
  heartbeat: 0,
  ...o,
});
const values = (xs: Sample[]) => xs.map((x) => x.value);

describe('DeadbandFilter: absolute and percent', () => {
  it('passes the first value and then only moves of more than the deadband from the last passed one', () => {
    const f = new DeadbandFilter(opts({ deadband: 1 }));
    const got = [10, 10.5, 11, 11.01, 10.2, 9.9, 12.5].flatMap((v, i) => f.push([s(v, i)], 0));
    // 11 is exactly 1 away: not more than the deadband. 11.01 is. 9.9 is 1.11 from 11.01.
    expect(values(got)).toEqual([10, 11.01, 9.9, 12.5]);
  });

  it('measures percent against the span rangeLow..rangeHigh', () => {
    const f = new DeadbandFilter(opts({ mode: 'percent', deadband: 2, rangeLow: 4, rangeHigh: 20 }));
    expect(f.absoluteBand).toBeCloseTo(0.32, 12);
    const got = [10, 10.3, 10.33, 10.5, 10.7].flatMap((v, i) => f.push([s(v, i)], 0));
    expect(values(got)).toEqual([10, 10.33, 10.7]);
  });

  it('passes a quality change even without a value change, and a boolean or null whenever it changes', () => {
    const f = new DeadbandFilter(opts({ deadband: 5 }));
    const seq = [s(1, 0), s(1, 1, 't', 'bad'), s(1, 2, 't', 'bad'), s(1, 3), s(null, 4), s(null, 5), s(true, 6), s(true, 7), s(false, 8)];
    const got = seq.flatMap((x) => f.push([x], 0));
    expect(got.map((x) => [x.value, x.quality])).toEqual([
      [1, 'good'],
      [1, 'bad'],
      [1, 'good'],
      [null, 'good'],
      [true, 'good'],
      [false, 'good'],
    ]);
  });

  it('with a deadband of 0 drops exact repeats only', () => {
    const f = new DeadbandFilter(opts({ deadband: 0 }));
    expect(values([1, 1, 1.0000001, 1.0000001, 2].flatMap((v, i) => f.push([s(v, i)], 0)))).toEqual([1, 1.0000001, 2]);
  });

  it('keeps tags apart', () => {
    const f = new DeadbandFilter(opts({ deadband: 1 }));
    const got = f.push([s(0, 0, 'a'), s(0, 0, 'b'), s(0.5, 1, 'a'), s(2, 1, 'b')], 0);
    expect(got.map((x) => `${x.tag}=${x.value}`)).toEqual(['a=0', 'b=0', 'b=2']);
  });

  it('never passes a value whose distance from the last passed one is within the deadband (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 80 }), fc.double({ min: 0, max: 50, noNaN: true }), (xs, band) => {
        const f = new DeadbandFilter(opts({ deadband: band }));
        let last: number | undefined;
        xs.forEach((x, i) => {
          const got = f.push([s(x, i)], 0);
          const shouldPass = last === undefined || Math.abs(x - last) > band;
          expect(got.length).toBe(shouldPass ? 1 : 0);
          if (shouldPass) last = x;
        });
      }),
    );
  });
});

describe('DeadbandFilter: heartbeat', () => {
  it('re-sends the last passed value, stamped in the tag\'s event time and flagged, once per heartbeat period', () => {
    const f = new DeadbandFilter(opts({ deadband: 10, heartbeat: 5 }));
    f.push([s(1, 100)], 1_000);
    f.push([s(2, 200)], 2_000); // inside the deadband: not passed
    expect(f.heartbeats(5_999)).toEqual([]);
    // The newest sample (ts 200, arrived at 2,000) plus the 4,000 ms since: 4,200.
    expect(f.heartbeats(6_000)).toEqual([{ tag: 't', value: 1, quality: 'good', ts: 4_200, heartbeat: true }]);
    expect(f.heartbeats(10_999)).toEqual([]);
    expect(f.heartbeats(11_000)).toEqual([{ tag: 't', value: 1, quality: 'good', ts: 9_200, heartbeat: true }]);
  });

  it('keeps a tag\'s output in time order when the device clock runs behind the host: the next sample is newer than the heartbeat', () => {
    const H0 = Date.UTC(2026, 5, 1, 12);
    const skew = -120_000; // the PLC clock runs 2 min behind the host
    const f = new DeadbandFilter(opts({ deadband: 1, heartbeat: 60 }));
    const downstream = new DeadbandFilter(opts({ deadband: 1 })); // any node that refuses an older timestamp
    const out = [
      ...f.push([s(10, H0 + skew)], H0),
      ...f.heartbeats(H0 + 60_000),
      ...f.push([s(20, H0 + 61_000 + skew)], H0 + 61_000),
      ...f.heartbeats(H0 + 121_000),
      ...f.heartbeats(H0 + 181_000),
    ];
    expect(out.map((x) => [x.ts - H0, x.heartbeat === true])).toEqual([[skew, false], [60_000 + skew, true], [61_000 + skew, false], [121_000 + skew, true], [181_000 + skew, true]]);
    for (const x of out) expect(() => downstream.push([x], 0)).not.toThrow();
    // One pushOne sample notes its arrival as well.
    const one = new DeadbandFilter(opts({ deadband: 1, heartbeat: 60 }));
    one.pushOne('t', 10, 'good', H0 + skew, undefined, H0);
    expect(one.heartbeats(H0 + 60_000).map((x) => x.ts)).toEqual([H0 + 60_000 + skew]);
  });

  it('lets a sample through when the heartbeat is due at its arrival', () => {
    const f = new DeadbandFilter(opts({ deadband: 10, heartbeat: 5 }));
    f.push([s(1, 0)], 0);
    expect(f.push([s(2, 1)], 4_000)).toEqual([]);
    expect(values(f.push([s(2, 2)], 5_000))).toEqual([2]);
  });
});

describe('Swinging door', () => {
  // Worked series, deviation 0.5 (times in ms):
  // t:  0  1  2  3  4  5  6  7  8  9  10
  // v:  0  1  2  3  3  3  3  3  0  0  0.2
  // From A=(0,0) the doors narrow to [0.833, 0.875] at t=4; t=5 gives upper 0.7 < lower 0.833: the door
  // closes and the held point (4,3) is archived. From (4,3), t=8 closes (upper -0.625 < lower -0.167):
  // (7,3) archived. From (7,3), t=9 closes at once (upper -2.5 < lower -1.75): (8,0) archived. (10,0.2)
  // stays held until flushed.
  const series: Array<[number, number]> = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 3], [5, 3], [6, 3], [7, 3], [8, 0], [9, 0], [10, 0.2]];

  it('archives the known answer of the worked series, one point late, with the points own timestamps', () => {
    const f = new DeadbandFilter(opts({ mode: 'swinging-door', deviation: 0.5 }));
    const got = series.flatMap(([t, v]) => f.push([s(v, t)], 0).map((x) => [x.ts, x.value]));
    expect(got).toEqual([[0, 0], [4, 3], [7, 3], [8, 0]]);
    expect(f.flush().map((x) => [x.ts, x.value])).toEqual([[10, 0.2]]);
    expect(f.flush()).toEqual([]);
  });

  it('keeps every dropped point within 3 x deviation of the line between archived points (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 100 }), fc.double({ min: 0.01, max: 10, noNaN: true }), (xs, dev) => {
        const door = new SwingingDoor(dev);
        const kept = xs.flatMap((v, t) => door.push({ v, ts: t, q: 'good' }));
        kept.push(...door.flush());
        expect(kept[0].ts).toBe(0);
        expect(kept[kept.length - 1].ts).toBe(xs.length - 1);
        for (let i = 1; i < kept.length; i++) {
          const a = kept[i - 1];
          const b = kept[i];
          for (let t = a.ts + 1; t < b.ts; t++) {
            const line = a.v + ((b.v - a.v) * (t - a.ts)) / (b.ts - a.ts);
            expect(Math.abs(xs[t] - line)).toBeLessThanOrEqual(3 * dev + 1e-9);
          }
        }
      }),
    );
  });

  it('compresses a straight line to its two ends', () => {
    const f = new DeadbandFilter(opts({ mode: 'swinging-door', deviation: 0.1 }));
    const got = Array.from({ length: 50 }, (_, t) => f.push([s(2 * t + 1, t * 1000)], 0)).flat();
    expect(values([...got, ...f.flush()])).toEqual([1, 99]);
  });

  it('archives the held point and the new one on a quality change', () => {
    const f = new DeadbandFilter(opts({ mode: 'swinging-door', deviation: 1 }));
    const got = [s(0, 0), s(0.1, 1), s(0.2, 2), s(0.2, 3, 't', 'bad')].flatMap((x) => f.push([x], 0));
    expect(got.map((x) => [x.ts, x.quality])).toEqual([[0, 'good'], [2, 'good'], [3, 'bad']]);
  });

  it('archives the held point on the heartbeat as real data (unflagged), then repeats it flagged', () => {
    const f = new DeadbandFilter(opts({ mode: 'swinging-door', deviation: 1, heartbeat: 10 }));
    f.push([s(0, 0), s(0.5, 1000)], 0);
    expect(f.heartbeats(10_000)).toEqual([{ tag: 't', value: 0.5, quality: 'good', ts: 1000 }]);
    // In the tag's event time: its newest sample (ts 1,000, arrived at 0) plus 20,000 ms.
    expect(f.heartbeats(20_000)).toEqual([{ tag: 't', value: 0.5, quality: 'good', ts: 21_000, heartbeat: true }]);
  });

  it('refuses a repeated timestamp (the door slopes divide by the time step)', () => {
    const f = new DeadbandFilter(opts({ mode: 'swinging-door' }));
    f.push([s(1, 5)], 0);
    expect(() => f.push([s(2, 5)], 0)).toThrow(/same as the previous/);
  });
});

describe('DeadbandFilter: bad input and settings', () => {
  it('refuses text and timestamps that go back, leaving state as it was', () => {
    const f = new DeadbandFilter(opts({ deadband: 1 }));
    f.push([s(1, 10)], 0);
    expect(() => f.push([s(5, 11, 'b'), s(9, 9)], 0)).toThrow(/older than/);
    expect(() => f.push([s('open', 12)], 0)).toThrow(/must be a number/);
    expect(f.tagCount).toBe(1);
    expect(values(f.push([s(5, 12, 'b')], 0))).toEqual([5]);
  });

  it('forgets a tag on reset so that its next value passes', () => {
    const f = new DeadbandFilter(opts({ deadband: 100 }));
    f.push([s(1, 0, 'a'), s(1, 0, 'b')], 0);
    f.reset('a');
    expect(f.push([s(2, 1, 'a'), s(2, 1, 'b')], 0).map((x) => x.tag)).toEqual(['a']);
    f.reset();
    expect(f.tagCount).toBe(0);
  });

  it('bounds the number of tags it keeps', () => {
    const f = new DeadbandFilter(opts({ maxTags: 2 }));
    expect(() => f.push([s(1, 0, 'a'), s(1, 0, 'b'), s(1, 0, 'c')], 0)).toThrow(/at most 2/);
    expect(f.tagCount).toBe(0);
    f.push([s(1, 0, 'a'), s(1, 0, 'b')], 0);
    expect(() => f.push([s(1, 1, 'c')], 0)).toThrow(/at most 2/);
  });

  it.each([
    [{ deadband: -1 }, /deadband must be 0 or more/],
    [{ mode: 'percent', rangeLow: 5, rangeHigh: 5 }, /must differ/],
    [{ heartbeat: NaN }, /heartbeat must be a finite number/],
    [{ mode: 'rbe' }, /mode must be/],
  ])('refuses settings %p', (patch, msg) => {
    expect(() => new DeadbandFilter(opts(patch as Partial<DeadbandOptions>))).toThrow(msg);
  });
});
