/**
 * Sparkplug B metrics: datatypes, value checks and the payload codec (Eclipse Tahu's
 * sparkplug-payload), for the edge node session in sparkplug-session.ts. No node-red import.
 *
 * Clauses cited are from the Eclipse Sparkplug 3.0 specification, chapter 6 (Payloads), by tck-id.
 */
import { get as getSparkplugCodec } from 'sparkplug-payload';
import { ConfigError, InputError } from '../shared/errors';
import { typeName, type Quality, type SampleValue } from '../shared/sample';

const codec = getSparkplugCodec('spBv1.0');
if (!codec) throw new Error('sparkplug-payload does not provide the spBv1.0 namespace');

/** The Sparkplug basic datatypes a Plantwire metric may have (6.4.16 "Datatype Details"). */
export const METRIC_DATATYPES = [
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float',
  'Double',
  'Boolean',
  'String',
] as const;
export type MetricDatatype = (typeof METRIC_DATATYPES)[number];

export type MetricValue = number | boolean | string | null;

/** One metric as the session keeps and encodes it. */
export interface Metric {
  name: string;
  datatype: MetricDatatype;
  value: MetricValue;
  quality: Quality;
  /** Source timestamp, epoch ms. */
  ts: number;
}

/** A metric as it goes into a payload: a name (births) or only an alias (data, tck-id-payloads-alias-data-cmd-requirement). */
export interface OutMetric {
  name?: string;
  alias?: number;
  datatype: MetricDatatype;
  value: MetricValue;
  quality?: Quality;
  ts: number;
  historical?: boolean;
}

export interface OutPayload {
  timestamp: number;
  /** Absent only in NDEATH (tck-id-payloads-sequence-num-always-included). */
  seq?: number;
  metrics: OutMetric[];
}

/** A metric read from an NCMD or DCMD. */
export interface CommandMetric {
  name?: string;
  alias?: number;
  datatype?: string;
  value: MetricValue;
  ts?: number;
}

const INT_RANGE: Partial<Record<MetricDatatype, [number, number]>> = {
  Int8: [-128, 127],
  Int16: [-32768, 32767],
  Int32: [-2147483648, 2147483647],
  Int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UInt8: [0, 255],
  UInt16: [0, 65535],
  UInt32: [0, 4294967295],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
};

export function isMetricDatatype(v: unknown): v is MetricDatatype {
  return typeof v === 'string' && (METRIC_DATATYPES as readonly string[]).includes(v);
}

/** The editor's metric list: `[{ name, datatype }]` (a JSON string is accepted too). */
export function readMetricList(raw: unknown): Array<{ name: string; datatype: MetricDatatype }> {
  if (raw === undefined || raw === null || raw === '') return [];
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      throw new ConfigError('metrics must be a list of { name, datatype }');
    }
  }
  if (!Array.isArray(list)) throw new ConfigError('metrics must be a list of { name, datatype }');
  return list.map((m: unknown, i) => {
    const name = (m as { name?: unknown } | null)?.name;
    const datatype = (m as { datatype?: unknown } | null)?.datatype;
    if (typeof name !== 'string' || name.trim() === '') throw new ConfigError(`metric ${i + 1} has no name`);
    if (!isMetricDatatype(datatype)) throw new ConfigError(`metric "${name}" has an unknown datatype "${String(datatype)}"`);
    return { name: name.trim(), datatype };
  });
}

/** The datatype a metric gets from its first value when the editor's metric list does not name one. */
export function inferDatatype(value: SampleValue): MetricDatatype {
  if (typeof value === 'boolean') return 'Boolean';
  if (typeof value === 'string') return 'String';
  // A number, or null (a bad first reading): numbers default to Double, the type that loses nothing.
  return 'Double';
}

/**
 * Checks and converts a sample value to a metric's datatype. A value that cannot be that type is an
 * InputError that names the metric, so the user sees which tag of a batch was wrong.
 */
