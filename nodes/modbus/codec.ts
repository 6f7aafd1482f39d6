/**
 * The Modbus value codec (DESIGN.md section 4): tag definitions <-> 16-bit registers, and the same
 * byte-order rules for raw byte frames (plantwire-parse binary format). No node-red import.
 *
 * Byte order. A register carries its high byte first on the wire (Modbus Application Protocol
 * V1.1b3, section 4.2: "big-Endian representation is used for addresses and data items"). Name
 * the bytes of a value A (most significant) to H (least significant); the order letters say in
 * which sequence those bytes arrive. Every order the contract names is one of two independent,
 * self-inverse permutations, or both:
 *   - byte swap inside each 16-bit word:   BA, BADC, BADCFEHG
 *   - word order reversed:                 CDAB, GHEFCDAB
 *   - both:                                DCBA, HGFEDCBA
 *   - neither (big-endian):                AB, ABCD, ABCDEFGH
 * So an order written for another width means the same two switches (an editor that stores
 * `ABCD` for an int16 tag reads it big-endian; `DCBA` on an int16 is `BA`); the word-order
 * switch has no effect on one word. Strings use only the byte swap (`BA` swaps the two characters
 * of every register), characters are one byte each (Latin-1), two a register, high byte first.
 *
 * 64-bit integers: values are JavaScript numbers (a sample value has no bigint). Integers up to
 * 2^53 in magnitude decode exactly; beyond that a value decodes to the nearest double (relative
 * error below 2^-53, e.g. 2^53 + 1 reads as 2^53). Encoding takes a number (any integral double in
 * range is exact) or a bigint (exact to the last bit), so a 64-bit counter can be written exactly.
 *
 * Floats: decoding returns NaN and +-Infinity as the device sent them; the poller reports such a
 * tag with quality bad. Encoding refuses them.
 */
import { ConfigError, DeviceError, InputError } from '../shared/errors';
import { typeName } from '../shared/sample';
import type { SampleValue } from '../shared/sample';
import { AREAS, DATA_TYPES, isBitArea, type ByteOrder, type DataType, type TagDef } from './types';

/** Bytes of each fixed-width type (string: per register; bool on a register: one register). */
export const TYPE_BYTES: Readonly<Record<Exclude<DataType, 'string'>, number>> = {
  bool: 2,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

/** The two switches every byte order is made of (see the module comment). */
interface OrderSwitches {
  byteSwap: boolean;
  wordSwap: boolean;
}

const ORDERS: Readonly<Record<ByteOrder, OrderSwitches>> = {
  AB: { byteSwap: false, wordSwap: false },
  BA: { byteSwap: true, wordSwap: false },
  ABCD: { byteSwap: false, wordSwap: false },
  CDAB: { byteSwap: false, wordSwap: true },
  BADC: { byteSwap: true, wordSwap: false },
  DCBA: { byteSwap: true, wordSwap: true },
  ABCDEFGH: { byteSwap: false, wordSwap: false },
  GHEFCDAB: { byteSwap: false, wordSwap: true },
  BADCFEHG: { byteSwap: true, wordSwap: false },
  HGFEDCBA: { byteSwap: true, wordSwap: true },
};

export const BYTE_ORDERS: readonly ByteOrder[] = Object.keys(ORDERS) as ByteOrder[];

/** The orders the editor offers for a type, big-endian first (the default). */
export function ordersFor(type: DataType): readonly ByteOrder[] {
  switch (type) {
    case 'int32':
    case 'uint32':
    case 'float32':
      return ['ABCD', 'CDAB', 'BADC', 'DCBA'];
    case 'int64':
    case 'uint64':
    case 'float64':
      return ['ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA'];
    default:
      return ['AB', 'BA'];
  }
}

export function defaultOrder(type: DataType): ByteOrder {
  return ordersFor(type)[0];
}

export function isByteOrder(v: unknown): v is ByteOrder {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ORDERS, v);
}

function switchesOf(order: ByteOrder | undefined, where: string): OrderSwitches {
  if (order === undefined || (order as string) === '') return ORDERS.AB;
  if (!isByteOrder(order)) throw new ConfigError(`${where}: byte order must be one of ${BYTE_ORDERS.join(', ')}, not "${String(order)}"`);
  return ORDERS[order];
}

const tagWhere = (tag: TagDef) => `tag "${String(tag?.name)}"`;

