/**
 * Samples: the one data shape of Plantwire (DESIGN.md section 3), and the conversion between a
 * sample list and the two message forms (single and batch) that travel between nodes.
 */
import { InputError } from './errors';

export type Quality = 'good' | 'uncertain' | 'bad';
export type SampleValue = number | boolean | string | null;

export interface Sample {
  tag: string;
  value: SampleValue;
  quality: Quality;
  /** Source timestamp, epoch milliseconds. */
  ts: number;
  unit?: string;
}

/** The message properties Plantwire reads and writes; other properties pass through untouched. */
export interface SampleMessage {
  topic?: unknown;
  payload?: unknown;
  quality?: unknown;
  timestamp?: unknown;
  unit?: unknown;
  units?: unknown;
  [key: string]: unknown;
}

export interface ReadOptions {
  /** Clock for samples without a timestamp (arrival time). */
  now?: () => number;
  /** Tag of a single-form message that has no topic. */
  defaultTag?: string;
  /**
   * Accept values that are objects or arrays in the single form (publish nodes forward them as
   * JSON); analytics nodes leave this off and get an error instead.
   */
  allowObjectValues?: boolean;
}

const QUALITIES: ReadonlySet<string> = new Set(['good', 'uncertain', 'bad']);
const QUALITY_RANK: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };

export function isQuality(q: unknown): q is Quality {
  return typeof q === 'string' && QUALITIES.has(q);
}

/** The worse of two qualities: a result computed from a bad input is not good. */
export function worstQuality(a: Quality, b: Quality): Quality {
  return QUALITY_RANK[a] >= QUALITY_RANK[b] ? a : b;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return true;
  // An object literal made in a function node's sandbox has that realm's Object.prototype, not
  // ours: accept any object whose prototype is a root prototype (its own prototype is null).
  return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(v) === '[object Object]';
}

/**
 * A message is in batch form when its payload is a plain object and its quality is not a single
 * string (a single sample whose value is an object, such as a stats result, carries a string quality).
 */
export function isBatchMessage(msg: SampleMessage): boolean {
  return isPlainObject(msg.payload) && typeof msg.quality !== 'string';
}

let lastIso: string | undefined;
let lastIsoMs = 0;

/** Reads `msg.timestamp`: epoch ms, a Date, or an ISO 8601 string; missing means now. */
export function readTimestamp(raw: unknown, now: () => number): number {
  if (raw === undefined || raw === null) return now();
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw new InputError(`msg.timestamp is not a finite number (${raw})`);
    // Beyond ±8.64e15 ms a timestamp is no Date at all (ECMA-262 time value range).
    if (Math.abs(raw) > 8.64e15) throw new InputError(`msg.timestamp ${raw} is outside the range of dates`);
    return raw;
  }
  if (raw instanceof Date) {
    const t = raw.getTime();
    if (Number.isNaN(t)) throw new InputError('msg.timestamp is an invalid Date');
    return t;
  }
  if (typeof raw === 'string') {
    if (raw === lastIso) return lastIsoMs;
    const t = Date.parse(raw);
    if (Number.isNaN(t)) throw new InputError(`msg.timestamp "${raw.slice(0, 40)}" is not a date`);
    // One batch stamped by its source is often read by several nodes in turn: remember the last
    // ISO 8601 UTC text ("...T...Z", whose meaning does not depend on the local time zone).
    if (raw.length >= 20 && raw.charCodeAt(10) === 84 && raw.charCodeAt(raw.length - 1) === 90) {
      lastIso = raw;
      lastIsoMs = t;
    }
    return t;
  }
  throw new InputError(`msg.timestamp must be epoch milliseconds, a Date or an ISO string, not ${typeName(raw)}`);
}

function readQuality(raw: unknown, where: string): Quality {
  if (raw === undefined || raw === null) return 'good';
  if (isQuality(raw)) return raw;
  throw new InputError(`${where} must be "good", "uncertain" or "bad", not ${JSON.stringify(raw)?.slice(0, 40)}`);
}

function readValue(raw: unknown, where: string, allowObjects: boolean): SampleValue {
  if (raw === null || typeof raw === 'boolean' || typeof raw === 'string') return raw;
  if (typeof raw === 'number') {
    // NaN and Infinity are not values a device reported: refuse them rather than poison a window.
    if (!Number.isFinite(raw)) throw new InputError(`${where} is not a finite number (${raw})`);
    return raw;
  }
  if (allowObjects && typeof raw === 'object') return raw as unknown as SampleValue;
  throw new InputError(`${where} must be a number, boolean, string or null, not ${typeName(raw)}`);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return `a ${typeof v}`;
}

const NO_OPTIONS: ReadOptions = Object.freeze({});

