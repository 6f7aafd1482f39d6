/**
 * Turning engine results back into messages, for the stats, deadband, rate and resample nodes.
 * One input can produce several results (a resample gap, a swinging door archiving two points) and
 * a timer can produce results with no input at all; this keeps the output form the same in every case.
 */
import { InputError } from '../shared/errors';
import { batchMessage, isBatchMessage, isQuality, samplesFromMessage, singleTag, type Quality, type ReadOptions, type Sample, type SampleMessage, type SampleValue } from '../shared/sample';
import { checkEventTimes, checkSampleTime, DATE_LIMIT_MS } from './event-clock';

/** A result: a sample whose value may be an object (stats), plus flags for the single form. */
export interface Result {
  tag: string;
  value: unknown;
  quality: Quality;
  ts: number;
  unit?: string;
  /** Set as message properties in the single form (`heartbeat`, `filled`, `counterReset`). */
  heartbeat?: boolean;
  filled?: boolean;
  counterReset?: boolean;
}

const FLAGS = ['heartbeat', 'filled', 'counterReset'] as const;
/**
 * Removes the input properties that would be wrong on an output message. Named property reads,
 * not a loop of `k in msg` over a list of names: those keyed lookups cost more than a statistic
 * (bench/analytics). `delete` only what is set: deleting an absent key still costs V8 the object's
 * fast shape.
 */
function clearStale(msg: SampleMessage): void {
  if (msg.unit !== undefined) delete msg.unit;
  if (msg.units !== undefined) delete msg.units;
  if (msg.reset !== undefined) delete msg.reset;
  if (msg.heartbeat !== undefined) delete msg.heartbeat;
  if (msg.filled !== undefined) delete msg.filled;
  if (msg.counterReset !== undefined) delete msg.counterReset;
}

function asSample(r: Result): Sample {
  const s: Sample = { tag: r.tag, value: r.value as SampleValue, quality: r.quality, ts: r.ts };
  if (r.unit !== undefined) s.unit = r.unit;
  return s;
}

/** A node's send, as sendResults calls it: one message, or several on the first output. */
export type SendResults = (msg: SampleMessage | SampleMessage[][]) => void;

/**
 * Sends the messages for `results` (resultMessages), without the array of one message that the
 * common case, one result of a single-form input, would allocate.
 */
export function sendResults(
  results: readonly Result[],
  asBatch: boolean,
  input: SampleMessage,
  send: SendResults,
  clone: (m: SampleMessage) => SampleMessage,
): void {
  if (results.length === 0) return;
  if (!asBatch && results.length === 1) {
    send(singleResult(results[0], input));
    return;
  }
  const msgs = resultMessages(results, asBatch, input, clone);
  send(msgs.length === 1 ? msgs[0] : [msgs]);
}

/**
 * Messages for `results`, in order. Single form: one message per result. Batch form: one message
 * per distinct timestamp (results of one poll share it; resample buckets differ), the flags set
 * only when every result in it has them. The first message reuses `input` (keeping `_msgid` and the
 * user's own properties); further ones are copies of the input as it arrived.
 */