/**
 * Throws ConfigError naming the tag when a definition cannot work: unknown area/type/order,
 * address outside 0-65535, a bit outside 0-15, a string without a length, a non-bool type on a
 * coil or discrete input, a scale of 0 or a non-finite scale/offset.
 */
export function validateTag(tag: TagDef): void {
  if (tag === null || typeof tag !== 'object') throw new ConfigError(`a tag must be an object, not ${typeName(tag)}`);
  const where = tagWhere(tag);
  if (typeof tag.name !== 'string' || tag.name === '') throw new ConfigError('every tag needs a name');
  if (!(AREAS as readonly unknown[]).includes(tag.area)) throw new ConfigError(`${where}: area must be one of ${AREAS.join(', ')}, not "${String(tag.area)}"`);
  if (!(DATA_TYPES as readonly unknown[]).includes(tag.type)) throw new ConfigError(`${where}: type must be one of ${DATA_TYPES.join(', ')}, not "${String(tag.type)}"`);
  if (!Number.isInteger(tag.address) || tag.address < 0 || tag.address > 65535) {
    throw new ConfigError(`${where}: address must be an integer 0-65535, not ${String(tag.address)}`);
  }
  if (isBitArea(tag.area) && tag.type !== 'bool') throw new ConfigError(`${where}: a ${tag.area} holds one bit, so its type must be bool, not ${tag.type}`);
  if (tag.type === 'bool' && !isBitArea(tag.area) && tag.bit !== undefined) {
    if (!Number.isInteger(tag.bit) || tag.bit < 0 || tag.bit > 15) throw new ConfigError(`${where}: bit must be an integer 0-15, not ${String(tag.bit)}`);
  }
  if (tag.type === 'string') {
    if (!Number.isInteger(tag.length) || (tag.length as number) < 1 || (tag.length as number) > 125) {
      throw new ConfigError(`${where}: a string needs a length of 1-125 registers, not ${String(tag.length)}`);
    }
  }
  switchesOf(tag.order, where);
  if (tag.scale !== undefined && (typeof tag.scale !== 'number' || !Number.isFinite(tag.scale) || tag.scale === 0)) {
    throw new ConfigError(`${where}: scale must be a finite number other than 0, not ${String(tag.scale)}`);
  }
  if (tag.offset !== undefined && (typeof tag.offset !== 'number' || !Number.isFinite(tag.offset))) {
    throw new ConfigError(`${where}: offset must be a finite number, not ${String(tag.offset)}`);
  }
  if (tag.address + registerCount(tag) > 65536) throw new ConfigError(`${where}: runs past address 65535`);
}

/** Registers a tag spans (bit areas: 1 bit). */
export function registerCount(tag: TagDef): number {
  if (isBitArea(tag.area)) return 1;
  if (tag.type === 'string') return tag.length ?? 1;
  return TYPE_BYTES[tag.type] / 2;
}

// ---- byte permutation --------------------------------------------------------------------------

/** Turns bytes as they arrived into big-endian bytes, or back: both switches are self-inverse. */
function permute(bytes: Uint8Array, start: number, n: number, s: OrderSwitches): void {
  if (s.wordSwap) {
    const words = n >> 1;
    for (let i = 0; i < words >> 1; i++) {
      const a = start + 2 * i;
      const b = start + 2 * (words - 1 - i);
      let t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
      t = bytes[a + 1];
      bytes[a + 1] = bytes[b + 1];
      bytes[b + 1] = t;
    }
  }
  if (s.byteSwap) {
    for (let i = start; i + 1 < start + n; i += 2) {
      const t = bytes[i];
      bytes[i] = bytes[i + 1];
      bytes[i + 1] = t;
    }
  }
}

const scratch = new Uint8Array(8);
const view = new DataView(scratch.buffer);

/** Reads a big-endian numeric type from `scratch`. */
function readScratch(type: Exclude<DataType, 'string' | 'bool'>): number {
  switch (type) {
    case 'int16':
      return view.getInt16(0);
    case 'uint16':
      return view.getUint16(0);
    case 'int32':
      return view.getInt32(0);
    case 'uint32':
      return view.getUint32(0);
    case 'float32':
      return view.getFloat32(0);
    case 'int64':
      return Number(view.getBigInt64(0));
    case 'uint64':
      return Number(view.getBigUint64(0));
    case 'float64':
      return view.getFloat64(0);
  }
}

