import fc from 'fast-check';
import { SortedValues } from '../../../nodes/analytics/sorted-values';
import { quantileSorted } from '../../../nodes/analytics/window';

/**
 * The reference: the window's values (oldest first) stable-sorted by `<`, so equal values, -0 and
 * 0 among them, keep their arrival order, as SortedValues promises.
 */
function stableSorted(window: readonly number[]): number[] {
  return window
    .map((v, i) => [v, i] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : b[0] < a[0] ? 1 : a[1] - b[1]))
    .map(([v]) => v);
}

/** Every rank of `s` against the reference, bit for bit (Object.is tells -0 from 0). */
function expectRanks(s: SortedValues, window: readonly number[]): void {
  const ref = stableSorted(window);
  expect(s.count).toBe(window.length);
  const got = ref.map((_, k) => s.kth(k));
  got.forEach((v, k) => expect(Object.is(v, ref[k])).toBe(true));
}

describe('SortedValues', () => {
  // Values with many ties and both zeros; operations: a value in, the oldest out, or a read.
  const valueArb = fc.oneof(fc.constantFrom(0, -0, 1, -1, 2), fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
  const opArb = fc.oneof(
    fc.record({ in: valueArb }),
    fc.constant({ out: true as const }),
    fc.constant({ read: true as const }),
  );

  it('holds a sliding window in stable sorted order through any mix of arrivals, departures and reads (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), fc.integer({ min: 1, max: 8 }), (ops, capacity) => {
        const s = new SortedValues(capacity);
        const window: number[] = [];
        for (const op of ops) {
          if ('in' in op) {
            s.insert(op.in);
            window.push(op.in);
          } else if ('out' in op) {
            if (window.length === 0) continue;
            s.remove(window.shift()!);
          } else expectRanks(s, window);
        }
        expectRanks(s, window);
      }),
      { numRuns: 300 },
    );
  });

  it('as a full window turning over (one out, one in: the joint move), ranks and quantiles stay exact (property)', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1, max: 20 }), (xs, size) => {
        const s = new SortedValues(size);
        const window: number[] = [];
        xs.forEach((x) => {
          if (window.length === size) s.remove(window.shift()!);
          s.insert(x);
          window.push(x);
          const ref = stableSorted(window);
          for (const p of [0, 0.5, 0.95, 1]) expect(Object.is(s.quantile(p), quantileSorted(ref, p))).toBe(true);
        });
        expectRanks(s, window);
      }),
      { numRuns: 300 },
    );
  });

  it('grows past its first capacity and keeps the values held, clear() empties it', () => {
    const s = new SortedValues(2);
    const window = [5, -0, 3, 0, 3, -7, 11];
    window.forEach((x) => s.insert(x));
    expectRanks(s, window);
    s.remove(5);
    expectRanks(s, window.slice(1));
    s.clear();
    expect(s.count).toBe(0);
    s.insert(4);
    expectRanks(s, [4]);
  });
});
