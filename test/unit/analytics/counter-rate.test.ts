import fc from 'fast-check';
import { CounterRate, rateUnit, type RateOptions } from '../../../nodes/analytics/counter-rate';
import type { Quality, Sample } from '../../../nodes/shared/sample';

const s = (value: Sample['value'], ts: number, tag = 'c', quality: Quality = 'good'): Sample => ({ tag, value, quality, ts });
const rate = (o: Partial<RateOptions> = {}) => new CounterRate({ mode: 'rate', per: 's', rollover: 0, ...o });

describe('CounterRate: rate mode', () => {
  it('takes over a tag restored or reset after readings (no stale state of the last tag)', () => {
    const r = rate();
    r.push([s(100, 0)]);
    r.restore({ mode: 'rate', per: 's', tags: { c: { v: 500, ts: 1000, q: 'good', total: 0, c: 0 } } });
    expect(r.pushOne('c', 600, 'good', 2000, undefined)?.value).toBe(100);
    r.reset('c');
    expect(r.pushOne('c', 700, 'good', 3000, undefined)).toBeUndefined();
    expect(r.push([s(800, 4000)])).toEqual([{ tag: 'c', value: 100, quality: 'good', ts: 4000 }]);
    r.reset();
    expect(r.push([s(900, 5000)])).toEqual([]);
  });

  it('takes the first reading as baseline, then gives increase per second from event time', () => {
    const r = rate();
    expect(r.push([s(100, 0)])).toEqual([]);
    expect(r.push([s(110, 2_000)])).toEqual([{ tag: 'c', value: 5, quality: 'good', ts: 2_000 }]);
    expect(r.push([s(110, 3_000)])[0].value).toBe(0);
  });

  it('scales to per minute and per hour', () => {
    const m = rate({ per: 'min' });
    m.push([s(0, 0)]);
    expect(m.push([s(3, 1_000)])[0].value).toBe(180);
    const h = rate({ per: 'h' });
    h.push([s(0, 0)]);
    expect(h.push([s(1, 60_000)])[0].value).toBe(60);
  });

  it('counts across a 16-bit rollover and a 32-bit rollover', () => {
    const r16 = rate({ rollover: 65536 });
    r16.push([s(65530, 0)]);
    expect(r16.push([s(4, 1_000)])[0]).toMatchObject({ value: 10, quality: 'good' });
    const r32 = rate({ rollover: 4294967296 });
    r32.push([s(4294967290, 0)]);
    expect(r32.push([s(9, 1_000)])[0].value).toBe(15);
  });

  it('treats a small drop as a device reset: counts from 0, never negative, marked uncertain', () => {
    const r = rate({ rollover: 65536 });
    r.push([s(30000, 0)]);
    const [res] = r.push([s(20, 1_000)]);
    expect(res).toMatchObject({ value: 20, quality: 'uncertain', counterReset: true });
    expect(r.resets).toBe(1);
    expect(r.push([s(50, 2_000)])[0]).toEqual({ tag: 'c', value: 30, quality: 'good', ts: 2_000 });
    const plain = rate();
    plain.push([s(1e6, 0)]);
    expect(plain.push([s(3, 1_000)])[0]).toMatchObject({ value: 3, counterReset: true });
  });

  it('is never negative and equals the true rate for any counter run with wraps (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 30_000 })), { minLength: 1, maxLength: 60 }), (steps) => {
        const r = rate({ rollover: 65536 });
        let ts = 0;
        let count = 12345;
        r.push([s(count % 65536, ts)]);
        for (const [dt, inc] of steps) {
          ts += dt;
          count += inc;
          const [res] = r.push([s(count % 65536, ts)]);
          expect(res.value).toBeGreaterThanOrEqual(0);
          expect(res.value).toBeCloseTo(inc / (dt / 1000), 6);
        }
      }),
    );
  });

  it('passes the worse quality of the two readings on', () => {
    const r = rate();
    r.push([s(0, 0, 'c', 'bad')]);
    expect(r.push([s(1, 1_000)])[0].quality).toBe('bad');
    expect(r.push([s(2, 2_000)])[0].quality).toBe('good');
  });

  it('refuses counters outside the modulus, above 2^53, and timestamps that do not advance', () => {
    const r = rate({ rollover: 65536 });
    expect(() => r.push([s(65536, 0)])).toThrow(/outside 0..65535/);
    expect(() => r.push([s(-1, 0)])).toThrow(/outside/);
    expect(() => rate().push([s(2 ** 54, 0)])).toThrow(/2\^53/);
    r.push([s(5, 1_000)]);
    expect(() => r.push([s(6, 1_000)])).toThrow(/same as the previous/);
    expect(() => r.push([s(6, 500)])).toThrow(/older than/);
    expect(() => r.push([s('x', 2_000)])).toThrow(/must be a number/);
    expect(r.push([s(7, 2_000)])[0].value).toBe(2);
  });

  it('bounds the number of tags it keeps', () => {
    const r = rate({ maxTags: 1 });
    expect(() => r.push([s(1, 0, 'a'), s(1, 0, 'b')])).toThrow(/at most 1/);
    expect(r.tagCount).toBe(0);
  });

  it('skips null readings: the next reading spans the whole interval', () => {
    const r = rate();
    r.push([s(0, 0)]);
    expect(r.push([s(null, 1_000, 'c', 'bad')])).toEqual([]);
    expect(r.push([s(20, 2_000)])[0].value).toBe(10);
  });
});

