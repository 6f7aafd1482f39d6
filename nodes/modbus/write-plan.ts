/**
 * Planning the writes of one message to plantwire-modbus-write: values -> encoded registers or
 * coils -> the fewest write requests. No node-red import.
 *
 * Every value is encoded before anything is sent, so a message with one bad value writes nothing
 * (a half-applied batch of setpoints is worse than none). Adjacent tags of one area are joined into
 * one FC16 (registers) or FC15 (coils) request within the limits of Modbus Application Protocol
 * V1.1b3 sections 6.11-6.12 (123 registers, 1968 coils a request). A bool in a register cannot be
 * written on its own: it is read, changed and written back (one FC3 + FC6 per bit), so it is
 * planned as a separate step that runs after the plain writes.
 */
import { InputError } from '../shared/errors';
import { isPlainObject, typeName } from '../shared/sample';
import { encodeTag, needsCurrentWord, registerCount, type EncodableValue } from './codec';
import type { TagDef } from './types';

/** Modbus Application Protocol V1.1b3, 6.11 (FC15) and 6.12 (FC16). */
export const MAX_WRITE_REGISTERS = 123;
export const MAX_WRITE_COILS = 1968;
/** More tags than this in one message is not a setpoint change: refuse it before encoding. */
export const MAX_WRITE_TAGS = 10_000;

export type WriteStep =
  | { kind: 'registers'; address: number; words: number[]; tags: string[] }
  | { kind: 'coils'; address: number; bits: boolean[]; tags: string[] }
  /** A bool in a register: read the register, set or clear the bit, write it back. */
  | { kind: 'bit'; tag: TagDef; value: boolean };

export interface WriteRequest {
  tag: TagDef;
  value: EncodableValue;
}

/**
 * The tag/value pairs of a message: single form (`topic` = tag name, `payload` = value) or batch
 * (`payload` = { tag: value }). Unknown names, empty batches and values that are not values are
 * InputErrors that say what was wrong.
 */
export function writeRequests(tags: readonly TagDef[], topic: unknown, payload: unknown): WriteRequest[] {
  const byName = new Map(tags.map((t) => [t.name, t] as const));
  const known = () => {
    const names = tags.map((t) => t.name);
    return names.length > 10 ? `${names.slice(0, 10).join(', ')}, ...` : names.join(', ');
  };
  const valueOf = (name: string, v: unknown): EncodableValue => {
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') return v;
    throw new InputError(`tag "${name}": the value must be a number, boolean or string, not ${typeName(v)}`);
  };
  if (isPlainObject(payload)) {
    const names = Object.keys(payload);
    if (names.length === 0) throw new InputError('msg.payload is an empty object: nothing to write');
    if (names.length > MAX_WRITE_TAGS) throw new InputError(`msg.payload has ${names.length} tags; this node has ${tags.length}`);
    const unknown = names.filter((n) => !byName.has(n));
    if (unknown.length) {
      const shown = unknown.slice(0, 5).map((n) => `"${n.slice(0, 40)}"`).join(', ') + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : '');
      throw new InputError(`unknown tag ${shown}; this node writes ${known()}`);
    }
    return names.map((n) => ({ tag: byName.get(n) as TagDef, value: valueOf(n, payload[n]) }));
  }
  if (typeof topic !== 'string' || topic === '') {
    throw new InputError(`msg.topic must name the tag to write (one of ${known()}), or msg.payload must be an object { tag: value }`);
  }
  const tag = byName.get(topic);
  if (!tag) throw new InputError(`unknown tag "${topic.slice(0, 40)}"; this node writes ${known()}`);
  if (payload === undefined) throw new InputError(`tag "${topic}": msg.payload is missing`);
  return [{ tag, value: valueOf(topic, payload) }];
}

interface Encoded {
  tag: TagDef;
  start: number;
  words: number[];
}

/** Encodes every value (throwing before anything is sent) and joins adjacent tags into requests. */
export function planWrites(requests: readonly WriteRequest[], limits: { maxRegisters?: number; maxBits?: number } = {}): WriteStep[] {
  const maxRegs = Math.min(MAX_WRITE_REGISTERS, limits.maxRegisters ?? MAX_WRITE_REGISTERS);
  const maxBits = Math.min(MAX_WRITE_COILS, limits.maxBits ?? MAX_WRITE_COILS);
  const regs: Encoded[] = [];
  const coils: Encoded[] = [];
  const bits: WriteStep[] = [];
  const bitRegisters = new Map<number, string>();
  for (const { tag, value } of requests) {
    if (tag.area === 'input' || tag.area === 'discrete') throw new InputError(`tag "${tag.name}": ${tag.area} is read-only`);
    if (needsCurrentWord(tag)) {
      // Checks the value now (with a dummy present word) so a bad bit value fails before any write.
      encodeTag(tag, value, 0);
      bits.push({ kind: 'bit', tag, value: value === true || value === 1 });
      bitRegisters.set(tag.address, tag.name);
      continue;
    }
    const words = encodeTag(tag, value);
    (tag.area === 'coil' ? coils : regs).push({ tag, start: tag.address, words });
  }
  const steps: WriteStep[] = [];
  for (const [list, area, max] of [[regs, 'registers', maxRegs], [coils, 'coils', maxBits]] as const) {
    list.sort((a, b) => a.start - b.start);
    let current: { address: number; values: number[]; tags: string[] } | undefined;
    const flush = () => {
      if (!current) return;
      steps.push(
        area === 'registers'
          ? { kind: 'registers', address: current.address, words: current.values, tags: current.tags }
          : { kind: 'coils', address: current.address, bits: current.values.map((v) => v !== 0), tags: current.tags },
      );
      current = undefined;
    };
    let lastEnd = -1;
    let lastName = '';
    for (const e of list) {
      if (e.start < lastEnd) throw new InputError(`tags "${lastName}" and "${e.tag.name}" overlap: write them in separate messages`);
      if (area === 'registers') {
        for (let a = e.start; a < e.start + registerCount(e.tag); a++) {
          const other = bitRegisters.get(a);
          if (other !== undefined) throw new InputError(`tags "${other}" and "${e.tag.name}" overlap: write them in separate messages`);
        }
      }
      if (current && e.start === lastEnd && current.values.length + e.words.length <= max) {
        current.values.push(...e.words);
        current.tags.push(e.tag.name);
      } else {
        flush();
        current = { address: e.start, values: [...e.words], tags: [e.tag.name] };
      }
      lastEnd = e.start + e.words.length;
      lastName = e.tag.name;
    }
    flush();
  }
  return steps.concat(bits);
}
