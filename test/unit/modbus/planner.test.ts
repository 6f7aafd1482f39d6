import fc from 'fast-check';
import { registerCount } from '../../../nodes/modbus/codec';
import { planReadBlocks } from '../../../nodes/modbus/planner';
import { isBitArea, type Area, type PlanLimits, type ReadBlock, type TagDef } from '../../../nodes/modbus/types';
import { ConfigError } from '../../../nodes/shared/errors';

const limits: PlanLimits = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };
const reg = (name: string, address: number, type: TagDef['type'] = 'uint16', extra: Partial<TagDef> = {}): TagDef => ({
  name,
  area: 'holding',
  address,
  type,
  ...extra,
});

describe('planReadBlocks', () => {
  it('coalesces neighbours, reads through small gaps, splits at large ones', () => {
    const tags = [reg('a', 0), reg('b', 1, 'float32'), reg('c', 10), reg('d', 30)];
    const plan = planReadBlocks(tags, limits);
    expect(plan.map((b) => [b.area, b.start, b.count, b.tags.map((t) => t.name)])).toEqual([
      ['holding', 0, 11, ['a', 'b', 'c']],
      ['holding', 30, 1, ['d']],
    ]);
  });

  it('keeps areas apart and orders them holding, input, coil, discrete', () => {
    const tags: TagDef[] = [
      { name: 'x', area: 'discrete', address: 0, type: 'bool' },
      { name: 'y', area: 'coil', address: 0, type: 'bool' },
      { name: 'z', area: 'input', address: 0, type: 'int16' },
      reg('w', 0),
    ];
    expect(planReadBlocks(tags, limits).map((b) => b.area)).toEqual(['holding', 'input', 'coil', 'discrete']);
  });

  it('splits at maxRegisters and maxBits', () => {
    const regs = Array.from({ length: 130 }, (_, i) => reg(`r${i}`, i));
    expect(planReadBlocks(regs, limits).map((b) => b.count)).toEqual([125, 5]);
    const bits: TagDef[] = Array.from({ length: 30 }, (_, i) => ({ name: `b${i}`, area: 'coil', address: i, type: 'bool' }));
    expect(planReadBlocks(bits, { ...limits, maxBits: 16 }).map((b) => [b.start, b.count])).toEqual([
      [0, 16],
      [16, 14],
    ]);
  });

  it('covers duplicate and overlapping tags in one block', () => {
    const tags = [reg('a', 4, 'float32'), reg('a2', 4, 'float32'), reg('lo', 5), reg('wide', 3, 'float64')];
    const plan = planReadBlocks(tags, limits);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ start: 3, count: 4 });
    expect(plan[0].tags).toHaveLength(4);
  });

  it('does not split a tag: a tag wider than a request is a ConfigError', () => {
    expect(() => planReadBlocks([reg('s', 0, 'string', { length: 100 })], { ...limits, maxRegisters: 50 })).toThrow(ConfigError);
    expect(() => planReadBlocks([reg('s', 0, 'string', { length: 100 })], { ...limits, maxRegisters: 50 })).toThrow(/"s" spans 100 registers/);
    expect(() => planReadBlocks([reg('f', 0, 'float64')], { ...limits, maxRegisters: 2 })).toThrow(ConfigError);
  });

  it('rejects bad limits and bad tags', () => {
    expect(() => planReadBlocks([reg('a', 0)], { ...limits, maxRegisters: 126 })).toThrow(/maxRegisters/);
    expect(() => planReadBlocks([reg('a', 0)], { ...limits, maxBits: 0 })).toThrow(/maxBits/);
    expect(() => planReadBlocks([reg('a', 0)], { ...limits, maxGap: -1 })).toThrow(/maxGap/);
    expect(() => planReadBlocks([reg('a', 0)], { ...limits, maxGap: NaN })).toThrow(/maxGap/);
    expect(() => planReadBlocks([reg('a', -1)], limits)).toThrow(ConfigError);
    expect(() => planReadBlocks('x' as unknown as TagDef[], limits)).toThrow(ConfigError);
    expect(planReadBlocks([], limits)).toEqual([]);
  });
});

// ---- properties -------------------------------------------------------------------------------

interface Span {
  start: number;
  end: number;
}
const spanOf = (t: TagDef): Span => ({ start: t.address, end: t.address + registerCount(t) });
const limitOf = (area: Area, l: PlanLimits) => (isBitArea(area) ? l.maxBits : l.maxRegisters);

/** Longest run of addresses in [start, end) that no tag of the area includes. */
function longestUnusedRun(start: number, end: number, areaTags: Span[]): number {
  let longest = 0;
  let run = 0;
  for (let a = start; a < end; a++) {
    if (areaTags.some((s) => a >= s.start && a < s.end)) run = 0;
    else longest = Math.max(longest, ++run);
  }
  return longest;
}

