/**
 * From samples to MQTT messages: topic templates, payload formats and MQTT 5 properties for
 * plantwire-mqtt-publish (DESIGN.md section 6). Engine module: no node-red import.
 */
import { ConfigError, InputError, errorMessage } from '../shared/errors';
import { isPlainObject, typeName, type Sample } from '../shared/sample';
import type { QoS, QueueItem } from './queue';

export type PublishFormat = 'value' | 'json';

/** MQTT's limit for a whole packet is 268,435,455 bytes (MQTT 5.0 section 1.5.5); keep room for the header. */
export const MQTT_MAX_PAYLOAD = 268_435_455 - 65_535 - 1_024;

export interface MessageSettings {
  topic: TopicTemplate;
  qos: QoS;
  retain: boolean;
  format: PublishFormat;
  /** true: one message per tag; false: one message per batch. */
  split: boolean;
  /** Largest payload accepted, bytes. */
  maxPayload: number;
  /** MQTT 5 properties from the node's settings (merged with the message's own). */
  contentType?: string;
  messageExpiry?: number;
  userProperties?: Record<string, string | string[]>;
  /** Attach MQTT 5 properties (the broker speaks MQTT 5). */
  v5: boolean;
}

type Part = { text: string } | { tag: true } | { path: Array<string | number>; source: string };

export interface TopicTemplate {
  source: string;
  parts: Part[];
  usesTag: boolean;
}

const PLACEHOLDER = /\{(tag|msg\.[^{}]*)\}/g;

/** Parses `plant/{tag}`, `site/{msg.line}/{tag}`; refuses a template that can never give a valid topic. */
export function compileTopicTemplate(source: unknown): TopicTemplate {
  const text = typeof source === 'string' ? source.trim() : '';
  if (!text) throw new ConfigError('topic is required, e.g. plant/{tag}');
  const parts: Part[] = [];
  let at = 0;
  let usesTag = false;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index! > at) parts.push({ text: text.slice(at, m.index) });
    if (m[1] === 'tag') {
      parts.push({ tag: true });
      usesTag = true;
    } else {
      parts.push({ path: parsePath(m[1].slice(4), m[0]), source: m[1] });
    }
    at = m.index! + m[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  for (const p of parts) {
    const unknown = 'text' in p ? /\{[^{}]*\}/.exec(p.text) : null;
    if (unknown) {
      // '{ tag }', '{Tag}', '{msg}': taken as literal text, every message would go to one topic.
      throw new ConfigError(
        `topic "${text}": ${unknown[0]} is not a placeholder; use {tag} or {msg.<path>} (e.g. {msg.site}), written exactly so`,
      );
    }
    if ('text' in p && /[+#]/.test(p.text)) {
      throw new ConfigError(`topic "${text}" contains a wildcard (+ or #): a message cannot be published to a filter`);
    }
  }
  return { source: text, parts, usesTag };
}

const PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\]|\["[^"]*"\]|\['[^']*'\])*$/;

function parsePath(path: string, where: string): Array<string | number> {
  if (!PATH.test(path)) throw new ConfigError(`topic placeholder ${where} is not a message property path`);
  const out: Array<string | number> = [];
  for (const m of path.matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]|\["([^"]*)"\]|\['([^']*)'\]/g)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push((m[3] ?? m[4]) as string);
  }
  return out;
}

