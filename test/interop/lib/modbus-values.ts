/**
 * A register map holding every Modbus type and byte order at known addresses, for the pymodbus
 * peer (which encodes it with Python's struct module) and the read node's tag table (decoded by
 * Plantwire's codec), with the value each tag must read as.
 */
import type { PeerValue } from './peers';

export interface TagRow {
  name: string;
  area: 'holding' | 'input' | 'coil' | 'discrete';
  address: number;
  type: string;
  order?: string;
  bit?: number;
  length?: number;
  scale?: number;
  offset?: number;
  unit?: string;
}

export interface TypedMap {
  peer: PeerValue[];
  tags: TagRow[];
  expected: Record<string, number | boolean | string>;
}

const ORDERS: Record<string, string[]> = {
  int16: ['AB', 'BA'],
  uint16: ['AB', 'BA'],
  int32: ['ABCD', 'CDAB', 'BADC', 'DCBA'],
  uint32: ['ABCD', 'CDAB', 'BADC', 'DCBA'],
  float32: ['ABCD', 'CDAB', 'BADC', 'DCBA'],
  int64: ['ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA'],
  uint64: ['ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA'],
  float64: ['ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA'],
};
const WORDS: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };

/** Values whose bytes all differ, so that any byte-order mistake shows; extremes of each range. */
const RAWS: Record<string, number[]> = {
  int16: [-12345, 32767, -32768],
  uint16: [0xa1b2, 65535],
  int32: [-0x1234567, 2147483647, -2147483648],
  uint32: [0xa1b2c3d4, 4294967295],
  float32: [-1234.5625, 3.4028234663852886e38, 1.401298464324817e-45],
  // Within 2^53, so that the number Plantwire emits is exact; the top bytes still differ.
  int64: [-0x123456789abcde, 9007199254740991, -9007199254740991],
  uint64: [0x1f3456789abcde, 0],
  float64: [-98765.43210987654, 1.7976931348623157e308, 5e-324],
};

/**
 * Every type in every byte order (and a scaled copy of some) in one area, starting at `base`,
 * with `gap` unused registers between tags (so that the planner's maxGap decides the requests).
 */
export function typedMap(area: 'holding' | 'input', base: number, gap: number, unit = 1, prefix = area[0]): TypedMap {
  const peer: PeerValue[] = [];
  const tags: TagRow[] = [];
  const expected: Record<string, number | boolean | string> = {};
  let address = base;
  for (const type of Object.keys(ORDERS)) {
    for (const order of ORDERS[type]) {
      for (const [i, raw] of RAWS[type].entries()) {
        const name = `${prefix}.${type}.${order}.${i}`;
        peer.push({ unit, area, address, type, order, raw });
        tags.push({ name, area, address, type, order });
        expected[name] = type === 'float32' ? Math.fround(raw) : raw;
        address += WORDS[type] + gap;
      }
    }
  }
  // value = raw * scale + offset, the figure as an engineer works it out in decimals (123456 x 0.001
  // + 5 is 128.456, where the binary product and sum give 128.45600000000002)
  for (const [type, raw, scale, offset, value] of [
    ['int16', -1234, 0.1, 0, -123.4],
    ['uint16', 4000, 0.01, -20, 20],
    ['int32', 123456, 0.001, 5, 128.456],
    ['float32', 21.5, 2, -1, 42],
  ] as [string, number, number, number, number][]) {
    const name = `${prefix}.${type}.scaled`;
    peer.push({ unit, area, address, type, raw });
    tags.push({ name, area, address, type, scale, offset, unit: 'bar' });
    expected[name] = value;
    address += WORDS[type] + gap;
  }
  // strings, high byte first; odd length and trailing NULs dropped; byte-swapped
  for (const [i, [text, length, order]] of ([['PLANTWIRE-7', 8, 'AB'], ['Line 1', 3, 'AB'], ['SWAPPED', 4, 'BA']] as [string, number, string][]).entries()) {
    const name = `${prefix}.string.${i}`;
    peer.push({ unit, area, address, type: 'string', length, order, raw: text });
    tags.push({ name, area, address, type: 'string', length, ...(order === 'BA' ? { order } : {}) });
    expected[name] = text.slice(0, 2 * length);
    address += length + gap;
  }
  // bits of a register: 0b1010_0000_0000_0101 -> bits 0, 2, 13, 15 set
  peer.push({ unit, area, address, type: 'uint16', raw: 0xa005 });
  for (const bit of [0, 1, 2, 13, 14, 15]) {
    const name = `${prefix}.bit${bit}`;
    tags.push({ name, area, address, type: 'bool', bit });
    expected[name] = [0, 2, 13, 15].includes(bit);
  }
  return { peer, tags, expected };
}

/** Coils or discrete inputs: a pattern over `count` bits from `base`, every bit a tag. */
export function bitMap(area: 'coil' | 'discrete', base: number, count: number, unit = 1): TypedMap {
  const peer: PeerValue[] = [];
  const tags: TagRow[] = [];
  const expected: Record<string, boolean> = {};
  for (let i = 0; i < count; i++) {
    const value = (i * 7) % 3 === 0 || i % 5 === 1;
    const name = `${area}.${base + i}`;
    peer.push({ unit, area, address: base + i, type: 'bool', raw: value });
    tags.push({ name, area, address: base + i, type: 'bool' });
    expected[name] = value;
  }
  return { peer, tags, expected };
}

export function merge(...maps: TypedMap[]): TypedMap {
  return {
    peer: maps.flatMap((m) => m.peer),
    tags: maps.flatMap((m) => m.tags),
    expected: Object.assign({}, ...maps.map((m) => m.expected)),
  };
}
