/**
 * Poll planning (DESIGN.md section 4): the fewest read requests that cover every tag, within
 * `maxRegisters` (FC3/FC4) or `maxBits` (FC1/FC2) per request and reading through at most
 * `maxGap` unused registers (or bits). No node-red import.
 *
 * Definitions. Per area, a tag is the interval [address, address + registerCount). A block is a
 * contiguous range; it covers a tag that lies wholly inside it. An address is *unused* when no
 * tag of the area (in any block) includes it; a block may not contain a run of more than `maxGap`
 * unused addresses, because unused addresses are where a device answers "illegal data address"
 * (Modbus Application Protocol V1.1b3, 6.3, exception 02). Registers of a tag that another block
 * reads are real registers, so reading through them is safe.
 *
 * Why the greedy sweep is optimal. Cut the area at every run of more than `maxGap` unused
 * addresses: no block can contain such a run, so the pieces ("clusters") are independent, and
 * inside a cluster any range satisfies the gap rule. What is left in a cluster is: cover
 * intervals of length <= L with the fewest windows of length <= L, each interval wholly inside
 * one window. Let s be the smallest start of the intervals not yet covered. Some window W must
 * cover that interval, so W starts at or before s; sliding W right until it starts at s loses
 * nothing, because no uncovered interval starts before s and W's end only moves right. So some
 * optimal plan's next window is [s, s + L). The sweep below opens a block at s and adds tags in
 * start order while they end by s + L; the first tag T that does not fit opens the next block at
 * T.start. Every tag after T in start order that [s, s + L) could have covered starts at or after
 * T.start and ends by s + L <= T.start + L, so the next block covers it too: after k blocks the
 * sweep has covered every tag the k optimal windows [s_i, s_i + L) cover, and its next block starts
 * at the same smallest uncovered start. Hence it uses exactly as many blocks as the optimum.
 * Duplicate and overlapping tags need nothing special: a tag inside the current block costs
 * nothing. (test/unit/modbus/planner.test.ts checks it against a brute-force optimum.)
 *
 * The plan also meets the stricter reading of the gap rule, counted against each block's own
 * tags: a tag that opens a block ends after every tag of the blocks before it (it did not fit
 * them), so no earlier block's tag reaches into a gap of a later block, and a later tag that
 * started in such a gap would have been taken into the block (blocks follow start order). Since
 * the stricter rule admits fewer blocks, the plan is optimal under it too.
 */
import { ConfigError } from '../shared/errors';
import { registerCount, validateTag } from './codec';
import { AREAS, isBitArea, type Area, type PlanLimits, type ReadBlock, type TagDef } from './types';

/** Modbus Application Protocol V1.1b3, 6.1-6.4: quantity limits of FC1/FC2 and FC3/FC4. */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
export const DEFAULT_LIMITS: Readonly<PlanLimits> = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };

/** Throws ConfigError when a limit is not an integer within what Modbus allows. */
export function validateLimits(limits: PlanLimits): void {
  const check = (name: keyof PlanLimits, lo: number, hi: number) => {
    const v = limits?.[name];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${name} must be an integer ${lo}-${hi}, not ${String(v)}`);
  };
  check('maxRegisters', 1, MAX_READ_REGISTERS);
  check('maxBits', 1, MAX_READ_BITS);
  check('maxGap', 0, 65535);
}

/**
 * Plans the read requests of one poll. Returns blocks ordered by area (holding, input, coil,
 * discrete) then start address; each tag appears in exactly one block's `tags`, in address order.
 * Throws ConfigError for an invalid tag or limit, or a tag wider than one request may read.
 */
export function planReadBlocks(tags: readonly TagDef[], limits: PlanLimits): ReadBlock[] {
  if (!Array.isArray(tags)) throw new ConfigError('tags must be an array');
  validateLimits(limits);
  const byArea = new Map<Area, TagDef[]>();
  for (const tag of tags) {
    validateTag(tag);
    const list = byArea.get(tag.area) ?? [];
    list.push(tag);
    byArea.set(tag.area, list);
  }
  const blocks: ReadBlock[] = [];
  for (const area of AREAS) {
    const list = byArea.get(area);
    if (list) planArea(area, list, isBitArea(area) ? limits.maxBits : limits.maxRegisters, limits.maxGap, blocks);
  }
  return blocks;
}

function planArea(area: Area, tags: TagDef[], limit: number, maxGap: number, out: ReadBlock[]): void {
  const unit = isBitArea(area) ? 'bits' : 'registers';
  const spans = tags.map((tag) => {
    const n = registerCount(tag);
    if (n > limit) throw new ConfigError(`tag "${tag.name}" spans ${n} ${unit}, more than one request may read (${limit})`);
    return { tag, start: tag.address, end: tag.address + n };
  });
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  let block: ReadBlock | undefined;
  let blockEnd = 0;
  // End of the union of every tag seen so far: a start beyond it + maxGap begins a new cluster.
  let unionEnd = -Infinity;
  for (const s of spans) {
    const newCluster = s.start - unionEnd > maxGap;
    if (!block || newCluster || Math.max(blockEnd, s.end) - block.start > limit) {
      block = { area, start: s.start, count: 0, tags: [] };
      blockEnd = s.end;
      out.push(block);
    }
    block.tags.push(s.tag);
    blockEnd = Math.max(blockEnd, s.end);
    block.count = blockEnd - block.start;
    unionEnd = Math.max(unionEnd, s.end);
  }
}