/** The tag of a single-form message: `msg.topic` when it is a non-empty string, else the default tag. */
export function singleTag(msg: SampleMessage, options: ReadOptions = NO_OPTIONS): string {
  const topic = msg.topic;
  return typeof topic === 'string' && topic !== '' ? topic : options.defaultTag ?? 'value';
}

/**
 * Reads the samples of a message in either form. Throws InputError with a message meant for the
 * user when the message is not a sample.
 */
export function samplesFromMessage(msg: SampleMessage, options: ReadOptions = NO_OPTIONS): Sample[] {
  const raw = msg.timestamp;
  // A number is the common case: checked here without a call (and the same error as readTimestamp).
  const ts = typeof raw === 'number' && raw >= -8.64e15 && raw <= 8.64e15 ? raw : readTimestamp(raw, options.now ?? Date.now);
  if (isBatchMessage(msg)) {
    const payload = msg.payload as Record<string, unknown>;
    const qualities = isPlainObject(msg.quality) ? msg.quality : {};
    const units = isPlainObject(msg.units) ? msg.units : {};
    const out: Sample[] = [];
    for (const tag of Object.keys(payload)) {
      const s: Sample = {
        tag,
        value: readValue(payload[tag], `msg.payload["${tag}"]`, options.allowObjectValues === true),
        quality: readQuality(qualities[tag], `msg.quality["${tag}"]`),
        ts,
      };
      const unit = units[tag];
      if (typeof unit === 'string' && unit !== '') s.unit = unit;
      out.push(s);
    }
    return out;
  }
  const s: Sample = {
    tag: singleTag(msg, options),
    value: readValue(msg.payload, 'msg.payload', options.allowObjectValues === true),
    quality: readQuality(msg.quality, 'msg.quality'),
    ts,
  };
  if (typeof msg.unit === 'string' && msg.unit !== '') s.unit = msg.unit;
  return [s];
}

/** Single form: one message per sample; core nodes (debug, switch, charts) read it as it is. */
export function singleMessage(sample: Sample): SampleMessage {
  const msg: SampleMessage = {
    topic: sample.tag,
    payload: sample.value,
    quality: sample.quality,
    timestamp: sample.ts,
  };
  if (sample.unit !== undefined) msg.unit = sample.unit;
  return msg;
}

/**
 * Batch form: one message for many tags. The batch timestamp is the newest sample's; one poll of a
 * device gives samples with one timestamp anyway.
 */
export function batchMessage(samples: readonly Sample[], topic?: string): SampleMessage {
  const payload: Record<string, SampleValue> = {};
  const quality: Record<string, Quality> = {};
  const units: Record<string, string> = {};
  let ts = 0;
  let hasUnits = false;
  for (const s of samples) {
    payload[s.tag] = s.value;
    quality[s.tag] = s.quality;
    if (s.unit !== undefined) {
      units[s.tag] = s.unit;
      hasUnits = true;
    }
    if (s.ts > ts) ts = s.ts;
  }
  const msg: SampleMessage = { payload, quality, timestamp: samples.length ? ts : Date.now() };
  if (hasUnits) msg.units = units;
  if (topic !== undefined) msg.topic = topic;
  return msg;
}

/** A numeric sample value, or an InputError that says which tag was not a number. */
export function numericValue(s: Sample): number {
  if (typeof s.value === 'number') return s.value;
  if (typeof s.value === 'boolean') return s.value ? 1 : 0;
  throw new InputError(`tag "${s.tag}": value must be a number, not ${typeName(s.value)}`);
}

/**
 * Writes samples back onto a message in the form it arrived in (batch stays batch, single stays
 * single) and keeps every other property (`_msgid`, user properties) as it was.
 */
export function writeSamples<M extends SampleMessage>(msg: M, samples: readonly Sample[], asBatch: boolean): M {
  if (asBatch) {
    const form = batchMessage(samples);
    deleteUnits(msg);
    if (msg.topic === undefined) delete form.topic;
    return Object.assign(msg, form);
  }
  if (samples.length === 0) return msg;
  // The single form written in place: what Object.assign(msg, singleMessage(s)) did, without the
  // intermediate object.
  const s = samples[0];
  deleteUnits(msg);
  const m: SampleMessage = msg;
  m.topic = s.tag;
  m.payload = s.value;
  m.quality = s.quality;
  m.timestamp = s.ts;
  if (s.unit !== undefined) m.unit = s.unit;
  return msg;
}

/**
 * `delete` only what is set: deleting an absent key still costs V8 the object's fast shape, and a
 * named read is cheaper than `'unit' in msg` (a keyed lookup).
 */
function deleteUnits(msg: SampleMessage): void {
  if (msg.unit !== undefined) delete msg.unit;
  if (msg.units !== undefined) delete msg.units;
}
