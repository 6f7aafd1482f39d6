/**
 * The hostile messages of the cross-palette robustness suite (test/nodes/robustness.test.ts), and
 * the checks applied to what a node does with them. Kept apart from the suite so the table reads
 * as a list.
 */
import type { Msg } from './red';

/** What a node under test needs for its hostile messages to be about one thing at a time. */
export interface CaseTarget {
  /**
   * Tag for the single-form messages of case `id`: a tag of its own where the node takes any tag
   * (so one case's accepted timestamp cannot upset the next), a tag the node knows otherwise.
   */
  tag: (id: string) => string;
  /** A value that is valid for `tag`, carried by the cases that test another property. */
  value: unknown;
  /** Batch tag names the node accepts (used by the batch-with-NaN case), two of them. */
  batchTags: [string, string];
  /** Tag name number `i` of a huge batch. */
  hugeTag: (i: number) => string;
}

export interface HostileCase {
  /** Short key, used to list the cases a node still fails (see OPEN_FAILURES in the suite). */
  id: string;
  /** Readable test name. */
  title: string;
  make: (t: CaseTarget, tag: string) => Msg;
  /** When the node refuses the message, its error must name this (what was wrong). */
  names: RegExp;
  /** 10 MB / 100k-tag cases: run once per node, with a longer bound. */
  heavy?: boolean;
  /**
   * A plain sample for the same tag, sent right after (timestamp cases): whether the node took the
   * odd timestamp or refused it, the tag's next sample, stamped now, must still be taken.
   */
  sameTagAfter?: boolean;
  /**
   * A plain sample for a tag never seen before, sent right after: a huge batch, taken or refused,
   * must not leave the node's (bounded) tag table too full to take a new tag.
   */
  newTagAfter?: boolean;
  /** Send a plain sample for the same tag first (stamped now), so the tag has a previous sample. */
  tagSeenBefore?: boolean;
}

export const HUGE_TAGS = 100_000;
const TEN_MB = 10 * 1024 * 1024;

const PAYLOAD = /payload|value|number|frame|byte|tag|batch|signal|metric|waveform|empty|large|size|long|allowed|limit|command|string|type/i;

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function hugeBatch(t: CaseTarget): Record<string, number> {
  const p: Record<string, number> = {};
  for (let i = 0; i < HUGE_TAGS; i++) p[t.hugeTag(i)] = i % 1000;
  return p;
}

/** Year 3000 in epoch ms: a date, but far ahead of any clock. */
const YEAR_3000 = Date.UTC(3000, 0, 1);

export const HOSTILE_CASES: HostileCase[] = [
  { id: 'payload-undefined', title: 'payload undefined', make: (_t, tag) => ({ topic: tag }), names: PAYLOAD },
  { id: 'payload-null', title: 'payload null', make: (_t, tag) => ({ topic: tag, payload: null }), names: PAYLOAD },
  { id: 'NaN', title: 'payload NaN', make: (_t, tag) => ({ topic: tag, payload: NaN }), names: PAYLOAD },
  { id: 'Infinity', title: 'payload Infinity', make: (_t, tag) => ({ topic: tag, payload: Infinity }), names: PAYLOAD },
  { id: '-Infinity', title: 'payload -Infinity', make: (_t, tag) => ({ topic: tag, payload: -Infinity }), names: PAYLOAD },
  { id: 'empty-string', title: "payload ''", make: (_t, tag) => ({ topic: tag, payload: '' }), names: PAYLOAD },
  { id: 'abc', title: "payload 'abc'", make: (_t, tag) => ({ topic: tag, payload: 'abc' }), names: PAYLOAD },
  { id: 'true', title: 'payload true', make: (_t, tag) => ({ topic: tag, payload: true }), names: PAYLOAD },
  { id: 'empty-batch', title: 'payload {} (an empty batch)', make: () => ({ payload: {} }), names: PAYLOAD },
  { id: 'empty-array', title: 'payload []', make: (_t, tag) => ({ topic: tag, payload: [] }), names: PAYLOAD },
  { id: 'array-NaN', title: 'payload [NaN]', make: (_t, tag) => ({ topic: tag, payload: [NaN] }), names: PAYLOAD },
  { id: 'circular', title: 'payload a circular object', make: (_t, tag) => ({ topic: tag, payload: circular(), quality: 'good' }), names: /circular|payload|value|object|tag|metric|signal/i },
  { id: 'bigint', title: 'payload a BigInt', make: (_t, tag) => ({ topic: tag, payload: BigInt(7) }), names: PAYLOAD },
  { id: 'buffer', title: 'payload a Buffer', make: (_t, tag) => ({ topic: tag, payload: Buffer.from([1, 2, 3]) }), names: PAYLOAD },
  {
    id: 'nan-in-batch',
    title: 'a batch with a NaN value',
    make: (t) => ({ payload: { [t.batchTags[0]]: t.value, [t.batchTags[1]]: NaN } }),
    names: /NaN|finite|not a number|payload|value|number/i,
  },
  { id: 'ts-yesterday', sameTagAfter: true, title: "msg.timestamp 'yesterday'", make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: 'yesterday' }), names: /timestamp/i },
  { id: 'ts-NaN', sameTagAfter: true, title: 'msg.timestamp NaN', make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: NaN }), names: /timestamp/i },
  { id: 'ts-negative', sameTagAfter: true, title: 'msg.timestamp -1', make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: -1 }), names: /timestamp/i },
  { id: 'ts-future', sameTagAfter: true, title: 'msg.timestamp in the year 3000', make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: YEAR_3000 }), names: /timestamp/i },
  {
    id: 'ts-beyond-date',
    sameTagAfter: true,
    title: 'msg.timestamp beyond the Date range (MAX_SAFE_INTEGER)',
    make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: Number.MAX_SAFE_INTEGER }),
    names: /timestamp/i,
  },
  {
    id: 'ts-before-date',
    sameTagAfter: true,
    tagSeenBefore: true,
    title: 'msg.timestamp -1e16 (before the Date range) on a tag already seen',
    make: (t, tag) => ({ topic: tag, payload: t.value, timestamp: -1e16 }),
    names: /timestamp/i,
  },
  { id: 'quality-weird', title: "msg.quality 'weird'", make: (t, tag) => ({ topic: tag, payload: t.value, quality: 'weird' }), names: /quality/i },
  { id: 'topic-object', title: 'msg.topic an object', make: (t, tag) => ({ topic: { tag }, payload: t.value }), names: /topic|tag|signal|metric/i },
  { id: 'unknown-tag', title: 'an unknown tag name', make: (t) => ({ topic: 'no/such-tag', payload: t.value }), names: /unknown|tag|signal|topic|metric|state, good or reject|payload/i },
  {
    id: 'unknown-tag-batch',
    title: 'a batch with an unknown tag name',
    make: (t) => ({ payload: { [t.batchTags[0]]: t.value, 'no/such-tag': t.value } }),
    names: /unknown|tag|signal|metric|state, good or reject|payload/i,
  },
  { id: 'reset-junk', title: "msg.reset 'junk'", make: (t, tag) => ({ topic: tag, payload: t.value, reset: 'junk' }), names: /reset/i },
  { id: 'reset-object', title: 'msg.reset an object', make: (t, tag) => ({ topic: tag, payload: t.value, reset: { all: true } }), names: /reset/i },
  { id: 'action-junk', title: "msg.action 'junk'", make: (t, tag) => ({ topic: tag, payload: t.value, action: 'junk' }), names: /action/i },
  { id: 'action-number', title: 'msg.action 42', make: (t, tag) => ({ topic: tag, payload: t.value, action: 42 }), names: /action/i },
  { id: '10MB', title: 'payload a 10 MB string', make: (_t, tag) => ({ topic: tag, payload: 'x'.repeat(TEN_MB) }), names: PAYLOAD, heavy: true },
  { id: '100k-tags', newTagAfter: true, title: `a ${HUGE_TAGS.toLocaleString('en-US')}-tag batch`, make: (t) => ({ payload: hugeBatch(t) }), names: /tag|batch|payload|metric|signal|unknown|line|limit|many|large|allowed/i, heavy: true },
];