function scaled(tag: TagDef, raw: number): number {
  const scale = tag.scale ?? 1;
  const offset = tag.offset ?? 0;
  if (scale === 1 && offset === 0) return raw;
  // A decimal scale such as 0.1 is not exact in binary: 39 * 0.1 = 3.9000000000000004, while
  // 39 / 10 = 3.9. Divide by the reciprocal when it is a whole number, as an engineer reads "x0.1".
  const inverse = 1 / scale;
  const rounded = Math.round(inverse);
  if (!(Math.abs(inverse - rounded) < 1e-9 * Math.max(1, Math.abs(inverse)) && rounded !== 0)) return raw * scale + offset;
  // An offset that is a whole number of steps (raw x 0.1 - 40) joins the dividend: (439 - 400) / 10
  // is 3.9, where 439 / 10 - 40 is 3.8999999999999986.
  const steps = offset * rounded;
  const wholeSteps = Math.round(steps);
  if (Math.abs(steps - wholeSteps) < 1e-9 * Math.max(1, Math.abs(steps))) return (raw + wholeSteps) / rounded;
  return raw / rounded + offset;
}

/**
 * Decodes one tag from the registers of a block. `words` are 16-bit registers as the device sent
 * them; `offset` is the index of the tag's first register in `words`. Numeric types get
 * value = raw * scale + offset. Throws DeviceError when `words` is too short (a short response).
 */
export function decodeTag(tag: TagDef, words: ArrayLike<number>, offset: number): SampleValue {
  if (isBitArea(tag.area)) return decodeBits(tag, words, offset);
  const n = registerCount(tag);
  if (offset < 0 || offset + n > words.length) {
    throw new DeviceError(`${tagWhere(tag)}: needs ${n} register(s) at index ${offset}, the response has ${words.length}`);
  }
  const s = switchesOf(tag.order, tagWhere(tag));
  if (tag.type === 'bool') {
    const w = words[offset] & 0xffff;
    // `bit` counts in the register's value (bit 0 least significant), after any byte swap.
    const v = s.byteSwap ? ((w & 0xff) << 8) | (w >> 8) : w;
    return ((v >> (tag.bit ?? 0)) & 1) === 1;
  }
  if (tag.type === 'string') {
    let out = '';
    for (let i = 0; i < n; i++) {
      const w = words[offset + i] & 0xffff;
      const hi = w >> 8;
      const lo = w & 0xff;
      out += s.byteSwap ? String.fromCharCode(lo, hi) : String.fromCharCode(hi, lo);
    }
    return out.replace(/\0+$/, '');
  }
  for (let i = 0; i < n; i++) {
    const w = words[offset + i] & 0xffff;
    scratch[2 * i] = w >> 8;
    scratch[2 * i + 1] = w & 0xff;
  }
  permute(scratch, 0, 2 * n, s);
  return scaled(tag, readScratch(tag.type));
}

/** Decodes a coil or discrete input: any non-zero (or true) bit is true. */
export function decodeBits(tag: TagDef, bits: ArrayLike<boolean | number>, offset: number): boolean {
  if (offset < 0 || offset >= bits.length) {
    throw new DeviceError(`${tagWhere(tag)}: needs bit index ${offset}, the response has ${bits.length}`);
  }
  return Boolean(bits[offset]);
}

// ---- encoding ----------------------------------------------------------------------------------