export function resultMessages(
  results: readonly Result[],
  asBatch: boolean,
  input?: SampleMessage,
  clone: (m: SampleMessage) => SampleMessage = (m) => ({ ...m }),
): SampleMessage[] {
  if (results.length === 0) return [];
  if (!asBatch) {
    // The single form, one message per result (the common case, one result per input, allocates
    // nothing but the result message's own properties).
    if (results.length === 1) return [singleResult(results[0], input)];
    const pristine = input ? clone(input) : undefined;
    return results.map((r, i) => singleResult(r, pristine === undefined ? undefined : i === 0 ? input : clone(pristine)));
  }
  const byTs = new Map<number, Result[]>();
  for (const r of results) {
    const g = byTs.get(r.ts);
    if (g) g.push(r);
    else byTs.set(r.ts, [r]);
  }
  const groups = [...byTs.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  // Copies only when one input gives several messages: a deep clone costs more than the statistics.
  const pristine = input && groups.length > 1 ? clone(input) : undefined;
  return groups.map((g, i) => {
    const form = batchMessage(g.map(asSample));
    let msg: SampleMessage;
    if (!input) msg = form;
    else {
      msg = i === 0 ? input : clone(pristine!);
      clearStale(msg);
      Object.assign(msg, form);
    }
    for (const f of FLAGS) if (g.every((r) => r[f] === true)) msg[f] = true;
    return msg;
  });
}

/**
 * The single form of one result: written straight onto `target` (what Object.assign(target,
 * singleMessage(...)) did, without the intermediate objects), or a new message without one.
 */
function singleResult(r: Result, target: SampleMessage | undefined): SampleMessage {
  let msg: SampleMessage;
  if (!target) {
    msg = { topic: r.tag, payload: r.value, quality: r.quality, timestamp: r.ts };
    if (r.unit !== undefined) msg.unit = r.unit;
  } else {
    msg = target;
    clearStale(msg);
    msg.topic = r.tag;
    msg.payload = r.value;
    msg.quality = r.quality;
    msg.timestamp = r.ts;
    if (r.unit !== undefined) msg.unit = r.unit;
  }
  if (r.heartbeat === true) msg.heartbeat = true;
  if (r.filled === true) msg.filled = true;
  if (r.counterReset === true) msg.counterReset = true;
  return msg;
}

const NO_RESET: { reset: boolean; tag?: string } = Object.freeze({ reset: false });

/** `msg.reset = true`: the tag to forget (msg.topic when it is a non-empty string), or all tags. */
export function resetTarget(msg: SampleMessage): { reset: boolean; tag?: string } {
  // Asked for every message: the answer "no reset" is one shared (frozen) object.
  if (msg.reset !== true) return NO_RESET;
  return typeof msg.topic === 'string' && msg.topic !== '' ? { reset: true, tag: msg.topic } : { reset: true };
}

/** Whether any result is not of good quality (a loop: no closure per message, as `some` would take). */
export function anyNotGood(results: readonly { quality: Quality }[]): boolean {
  for (let i = 0; i < results.length; i++) if (results[i].quality !== 'good') return true;
  return false;
}

/** A figure short enough for a node status. */
export function shortNumber(v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  return String(Number(v.toPrecision(5)));
}

/** Period of a node's housekeeping timer: a quarter of the time it watches, between 50 ms and 1 s. */
export function tickMs(periodMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(periodMs / 4)));
}

/**
 * The samples of an input message, checked the same way by every one of these nodes before any
 * state changes: both forms read, no timestamp that would lock a tag, no empty batch.
 */
export function readInputSamples(msg: SampleMessage, options: ReadOptions): Sample[] {
  const samples = samplesFromMessage(msg, options);
  checkEventTimes(samples);
  if (samples.length === 0) throw new InputError('msg.payload is an empty batch: no tags');
  return samples;
}

/**
 * The timestamp of a single-form message when reading it needs no parsing: epoch milliseconds in
 * the range of dates, or none (arrival time, read now). NaN for anything else (a Date, an ISO text,
 * a bad number), which samplesFromMessage reads or refuses.
 */
function plainTimestamp(raw: unknown, read: ReadOptions): number {
  if (typeof raw === 'number') return raw >= -DATE_LIMIT_MS && raw <= DATE_LIMIT_MS ? raw : NaN;
  return raw === undefined || raw === null ? (read.now ?? Date.now)() : NaN;
}

/** msg.quality when it is a quality or none (good); undefined for anything samplesFromMessage refuses. */
function plainQuality(raw: unknown): Quality | undefined {
  // "good" first: one comparison, where isQuality looks the text up in a Set.
  if (raw === 'good' || raw === undefined || raw === null) return 'good';
  return isQuality(raw) ? raw : undefined;
}