function lookup(msg: Record<string, unknown>, path: Array<string | number>): unknown {
  let v: unknown = msg;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** Checks a topic name for publishing (MQTT 5.0 sections 4.7.1 and 4.7.3, plus no empty levels). */
export function checkPublishTopic(topic: string): void {
  if (topic === '') throw new InputError('the topic is empty');
  if (/[+#]/.test(topic)) throw new InputError(`topic "${topic.slice(0, 80)}" contains a wildcard (+ or #); a message needs a topic name, not a filter`);
  if (topic.split('/').some((level) => level === '')) {
    throw new InputError(`topic "${topic.slice(0, 80)}" has an empty level (a leading, trailing or double /)`);
  }
  if (topic.includes('\u0000')) throw new InputError('topic contains a NUL character');
  if (Buffer.byteLength(topic) > 65_535) throw new InputError('topic is longer than 65,535 bytes');
}

/**
 * Topics that passed checkPublishTopic lately. A plant publishes the same few thousand topics over
 * and over; checking each again (split, regular expressions, byte length) cost more per message
 * than storing it (bench/publish). Cleared when full, so it stays small whatever comes in.
 */
const checkedTopics = new Set<string>();
const CHECKED_TOPICS_MAX = 10_000;

function checkTopicOnce(topic: string): void {
  if (checkedTopics.has(topic)) return;
  checkPublishTopic(topic);
  if (checkedTopics.size >= CHECKED_TOPICS_MAX) checkedTopics.clear();
  checkedTopics.add(topic);
}

/** Renders a template for one tag (or none, for a whole batch) and checks the result. */
export function renderTopic(t: TopicTemplate, tag: string | undefined, msg: Record<string, unknown>): string {
  let out = '';
  for (const p of t.parts) {
    if ('text' in p) out += p.text;
    else if ('tag' in p) {
      if (tag === undefined || tag === '') {
        throw new InputError(`topic "${t.source}" needs {tag}, but this message has no tag (set msg.topic, or send samples)`);
      }
      out += tag;
    } else {
      const v = lookup(msg, p.path);
      if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out += String(v);
      else throw new InputError(`topic "${t.source}": {${p.source}} is ${v === undefined ? 'missing' : typeName(v)}, not a string or number`);
    }
  }
  checkTopicOnce(out);
  return out;
}

function json(v: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (err) {
    throw new InputError(`${what} cannot be sent as JSON: ${errorMessage(err)}`);
  }
  if (text === undefined) throw new InputError(`${what} cannot be sent as JSON (${typeName(v)})`);
  return text;
}

/** `value` format: strings as they are, Buffers as raw bytes, everything else as JSON text. */
export function encodeValue(value: unknown, what = 'the value'): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  return Buffer.from(json(value, what));
}

function sampleJson(s: Sample): Record<string, unknown> {
  const o: Record<string, unknown> = {
    value: Buffer.isBuffer(s.value) ? (s.value as Buffer).toString('base64') : s.value,
    quality: s.quality,
    timestamp: s.ts,
  };
  if (s.unit !== undefined) o.unit = s.unit;
  return o;
}

function userPropertiesOf(raw: unknown, where: string): Record<string, string | string[]> {
  if (!isPlainObject(raw)) throw new InputError(`${where} must be an object of name: value strings`);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string') out[k] = v;
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') out[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
    else throw new InputError(`${where}.${k} must be a string, not ${typeName(v)}`);
  }
  return out;
}

/** Parses the node setting for user properties (a JSON object text); '' means none. */
export function parseUserProperties(text: unknown): Record<string, string | string[]> | undefined {
  if (text === undefined || text === null || (typeof text === 'string' && text.trim() === '')) return undefined;
  let v: unknown = text;
  if (typeof text === 'string') {
    try {
      v = JSON.parse(text);
    } catch {
      throw new ConfigError('user properties must be a JSON object, e.g. {"site":"plant1"}');
    }
  }
  try {
    return userPropertiesOf(v, 'user properties');
  } catch (err) {
    throw new ConfigError(errorMessage(err));
  }
}

function propertiesFor(msg: Record<string, unknown>, s: MessageSettings): Record<string, unknown> | undefined {
  if (!s.v5) return undefined;
  const p: Record<string, unknown> = {};
  const ct = msg.contentType ?? s.contentType ?? (s.format === 'json' ? 'application/json' : undefined);
  if (ct !== undefined && ct !== '') {
    if (typeof ct !== 'string') throw new InputError(`msg.contentType must be a string, not ${typeName(ct)}`);
    p.contentType = ct;
  }
  const exp = msg.messageExpiryInterval ?? s.messageExpiry;
  if (exp !== undefined && exp !== 0) {
    if (typeof exp !== 'number' || !Number.isInteger(exp) || exp < 0 || exp > 0xffffffff) {
      throw new InputError(`msg.messageExpiryInterval must be whole seconds (0..4294967295), not ${String(exp).slice(0, 20)}`);
    }
    p.messageExpiryInterval = exp;
  }
  const up = { ...(s.userProperties ?? {}), ...(msg.userProperties !== undefined ? userPropertiesOf(msg.userProperties, 'msg.userProperties') : {}) };
  if (Object.keys(up).length) p.userProperties = up;
  return Object.keys(p).length ? p : undefined;
}

/**
 * The messages for one input message: one per tag (split) or one for the batch. All are checked
 * before any is returned, so a bad tag refuses the whole input message (nothing half-sent).
 */
export function buildMessages(msg: Record<string, unknown>, samples: readonly Sample[], asBatch: boolean, s: MessageSettings, now: number): QueueItem[] {
  if (!samples.length) throw new InputError('the message has no samples (an empty batch)');
  const properties = propertiesFor(msg, s);
  const out: QueueItem[] = [];
  const add = (topic: string, payload: Buffer) => {
    if (payload.length > s.maxPayload) {
      throw new InputError(`the payload for "${topic.slice(0, 60)}" is ${payload.length} bytes, more than the ${s.maxPayload} allowed`);
    }
    const it: QueueItem = { qos: s.qos, retain: s.retain, ts: now, topic, payload };
    if (properties) it.properties = properties;
    out.push(it);
  };
  if (s.split || !asBatch) {
    for (const sample of samples) {
      const topic = renderTopic(s.topic, sample.tag, msg);
      const payload = s.format === 'json' ? Buffer.from(json(sampleJson(sample), `tag "${sample.tag}"`)) : encodeValue(sample.value, `tag "${sample.tag}"`);
      add(topic, payload);
    }
  } else {
    const tag = typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : undefined;
    const topic = renderTopic(s.topic, tag, msg);
    const body: Record<string, unknown> = {};
    // Buffers as base64 in both formats (JSON.stringify would give {"type":"Buffer","data":[...]}).
    for (const sample of samples) {
      body[sample.tag] = s.format === 'json' ? sampleJson(sample) : Buffer.isBuffer(sample.value) ? (sample.value as Buffer).toString('base64') : sample.value;
    }
    add(topic, Buffer.from(json(body, 'the batch')));
  }
  return out;
}