const INT_RANGE: Readonly<Record<'int16' | 'uint16' | 'int32' | 'uint32', [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const BIG_RANGE: Readonly<Record<'int64' | 'uint64', [bigint, bigint]>> = {
  int64: [-(BigInt(1) << BigInt(63)), (BigInt(1) << BigInt(63)) - BigInt(1)],
  uint64: [BigInt(0), (BigInt(1) << BigInt(64)) - BigInt(1)],
};

/** A value that encodeTag accepts: a sample value, or a bigint for exact 64-bit integers. */
export type EncodableValue = SampleValue | bigint;

/** Removes scale/offset: raw = (value - offset) / scale. */
function unscaled(tag: TagDef, value: number): number {
  const scale = tag.scale ?? 1;
  const offset = tag.offset ?? 0;
  if (scale === 0 || !Number.isFinite(scale)) throw new ConfigError(`${tagWhere(tag)}: scale must be a finite number other than 0`);
  return scale === 1 && offset === 0 ? value : (value - offset) / scale;
}

function numberInput(tag: TagDef, value: EncodableValue): number {
  if (typeof value !== 'number') throw new InputError(`${tagWhere(tag)} (${tag.type}) needs a number, not ${typeName(value)}`);
  if (!Number.isFinite(value)) throw new InputError(`${tagWhere(tag)} (${tag.type}) needs a finite number, not ${value}`);
  return value;
}

/**
 * Encodes a value into the registers that decodeTag reads back as the same value (its exact
 * inverse for every value the type can hold). Integer types take the nearest integer of
 * (value - offset) / scale; a result outside the type's range is an InputError, never wrapped
 * (70000 into int16 is refused). NaN, Infinity, wrong types and strings longer than the tag are
 * refused. Coils and discrete inputs encode as [1] or [0].
 *
 * A bool on a register sets one bit of a word: pass the register's present value as `current` so
 * the other 15 bits are kept (read-modify-write); without it, InputError (see needsCurrentWord).
 */
export function encodeTag(tag: TagDef, value: EncodableValue, current?: number): number[] {
  const where = tagWhere(tag);
  if (tag.type === 'bool') {
    let b: boolean;
    if (typeof value === 'boolean') b = value;
    else if (value === 0 || value === 1) b = value === 1;
    else throw new InputError(`${where} (bool) needs true, false, 1 or 0, not ${typeof value === 'number' ? value : typeName(value)}`);
    if (isBitArea(tag.area)) return [b ? 1 : 0];
    if (current === undefined || !Number.isInteger(current) || current < 0 || current > 65535) {
      throw new InputError(`${where}: writing bit ${tag.bit ?? 0} of a register needs the register's present value`);
    }
    const s = switchesOf(tag.order, where);
    const swap = (w: number) => (s.byteSwap ? ((w & 0xff) << 8) | (w >> 8) : w);
    const mask = 1 << (tag.bit ?? 0);
    const v = swap(current);
    return [swap(b ? v | mask : v & ~mask & 0xffff)];
  }
  if (isBitArea(tag.area)) throw new ConfigError(`${where}: a ${tag.area} holds one bit, so its type must be bool`);
  const s = switchesOf(tag.order, where);
  if (tag.type === 'string') {
    if (typeof value !== 'string') throw new InputError(`${where} (string) needs a string, not ${typeName(value)}`);
    const n = registerCount(tag);
    if (value.length > 2 * n) throw new InputError(`${where}: "${value.slice(0, 20)}..." has ${value.length} characters, the tag holds ${2 * n}`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const hi = charAt(value, 2 * i, where);
      const lo = charAt(value, 2 * i + 1, where);
      out.push(s.byteSwap ? (lo << 8) | hi : (hi << 8) | lo);
    }
    return out;
  }
  const type = tag.type;
  const n = TYPE_BYTES[type];
  if (type === 'int64' || type === 'uint64') {
    let raw: bigint;
    if (typeof value === 'bigint' && (tag.scale ?? 1) === 1 && (tag.offset ?? 0) === 0) raw = value;
    else {
      const x = Math.round(unscaled(tag, numberInput(tag, typeof value === 'bigint' ? Number(value) : value)));
      if (!Number.isFinite(x)) throw new InputError(`${where}: ${String(value)} is outside the range of ${type}`);
      raw = BigInt(x);
    }
    const [lo, hi] = BIG_RANGE[type];
    if (raw < lo || raw > hi) throw new InputError(`${where}: ${String(value)} is outside the range of ${type} (${lo} to ${hi})`);
    if (type === 'int64') view.setBigInt64(0, raw);
    else view.setBigUint64(0, raw);
  } else if (type === 'float32' || type === 'float64') {
    const x = unscaled(tag, numberInput(tag, value));
    if (type === 'float32') {
      // Values just above the largest float32 round down to it; the rest would become Infinity.
      if (!Number.isFinite(Math.fround(x))) {
        throw new InputError(`${where}: ${value} is outside the range of float32`);
      }
      view.setFloat32(0, x);
    } else {
      if (!Number.isFinite(x)) throw new InputError(`${where}: ${value} is outside the range of float64 after scaling`);
      view.setFloat64(0, x);
    }
  } else {
    const x = Math.round(unscaled(tag, numberInput(tag, value)));
    const [lo, hi] = INT_RANGE[type];
    if (!(x >= lo && x <= hi)) throw new InputError(`${where}: ${value} is outside the range of ${type} (${lo} to ${hi})`);
    if (type === 'int16') view.setInt16(0, x);
    else if (type === 'uint16') view.setUint16(0, x);
    else if (type === 'int32') view.setInt32(0, x);
    else view.setUint32(0, x);
  }
  permute(scratch, 0, n, s);
  const out: number[] = [];
  for (let i = 0; i < n; i += 2) out.push((scratch[i] << 8) | scratch[i + 1]);
  return out;
}

function charAt(s: string, i: number, where: string): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c > 0xff) throw new InputError(`${where}: character "${s[i]}" is not one byte (Latin-1 only)`);
  return c;
}