/** Property paths inside `value` that hold NaN or +-Infinity (a walk that survives cycles). */
export function nonFinitePaths(value: unknown, path = 'payload', seen = new Set<unknown>(), out: string[] = []): string[] {
  if (out.length >= 5) return out;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push(`${path} = ${value}`);
    return out;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return out;
  if (seen.has(value)) return out;
  seen.add(value);
  if (Array.isArray(value)) value.forEach((v, i) => nonFinitePaths(v, `${path}[${i}]`, seen, out));
  else for (const [k, v] of Object.entries(value as Record<string, unknown>)) nonFinitePaths(v, `${path}.${k}`, seen, out);
  return out;
}

const QUALITIES = new Set(['good', 'uncertain', 'bad']);

/** Why an output message of a sample-emitting node is not well formed, or undefined if it is. */
export function malformedSample(msg: Msg): string | undefined {
  const bad = nonFinitePaths(msg.payload);
  if (bad.length) return `non-finite number in the output: ${bad.join(', ')}`;
  if (msg.timestamp !== undefined && (typeof msg.timestamp !== 'number' || !Number.isFinite(msg.timestamp))) {
    return `output msg.timestamp is ${String(msg.timestamp)}`;
  }
  // ECMA-262 time values end at +-8.64e15 ms: beyond that no Date, chart or database takes it.
  if (typeof msg.timestamp === 'number' && Math.abs(msg.timestamp) > 8.64e15) return `output msg.timestamp ${msg.timestamp} is outside the range of a Date`;
  const q = msg.quality;
  if (q !== undefined) {
    const qs = typeof q === 'string' ? [q] : q && typeof q === 'object' ? Object.values(q) : [q];
    const wrong = qs.find((x) => !QUALITIES.has(x as string));
    if (wrong !== undefined) return `output msg.quality holds ${JSON.stringify(wrong)}`;
  }
  return undefined;
}

/** Why an error a node reported is not a clear one, or undefined if it is. */
export function unclearError(text: unknown, names: RegExp): string | undefined {
  if (typeof text !== 'string' || text.trim() === '') return `the error has no message (${String(text)})`;
  const body = text.replace(/^[A-Za-z]*Error:\s*/, '');
  if (body.trim() === '' || /^(undefined|null|\[object Object\])$/.test(body.trim()) || body.includes('[object Object]')) {
    return `the error message says nothing: ${JSON.stringify(text)}`;
  }
  // A JavaScript engine error escaping from the node is a crash caught late, not a message for a user.
  if (/^(TypeError|RangeError|ReferenceError|SyntaxError):/.test(text)) return `an engine error escaped the node: ${text.slice(0, 160)}`;
  if (!names.test(body)) return `the error does not say what was wrong (expected it to mention ${names}): ${text.slice(0, 160)}`;
  return undefined;
}