/** The simple plan: one block per tag, merged with the previous one only when adjacent or overlapping. */
function referencePlan(tags: TagDef[], l: PlanLimits): number {
  let blocks = 0;
  for (const area of ['holding', 'input', 'coil', 'discrete'] as Area[]) {
    const spans = tags.filter((t) => t.area === area).map(spanOf).sort((a, b) => a.start - b.start);
    let cur: Span | undefined;
    for (const s of spans) {
      if (cur && s.start <= cur.end && Math.max(cur.end, s.end) - cur.start <= limitOf(area, l)) cur.end = Math.max(cur.end, s.end);
      else {
        cur = { ...s };
        blocks++;
      }
    }
  }
  return blocks;
}

/** The optimum by exhaustive search: every candidate range, then a minimum set cover over subsets. */
function bruteForceOptimum(tags: TagDef[], l: PlanLimits): number {
  let total = 0;
  for (const area of ['holding', 'input', 'coil', 'discrete'] as Area[]) {
    const spans = tags.filter((t) => t.area === area).map(spanOf);
    if (!spans.length) continue;
    const n = spans.length;
    const covers: number[] = [];
    for (const s of spans) {
      for (const e of spans) {
        const start = s.start;
        const end = e.end;
        if (end <= start || end - start > limitOf(area, l)) continue;
        if (longestUnusedRun(start, end, spans) > l.maxGap) continue;
        let mask = 0;
        spans.forEach((t, i) => {
          if (t.start >= start && t.end <= end) mask |= 1 << i;
        });
        covers.push(mask);
      }
    }
    const full = (1 << n) - 1;
    const best = new Array<number>(1 << n).fill(Infinity);
    best[0] = 0;
    for (let m = 0; m <= full; m++) {
      if (best[m] === Infinity) continue;
      for (const c of covers) best[m | c] = Math.min(best[m | c], best[m] + 1);
    }
    total += best[full];
  }
  return total;
}

const tagArb = (maxAddress: number) =>
  fc.oneof(
    fc.record({
      area: fc.constantFrom<Area>('holding', 'input'),
      address: fc.integer({ min: 0, max: maxAddress }),
      type: fc.constantFrom<TagDef['type']>('uint16', 'int32', 'float64', 'bool', 'string'),
      length: fc.integer({ min: 1, max: 6 }),
    }),
    fc.record({
      area: fc.constantFrom<Area>('coil', 'discrete'),
      address: fc.integer({ min: 0, max: maxAddress }),
      type: fc.constant<TagDef['type']>('bool'),
      length: fc.constant(1),
    }),
  );

const tagsArb = (maxTags: number, maxAddress: number) =>
  fc.array(tagArb(maxAddress), { minLength: 0, maxLength: maxTags }).map((list) => list.map((t, i) => ({ name: `t${i}`, ...t }) as TagDef));

const limitsArb = fc.record({
  maxRegisters: fc.integer({ min: 6, max: 20 }),
  maxBits: fc.integer({ min: 1, max: 20 }),
  maxGap: fc.integer({ min: 0, max: 6 }),
});

function checkPlan(tags: TagDef[], l: PlanLimits, plan: ReadBlock[]): void {
  // every tag once, wholly inside a block of its area
  const seen = plan.flatMap((b) => b.tags);
  expect(seen).toHaveLength(tags.length);
  expect(new Set(seen)).toEqual(new Set(tags));
  for (const b of plan) {
    expect(b.count).toBeGreaterThan(0);
    expect(b.count).toBeLessThanOrEqual(limitOf(b.area, l));
    for (const t of b.tags) {
      expect(t.area).toBe(b.area);
      const s = spanOf(t);
      expect(s.start).toBeGreaterThanOrEqual(b.start);
      expect(s.end).toBeLessThanOrEqual(b.start + b.count);
    }
    // no gap over maxGap between consecutive tags: counted against the block's own tags, the
    // stricter reading (the brute force uses the looser one, addresses no tag of the area uses)
    expect(longestUnusedRun(b.start, b.start + b.count, b.tags.map(spanOf))).toBeLessThanOrEqual(l.maxGap);
  }
}

describe('planReadBlocks properties', () => {
  it('covers every tag within the limits, never more blocks than the simple plan', () => {
    fc.assert(
      fc.property(tagsArb(40, 300), limitsArb, (tags, l) => {
        const plan = planReadBlocks(tags, l);
        checkPlan(tags, l, plan);
        expect(plan.length).toBeLessThanOrEqual(referencePlan(tags, l));
      }),
      { numRuns: 300 },
    );
  });

  it('equals the brute-force optimum on small inputs', () => {
    fc.assert(
      fc.property(tagsArb(7, 30), limitsArb, (tags, l) => {
        const plan = planReadBlocks(tags, l);
        checkPlan(tags, l, plan);
        expect(plan.length).toBe(bruteForceOptimum(tags, l));
      }),
      { numRuns: 500 },
    );
  });
});