/** True for a bool on a register: encodeTag then needs the register's present value. */
export function needsCurrentWord(tag: TagDef): boolean {
  return tag.type === 'bool' && !isBitArea(tag.area);
}

// ---- raw byte frames ---------------------------------------------------------------------------

/** Bytes a value of this type takes in a raw frame (string: `length` bytes; bool: one byte). */
export function bufferByteCount(type: DataType, length?: number): number {
  if (type === 'string') return length ?? 0;
  if (type === 'bool') return 1;
  return TYPE_BYTES[type];
}

/**
 * Decodes a value from a raw byte frame (plantwire-parse, binary format) with the same byte-order
 * rules as registers. `bool` is one byte, non-zero is true. `string` takes `length` bytes (default:
 * to the end of the buffer), Latin-1, trailing NULs dropped; `BA` swaps each pair of bytes.
 * 64-bit integers decode to the nearest number, as decodeTag does. No scale/offset is applied.
 * Throws InputError when the buffer is too short.
 */
export function decodeBuffer(buf: Buffer | Uint8Array, offset: number, type: DataType, order?: ByteOrder, length?: number): number | string | boolean {
  const where = `field at byte ${offset}`;
  if (!(DATA_TYPES as readonly unknown[]).includes(type)) throw new ConfigError(`${where}: type must be one of ${DATA_TYPES.join(', ')}, not "${String(type)}"`);
  if (!Number.isInteger(offset) || offset < 0) throw new ConfigError(`${where}: offset must be an integer >= 0`);
  const n = type === 'string' ? (length ?? buf.length - offset) : bufferByteCount(type);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${where}: length must be an integer >= 0`);
  if (offset + n > buf.length) throw new InputError(`${where}: needs ${n} byte(s), the frame has ${Math.max(0, buf.length - offset)} from there`);
  const s = switchesOf(order, where);
  if (type === 'bool') return buf[offset] !== 0;
  if (type === 'string') {
    let out = '';
    for (let i = 0; i < n; i++) {
      // With a byte swap, pairs are exchanged; an odd last byte stays where it is.
      const j = s.byteSwap && i + (i % 2 === 0 ? 1 : -1) < n ? i + (i % 2 === 0 ? 1 : -1) : i;
      out += String.fromCharCode(buf[offset + j]);
    }
    return out.replace(/\0+$/, '');
  }
  for (let i = 0; i < n; i++) scratch[i] = buf[offset + i];
  permute(scratch, 0, n, s);
  return readScratch(type);
}

/**
 * Encodes a value into a raw byte frame, the inverse of decodeBuffer (same range checks as
 * encodeTag, no scale/offset). Returns a new Buffer of bufferByteCount(type, length) bytes.
 */
export function encodeBuffer(value: EncodableValue, type: DataType, order?: ByteOrder, length?: number): Buffer {
  if (type === 'bool') {
    if (typeof value === 'boolean' || value === 0 || value === 1) return Buffer.from([value === true || value === 1 ? 1 : 0]);
    throw new InputError(`bool needs true, false, 1 or 0, not ${typeName(value)}`);
  }
  if (type === 'string') {
    const n = length ?? (typeof value === 'string' ? value.length : 0);
    const regs = Math.ceil(n / 2);
    if (typeof value === 'string' && value.length > n) throw new InputError(`"${value.slice(0, 20)}" has ${value.length} characters, the field holds ${n}`);
    const words = encodeTag({ name: 'field', area: 'holding', address: 0, type, order, length: Math.max(1, regs) }, value);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = i % 2 === 0 ? words[i >> 1] >> 8 : words[i >> 1] & 0xff;
    // An odd length with a byte swap: the last byte holds the last character, not the pad.
    if (n % 2 === 1 && ORDERS[order ?? 'AB']?.byteSwap) out[n - 1] = typeof value === 'string' && value.length === n ? value.charCodeAt(n - 1) : 0;
    return out;
  }
  const words = encodeTag({ name: 'field', area: 'holding', address: 0, type, order }, value);
  const out = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}