/**
 * handleSamples for a single-form message of one finite number (most messages), when the node
 * offers pushOne: what samplesFromMessage, checkEventTimes, push and sendResults do for it, without
 * the sample object and the arrays between them. False, having changed nothing, for any other
 * message (a batch, another value, a quality or timestamp to parse or refuse): the general path's.
 */
function handledAsSingleNumber<R extends Result>(msg: SampleMessage, send: SendResults, input: SampleInput<R>): boolean {
  if (input.pushOne === undefined) return false;
  const p = plainSingleNumber(msg, input.read);
  if (p === undefined) return false;
  const { tag, value, quality, ts } = p;
  checkSampleTime(tag, ts);
  const r = input.pushOne(tag, value, quality, ts, typeof msg.unit === 'string' && msg.unit !== '' ? msg.unit : undefined);
  if (r !== undefined) send(singleResult(r, msg));
  return true;
}

/** A single-form sample of one finite number, as plainSingleNumber reads it. */
export interface PlainSingle {
  tag: string;
  value: number;
  quality: Quality;
  ts: number;
}

/** plainSingleNumber's answer: one record, overwritten by the next call (no object per message). */
const plain: PlainSingle = { tag: '', value: 0, quality: 'good', ts: 0 };

/**
 * A single-form message of one finite number whose quality and timestamp need no parsing (most
 * messages): its sample, in a record the next call overwrites (read it at once), or undefined for
 * any other message, which the general path (samplesFromMessage) reads or refuses. The one rule
 * for the analytics nodes' fast paths.
 */
export function plainSingleNumber(msg: SampleMessage, read: ReadOptions): PlainSingle | undefined {
  const value = msg.payload;
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const quality = plainQuality(msg.quality);
  if (quality === undefined) return undefined;
  const ts = plainTimestamp(msg.timestamp, read);
  if (Number.isNaN(ts)) return undefined;
  plain.tag = singleTag(msg, read);
  plain.value = value;
  plain.quality = quality;
  plain.ts = ts;
  return plain;
}

/**
 * What a per-sample analytics node (stats, deadband, resample, rate) gives handleSamples: made once
 * per node, so that handling a message makes no closure.
 */
export interface SampleInput<R extends Result> {
  read: ReadOptions;
  /** `msg.reset`: forget one tag (or every tag when undefined) and show it. */
  reset(tag: string | undefined): void;
  /** Pushes the samples through the engine, shows the results and returns them. */
  push(samples: Sample[], batch: boolean): readonly R[];
  /**
   * `push([sample], false)` for the nodes whose one sample gives at most one result, without the
   * arrays in and out nor the sample object: that result (which may be a record the engine reuses
   * for the next one), or undefined. Single-form messages of one finite number take this path.
   */
  pushOne?(tag: string, value: number, quality: Quality, ts: number, unit: string | undefined): R | undefined;
  /** Shows that a message was refused (it is thrown on to onSyncInput, which reports it). */
  rejected(): void;
  /** Copies the input message, for a second result of one input. */
  clone(m: SampleMessage): SampleMessage;
}

/**
 * The input handler those nodes share: `msg.reset` forgets, anything else is read as samples (both
 * forms, checked before any state changes), pushed through the engine, and its results are sent on
 * in the form the input came in.
 */
export function handleSamples<R extends Result>(msg: SampleMessage, send: SendResults, input: SampleInput<R>): void {
  const reset = resetTarget(msg);
  if (reset.reset) {
    input.reset(reset.tag);
    return;
  }
  try {
    if (handledAsSingleNumber(msg, send, input)) return;
    const batch = isBatchMessage(msg);
    sendResults(input.push(readInputSamples(msg, input.read), batch), batch, msg, send, input.clone);
  } catch (err) {
    input.rejected();
    throw err;
  }
}