describe('CounterRate: total mode', () => {
  it('integrates a rate with the trapezoid rule', () => {
    const t = new CounterRate({ mode: 'total', per: 'h', rollover: 0 });
    // 10 m3/h for 30 min, then ramping to 20 m3/h over 30 min: 5 + 7.5 = 12.5 m3.
    expect(t.push([s(10, 0)])[0].value).toBe(0);
    expect(t.push([s(10, 1_800_000)])[0].value).toBe(5);
    expect(t.push([s(20, 3_600_000)])[0].value).toBe(12.5);
  });

  it('equals a brute-force trapezoid sum for random rates and time steps (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.double({ min: -500, max: 500, noNaN: true })), { minLength: 1, maxLength: 60 }), (steps) => {
        const t = new CounterRate({ mode: 'total', per: 'min', rollover: 0 });
        let ts = 0;
        let prev = 0;
        let want = 0;
        t.push([s(prev, ts)]);
        for (const [dt, v] of steps) {
          ts += dt;
          want += ((prev + v) / 2) * (dt / 60_000);
          prev = v;
          const [r] = t.push([s(v, ts)]);
          expect(r.value as number).toBeCloseTo(want, 6);
        }
      }),
    );
  });

  it('does not drift over 30 days of 1 s samples (compensated summation)', () => {
    const t = new CounterRate({ mode: 'total', per: 's', rollover: 0 });
    let last = 0;
    for (let i = 0; i <= 86_400 * 30; i++) last = t.push([s(0.1, i * 1000)])[0].value as number;
    expect(Math.abs(last - 0.1 * 86_400 * 30)).toBeLessThan(1e-9);
  });

  it('keeps its state as a plain object that restores into a new engine (a restart)', () => {
    const a = new CounterRate({ mode: 'total', per: 's', rollover: 0 });
    a.push([s(2, 0, 'f1'), s(4, 0, 'f2')]);
    a.push([s(2, 10_000, 'f1'), s(4, 10_000, 'f2')]);
    const saved = JSON.parse(JSON.stringify(a.state));
    const b = new CounterRate({ mode: 'total', per: 's', rollover: 0 });
    expect(b.restore(saved)).toBe(2);
    expect(b.push([s(2, 20_000, 'f1')])[0].value).toBe(40);
    // Another unit or mode does not take it.
    expect(new CounterRate({ mode: 'total', per: 'h', rollover: 0 }).restore(saved)).toBe(0);
    expect(new CounterRate({ mode: 'rate', per: 's', rollover: 0 }).restore(saved)).toBe(0);
    expect(b.restore({ mode: 'total', per: 's', tags: { x: { v: 'a' } } })).toBe(0);
    expect(b.restore(null)).toBe(0);
    expect(b.tagCount).toBe(2);
  });

  it('forgets one tag or all on reset', () => {
    const t = new CounterRate({ mode: 'total', per: 's', rollover: 0 });
    t.push([s(1, 0, 'a'), s(1, 0, 'b')]);
    t.push([s(1, 1000, 'a'), s(1, 1000, 'b')]);
    t.reset('a');
    expect(t.push([s(1, 2000, 'a'), s(1, 2000, 'b')]).map((x) => x.value)).toEqual([0, 2]);
    t.reset();
    expect(t.tagCount).toBe(0);
  });

  it.each([
    [{ mode: 'count' }, /mode must be/],
    [{ per: 'd' }, /per must be/],
    [{ rollover: -1 }, /rollover must be/],
  ])('refuses settings %p', (patch, msg) => {
    expect(() => new CounterRate({ mode: 'rate', per: 's', rollover: 0, ...(patch as object) } as RateOptions)).toThrow(msg);
  });
});

