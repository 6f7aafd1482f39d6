/**
 * Instrument frames to samples: regular expressions with named groups, delimited text, and
 * binary records decoded with the Modbus codec's byte-order rules. A frame either parses
 * completely or is malformed; a half-parsed frame never passes as good.
 * No node-red import here.
 */
import { ConfigError, InputError } from '../shared/errors';
import { typeName, type SampleValue } from '../shared/sample';
import { decodeBuffer, ordersFor } from '../modbus/codec';
import { DATA_TYPES, type ByteOrder, type DataType } from '../modbus/types';
import { reason } from './reason';

export type FrameFormat = 'regex' | 'delimited' | 'binary';
export const FRAME_FORMATS: readonly FrameFormat[] = ['regex', 'delimited', 'binary'];

export interface DelimitedField {
  name: string;
  /** Zero-based position in the split frame. */
  index: number;
  unit?: string;
}

export interface BinaryField {
  name: string;
  /** Byte offset of the field in the frame. */
  offset: number;
  type: DataType;
  order?: ByteOrder;
  /** value = raw × scale (default 1). */
  scale?: number;
  /** `string` fields: bytes. */
  length?: number;
  unit?: string;
}

export interface FrameParserOptions {
  format: FrameFormat;
  /** regex: a pattern with named groups; each group is a tag, `<tag>_unit` groups give units. */
  pattern?: string;
  /** regex: flags such as "i". */
  flags?: string;
  /** delimited: the separator; "\t" means a tab. */
  delimiter?: string;
  fields?: DelimitedField[] | BinaryField[];
  /** How text formats decode a Buffer frame. */
  encoding?: 'utf8' | 'latin1';
  /** Largest frame accepted, bytes or characters. */
  maxFrame?: number;
}

export interface ParsedValue {
  tag: string;
  value: SampleValue;
  unit?: string;
}

export type ParseResult = { ok: true; values: ParsedValue[] } | { ok: false; reason: string; tags: string[] };

export const DEFAULT_MAX_FRAME = 65536;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NAME = /^[^\s].{0,199}$/;

/** "+0012.34" -> 12.34, "ST" stays "ST": instrument text with leading zeros and signs becomes a number. */
export function convertText(text: string): SampleValue {
  const t = text.trim();
  return NUMBER.test(t) ? Number(t) : t;
}

/** convertText for a frame field: number text that overflows (1e999) is malformed, not a good Infinity. */
function textValue(tag: string, text: string): SampleValue {
  const v = convertText(text);
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Malformed(`field "${tag}" is a number out of range: ${text.trim()}`);
  return v;
}

/** Editor text for control characters: \t, \r, \n, \\ and \xHH. */
export function unescapeDelimiter(s: string): string {
  return s.replace(/\\(t|r|n|\\|x[0-9a-fA-F]{2})/g, (_m, c: string) =>
    c === 't' ? '\t' : c === 'r' ? '\r' : c === 'n' ? '\n' : c === '\\' ? '\\' : String.fromCharCode(parseInt(c.slice(1), 16)),
  );
}

function checkName(name: unknown, seen: Set<string>, what: string): string {
  if (typeof name !== 'string' || !NAME.test(name.trim())) throw new ConfigError(`${what}: every field needs a name`);
  const n = name.trim();
  if (seen.has(n)) throw new ConfigError(`${what}: field "${n}" is defined twice`);
  seen.add(n);
  return n;
}

const frameLength = (frame: string | Buffer) => frame.length;

export class FrameParser {
  private readonly regex?: RegExp;
  private readonly delimiter: string = ',';
  private readonly delimited: DelimitedField[] = [];
  private readonly binary: BinaryField[] = [];
  /** The tags every good frame yields (a malformed frame reports these as bad). */
  readonly tags: string[] = [];
  private readonly units = new Map<string, string>();
  private readonly maxFrame: number;

