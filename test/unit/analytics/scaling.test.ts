import fc from 'fast-check';
import { LinearScale } from '../../../nodes/analytics/scaling';

const base = { tag: 't', quality: 'good' as const, ts: 0 };

describe('LinearScale', () => {
  const loop = new LinearScale({ inLow: 4, inHigh: 20, outLow: 0, outHigh: 10, clamp: false });

  it('maps a 4-20 mA loop onto 0-10 bar', () => {
    expect(loop.apply({ ...base, value: 4 }).value).toBe(0);
    expect(loop.apply({ ...base, value: 12 }).value).toBe(5);
    expect(loop.apply({ ...base, value: 20 }).value).toBe(10);
  });

  it('marks out-of-range input uncertain and clamps only when asked', () => {
    expect(loop.apply({ ...base, value: 0 })).toMatchObject({ value: -2.5, quality: 'uncertain' });
    const clamped = new LinearScale({ inLow: 4, inHigh: 20, outLow: 0, outHigh: 10, clamp: true });
    expect(clamped.apply({ ...base, value: 0 })).toMatchObject({ value: 0, quality: 'uncertain' });
    expect(clamped.apply({ ...base, value: 25 })).toMatchObject({ value: 10, quality: 'uncertain' });
  });

  it('replaces the unit only when an output unit is set', () => {
    expect(loop.apply({ ...base, value: 12, unit: 'mA' }).unit).toBe('mA');
    const bar = new LinearScale({ inLow: 4, inHigh: 20, outLow: 0, outHigh: 10, clamp: false, unit: 'bar' });
    expect(bar.apply({ ...base, value: 12, unit: 'mA' })).toMatchObject({ value: 5, unit: 'bar' });
    expect(bar.apply({ ...base, value: null, unit: 'mA' }).unit).toBe('bar');
  });

  it('keeps bad quality bad and passes null through', () => {
    expect(loop.apply({ ...base, value: 30, quality: 'bad' }).quality).toBe('bad');
    expect(loop.apply({ ...base, value: null, quality: 'bad' })).toMatchObject({ value: null, quality: 'bad' });
  });

  it('refuses text and a zero-width input range', () => {
    expect(() => loop.apply({ ...base, value: 'x' })).toThrow(/must be a number/);
    expect(() => new LinearScale({ inLow: 1, inHigh: 1, outLow: 0, outHigh: 1, clamp: false })).toThrow(/differ/);
    expect(() => new LinearScale({ inLow: NaN, inHigh: 1, outLow: 0, outHigh: 1, clamp: false })).toThrow(/finite/);
  });

  it('is invertible: scaling back with swapped ranges returns the input', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e3, max: 1e3, noNaN: true }), (x, lo) => {
        const hi = lo + 16;
        const fwd = new LinearScale({ inLow: lo, inHigh: hi, outLow: -50, outHigh: 150, clamp: false });
        const back = new LinearScale({ inLow: -50, inHigh: 150, outLow: lo, outHigh: hi, clamp: false });
        expect(back.scale(fwd.scale(x).value).value).toBeCloseTo(x, 3);
      }),
    );
  });
});

describe('LinearScale: exact ends and clamp', () => {
  it('maps the ends of the input range exactly onto the ends of the output range', () => {
    const plc = new LinearScale({ inLow: 0, inHigh: 27648, outLow: 0, outHigh: 6.9, clamp: true });
    expect(plc.apply({ ...base, value: 27648 })).toMatchObject({ value: 6.9, quality: 'good' }); // was 6.900000000000001
    expect(plc.apply({ ...base, value: 0 }).value).toBe(0);
    const reversed = new LinearScale({ inLow: 100, inHigh: 250, outLow: 2.5, outHigh: 0.1, clamp: false });
    expect(reversed.scale(250).value).toBe(0.1); // was 0.10000000000000009
    expect(reversed.scale(100).value).toBe(2.5);
  });

  it('with clamp keeps every result within the output range; the ends are exact (property)', () => {
    const num = fc.double({ min: -1e5, max: 1e5, noNaN: true });
    fc.assert(
      fc.property(num, num, num, num, fc.double({ min: 0, max: 1, noNaN: true }), (inLow, inHigh, outLow, outHigh, f) => {
        fc.pre(inLow !== inHigh);
        const sc = new LinearScale({ inLow, inHigh, outLow, outHigh, clamp: true });
        // === rather than toBe: 0 and -0 are the same end.
        expect(sc.scale(inLow).value === outLow).toBe(true);
        expect(sc.scale(inHigh).value === outHigh).toBe(true);
        const v = sc.scale(inLow + f * (inHigh - inLow)).value;
        expect(v).toBeGreaterThanOrEqual(Math.min(outLow, outHigh));
        expect(v).toBeLessThanOrEqual(Math.max(outLow, outHigh));
      }),
    );
  });
});