describe('CounterRate: units and whole figures', () => {
  it('gives a whole rate for whole counts (delta x per / dt, not delta / dt x per)', () => {
    const r = rate({ per: 'min', rollover: 4294967296 });
    r.push([s(4294967000, 0)]);
    expect(r.push([s(704, 60_000)])[0].value).toBe(1000); // was 1000.0000000000001
    const m = rate({ per: 'min' });
    m.push([s(0, 0)]);
    expect(m.pushOne('c', 1000, 'good', 60_000, undefined)?.value).toBe(1000);
  });

  it('gives a rate the unit of the counter per the chosen time unit', () => {
    const r = rate({ per: 'min' });
    r.push([{ ...s(0, 0, 'parts'), unit: 'pcs' }]);
    expect(r.push([{ ...s(100, 60_000, 'parts'), unit: 'pcs' }])).toEqual([{ tag: 'parts', value: 100, quality: 'good', ts: 60_000, unit: 'pcs/min' }]);
    expect(r.pushOne('parts', 200, 'good', 120_000, 'pcs')?.unit).toBe('pcs/min');
    // Another unit later, and none: the result follows.
    expect(r.pushOne('parts', 300, 'good', 180_000, 'kg')?.unit).toBe('kg/min');
    expect(r.pushOne('parts', 400, 'good', 240_000, undefined)?.unit).toBeUndefined();
    expect(r.push([s(500, 300_000, 'parts')])[0]).not.toHaveProperty('unit');
  });

  it('gives a total the unit before "/per", and none when the input unit does not end so', () => {
    const t = new CounterRate({ mode: 'total', per: 'h', rollover: 0 });
    expect(t.push([{ ...s(36, 0, 'flow'), unit: 'm3/h' }])[0].unit).toBe('m3');
    expect(t.push([{ ...s(36, 3_600_000, 'flow'), unit: 'm3/h' }])).toEqual([{ tag: 'flow', value: 36, quality: 'good', ts: 3_600_000, unit: 'm3' }]);
    expect(t.pushOne('flow', 36, 'good', 7_200_000, 'm3/min')?.unit).toBeUndefined();
    expect(t.pushOne('flow', 36, 'good', 10_800_000, 'kW')?.unit).toBeUndefined();
    expect(t.pushOne('flow', 36, 'good', 14_400_000, 'l/h')?.unit).toBe('l');
  });

  it('makes result units by rateUnit', () => {
    expect(rateUnit('rate', 's', 'pcs')).toBe('pcs/s');
    expect(rateUnit('rate', 'h', undefined)).toBeUndefined();
    expect(rateUnit('rate', 'h', '')).toBeUndefined();
    expect(rateUnit('total', 'min', 'l/min')).toBe('l');
    expect(rateUnit('total', 'min', 'l/h')).toBeUndefined();
    expect(rateUnit('total', 'h', '/h')).toBeUndefined();
  });
});