  constructor(private readonly o: FrameParserOptions) {
    if (!FRAME_FORMATS.includes(o.format)) throw new ConfigError(`format must be one of ${FRAME_FORMATS.join(', ')}, not "${String(o.format)}"`);
    this.maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME;
    const fields = Array.isArray(o.fields) ? o.fields : [];
    const seen = new Set<string>();
    if (o.format === 'regex') {
      if (typeof o.pattern !== 'string' || o.pattern === '') throw new ConfigError('regex: a pattern is required');
      const flags = (o.flags ?? '').replace(/[gy]/g, ''); // one match per frame: no global/sticky state between frames
      try {
        this.regex = new RegExp(o.pattern, flags);
      } catch (err) {
        throw new ConfigError(`regex: the pattern does not compile: ${reason(err)}`);
      }
      const names = [...o.pattern.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]);
      this.tags = names.filter((n) => !n.endsWith('_unit'));
      if (this.tags.length === 0) throw new ConfigError('regex: the pattern needs at least one named group, e.g. (?<weight>[-+]?\\d+\\.?\\d*)');
    } else if (o.format === 'delimited') {
      this.delimiter = unescapeDelimiter(o.delimiter ?? ',');
      if (this.delimiter === '') throw new ConfigError('delimited: the delimiter is empty');
      if (fields.length === 0) throw new ConfigError('delimited: define at least one field');
      for (const f of fields as DelimitedField[]) {
        const name = checkName(f?.name, seen, 'delimited');
        const index = Number(f.index);
        if (!Number.isInteger(index) || index < 0 || index > 10_000) throw new ConfigError(`delimited: field "${name}" needs an index 0-10000`);
        this.delimited.push({ name, index, unit: f.unit || undefined });
        this.tags.push(name);
        if (f.unit) this.units.set(name, f.unit);
      }
    } else {
      if (fields.length === 0) throw new ConfigError('binary: define at least one field');
      for (const f of fields as BinaryField[]) {
        const name = checkName(f?.name, seen, 'binary');
        const offset = Number(f.offset);
        if (!Number.isInteger(offset) || offset < 0 || offset > 65535) throw new ConfigError(`binary: field "${name}" needs a byte offset 0-65535`);
        if (!DATA_TYPES.includes(f.type)) throw new ConfigError(`binary: field "${name}" has type "${String(f.type)}", not one of ${DATA_TYPES.join(', ')}`);
        const order = (f.order || undefined) as ByteOrder | undefined;
        if (order !== undefined && f.type !== 'bool' && !ordersFor(f.type).includes(order)) {
          throw new ConfigError(`binary: field "${name}" (${f.type}) takes byte order ${ordersFor(f.type).join(', ')}, not "${order}"`);
        }
        const scale = f.scale === undefined || (f.scale as unknown) === '' ? 1 : Number(f.scale);
        if (!Number.isFinite(scale)) throw new ConfigError(`binary: field "${name}" has a scale that is not a number`);
        let length: number | undefined;
        if (f.type === 'string') {
          length = Number(f.length);
          if (!Number.isInteger(length) || length < 1 || length > 65535) throw new ConfigError(`binary: string field "${name}" needs a length in bytes`);
        }
        this.binary.push({ name, offset, type: f.type, order, scale, length, unit: f.unit || undefined });
        this.tags.push(name);
        if (f.unit) this.units.set(name, f.unit);
      }
    }
  }

  /**
   * Parses one frame. Throws InputError for input that is not a frame at all (wrong type, too
   * large); returns `ok: false` with the reason for a frame that does not have the expected shape.
   */
  parse(raw: unknown): ParseResult {
    const frame = this.frameOf(raw);
    if (frameLength(frame) > this.maxFrame) {
      throw new InputError(`frame of ${frameLength(frame)} bytes is larger than ${this.maxFrame}: is the serial node splitting frames?`);
    }
    try {
      if (this.o.format === 'binary') return { ok: true, values: this.parseBinary(frame as Buffer) };
      const text = (typeof frame === 'string' ? frame : frame.toString(this.o.encoding ?? 'utf8')).replace(/^[\r\n]+|[\r\n]+$/g, '');
      if (text.trim() === '') return { ok: false, reason: 'empty frame', tags: this.tags };
      // CR and LF end a frame: one inside means two frames (or a tail) joined, never one good frame.
      if (/[\r\n]/.test(text)) {
        return { ok: false, reason: 'the frame has a CR or LF inside: two frames joined? split the serial input on \\n', tags: this.tags };
      }
      return { ok: true, values: this.o.format === 'regex' ? this.parseRegex(text) : this.parseDelimited(text) };
    } catch (err) {
      if (err instanceof Malformed || err instanceof InputError) return { ok: false, reason: err.message, tags: this.tags };
      throw err;
    }
  }

  private frameOf(raw: unknown): string | Buffer {
    if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
      if (this.o.format === 'binary' && typeof raw === 'string') {
        throw new InputError('the binary format needs a Buffer, not a string: set the serial node to binary output');
      }
      return raw;
    }
    if (raw instanceof Uint8Array) return Buffer.from(raw);
    if (Array.isArray(raw) && raw.length <= this.maxFrame && raw.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      return this.o.format === 'binary' ? Buffer.from(raw) : Buffer.from(raw).toString(this.o.encoding ?? 'utf8');
    }
    if (Array.isArray(raw) && raw.length > this.maxFrame) throw new InputError(`frame of ${raw.length} bytes is larger than ${this.maxFrame}`);
    throw new InputError(`msg.payload must be a frame (a string or a Buffer), not ${typeName(raw)}`);
  }

  private unitOf(tag: string, groups?: Record<string, string | undefined>): ParsedValue {
    const unit = groups?.[`${tag}_unit`]?.trim() || this.units.get(tag);
    return unit ? { tag, value: null, unit } : { tag, value: null };
  }

  private parseRegex(text: string): ParsedValue[] {
    const m = (this.regex as RegExp).exec(text);
    if (!m) throw new Malformed('the frame does not match the pattern');
    const groups = m.groups ?? {};
    const out: ParsedValue[] = [];
    for (const tag of this.tags) {
      const g = groups[tag];
      if (g === undefined) continue; // an optional group that did not take part
      // Same rule as a delimited field: an empty value is malformed, not a good empty string.
      if (g.trim() === '') throw new Malformed(`group "${tag}" is empty`);
      out.push({ ...this.unitOf(tag, groups), value: textValue(tag, g) });
    }
    if (out.length === 0) throw new Malformed('no group of the pattern matched anything');
    return out;
  }

  private parseDelimited(text: string): ParsedValue[] {
    const parts = text.split(this.delimiter);
    return this.delimited.map((f) => {
      if (f.index >= parts.length) throw new Malformed(`field "${f.name}" (index ${f.index}) is missing: the frame has ${parts.length} fields`);
      const t = parts[f.index].trim();
      if (t === '') throw new Malformed(`field "${f.name}" (index ${f.index}) is empty`);
      return { ...this.unitOf(f.name), value: textValue(f.name, t) };
    });
  }

  private parseBinary(buf: Buffer): ParsedValue[] {
    return this.binary.map((f) => {
      const v = decodeBuffer(buf, f.offset, f.type, f.order, f.length);
      let value: SampleValue;
      if (typeof v === 'number') {
        // The codec hands 64-bit integers over as numbers: past 2^53 they are no longer exact.
        if ((f.type === 'int64' || f.type === 'uint64') && !Number.isSafeInteger(v)) {
          throw new Malformed(`field "${f.name}" is beyond ±2^53 and cannot be represented exactly`);
        }
        value = v * (f.scale ?? 1);
        // A NaN or infinite float in a frame is not a measurement.
        if (!Number.isFinite(value)) throw new Malformed(`field "${f.name}" decodes to ${value}`);
      } else {
        value = v;
      }
      return { ...this.unitOf(f.name), value };
    });
  }
}

/** A frame with the wrong shape (not a wrong input type). */
class Malformed extends Error {}