export function coerceValue(name: string, datatype: MetricDatatype, raw: SampleValue): MetricValue {
  if (raw === null) return null;
  const bad = (why: string) => new InputError(`metric "${name}" is ${datatype}: ${why}`);
  if (datatype === 'String') {
    if (typeof raw === 'object') throw bad(`${typeName(raw)} is not a string`);
    return String(raw);
  }
  if (datatype === 'Boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 0 || raw === 1) return raw === 1;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw bad(`${describe(raw)} is not a boolean`);
  }
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) n = Number(raw);
  else throw bad(`${describe(raw)} is not a number`);
  if (!Number.isFinite(n)) throw bad(`${n} is not a finite number`);
  const range = INT_RANGE[datatype];
  if (range) {
    if (!Number.isInteger(n)) throw bad(`${n} is not an integer`);
    if (n < range[0] || n > range[1]) throw bad(`${n} is outside ${range[0]}..${range[1]}`);
  }
  if (datatype === 'Float' && Math.abs(n) > 3.4028234663852886e38) throw bad(`${n} does not fit a 32-bit float`);
  return n;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 30 ? v.slice(0, 30) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeName(v);
}

/** Sparkplug quality codes (6.4.9 "Quality Codes"): 0 BAD, 192 GOOD, 500 STALE. */
const QUALITY_BAD = 0;

/** Encodes a Sparkplug B payload with Eclipse Tahu's codec. */
export function encodeSparkplugPayload(p: OutPayload): Buffer {
  const metrics = p.metrics.map((m) => {
    const out: Record<string, unknown> = { type: m.datatype, value: m.value, timestamp: m.ts };
    if (m.name !== undefined) out.name = m.name;
    if (m.alias !== undefined) out.alias = m.alias;
    if (m.historical) out.isHistorical = true;
    // A bad sample goes out as is_null (6.4.2 "is_null": null stated explicitly rather than -1 or
    // false) with the optional Quality property set to BAD (6.4.9, tck-id-payloads-propertyset-quality-value-type: Int32).
    if (m.quality === 'bad') out.properties = { Quality: { type: 'Int32', value: QUALITY_BAD } };
    return out;
  });
  const payload: Record<string, unknown> = { timestamp: p.timestamp, metrics };
  if (p.seq !== undefined) payload.seq = p.seq;
  return Buffer.from(codec!.encodePayload(payload as never));
}

/** Converts the codec's 64-bit values (long.js objects) to numbers. */
function plainValue(v: unknown): MetricValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  throw new InputError(`unsupported metric value (${typeName(v)})`);
}

function plainNumber(v: unknown): number | undefined {
  const n = plainValue(v);
  return typeof n === 'number' ? n : undefined;
}

/** Decodes an NCMD or DCMD payload; throws an InputError for bytes that are not a Sparkplug B payload. */
export function decodeCommandPayload(bytes: Uint8Array): { timestamp?: number; metrics: CommandMetric[] } {
  let decoded: ReturnType<NonNullable<typeof codec>['decodePayload']>;
  try {
    decoded = codec!.decodePayload(bytes);
  } catch (err) {
    throw new InputError(`not a Sparkplug B payload (${err instanceof Error ? err.message : String(err)})`);
  }
  const metrics: CommandMetric[] = [];
  for (const m of decoded.metrics ?? []) {
    const c: CommandMetric = { value: plainValue(m.value) };
    if (typeof m.name === 'string' && m.name !== '') c.name = m.name;
    const alias = plainNumber(m.alias);
    if (alias !== undefined) c.alias = alias;
    if (typeof m.type === 'string') c.datatype = m.type;
    const ts = plainNumber(m.timestamp);
    if (ts !== undefined) c.ts = ts;
    metrics.push(c);
  }
  const out: { timestamp?: number; metrics: CommandMetric[] } = { metrics };
  const ts = plainNumber(decoded.timestamp);
  if (ts !== undefined) out.timestamp = ts;
  return out;
}
