/**
 * Cross-palette robustness: "Bad input gets a clear error on the node (status and Catch), the flow
 * keeps running, and no data is lost. Every node is tried with wrong types, NaN, huge and empty
 * inputs." (DESIGN.md, CONTRIBUTING.md).
 *
 * Every node type that has an input runs in Node-RED's test helper with a valid configuration, a
 * Catch and a Complete node scoped to it, and gets each hostile message of
 * test/helpers/robustness-cases.ts, then a valid message. For each (node, message) pair:
 * - the node settles the message within a bound: done() (Complete) or done(err) (Catch), once;
 * - an error says what was wrong: a non-empty message, not "undefined"/"[object Object]", not a
 *   JavaScript engine error (TypeError, RangeError ...) escaping from the node, and naming the
 *   property at fault;
 * - whatever the node sends is well formed: no NaN or Infinity anywhere in msg.payload, a finite
 *   msg.timestamp and known qualities for sample-emitting nodes;
 * - the valid message that follows is processed normally (its output, or its effect on the device,
 *   the broker or the GPIO line, is checked).
 * An uncaught exception or unhandled rejection fails the running test: jest-circus owns the
 * process's 'uncaughtException' / 'unhandledRejection' handlers while tests run (listeners added
 * from inside the test sandbox are never called), and reports either as a failure of that test.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { helper, load, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { HOSTILE_CASES, malformedSample, nonFinitePaths, unclearError, type CaseTarget, type HostileCase } from '../helpers/robustness-cases';
import { freePort } from './modbus/ports';
import { TestBroker, waitFor } from '../unit/publish/broker-fixture';
import { decode } from '../unit/publish/sparkplug-fakes';
import alarmNode = require('../../nodes/analytics/alarm');
import anomalyNode = require('../../nodes/analytics/anomaly');
import deadbandNode = require('../../nodes/analytics/deadband');
import oeeNode = require('../../nodes/analytics/oee');
import rateNode = require('../../nodes/analytics/rate');
import resampleNode = require('../../nodes/analytics/resample');
import scaleNode = require('../../nodes/analytics/scale');
import statsNode = require('../../nodes/analytics/stats');
import vibrationNode = require('../../nodes/analytics/vibration');
import gpioInNode = require('../../nodes/field/gpio-in');
import gpioOutNode = require('../../nodes/field/gpio-out');
import i2cNode = require('../../nodes/field/i2c');
import i2cSensorNode = require('../../nodes/field/i2c-sensor');
import parseNode = require('../../nodes/field/parse');
import connectionNode = require('../../nodes/modbus/modbus-connection');
import readNode = require('../../nodes/modbus/modbus-read');
import writeNode = require('../../nodes/modbus/modbus-write');
import serverNode = require('../../nodes/modbus/modbus-server');
import brokerNode = require('../../nodes/publish/mqtt-broker');
import publishNode = require('../../nodes/publish/mqtt-publish');
import edgeNode = require('../../nodes/publish/sparkplug-edge');
import deviceNode = require('../../nodes/publish/sparkplug-device');

/**
 * (node, case) pairs that fail today and are reported to the lead; they are left out of the table so
 * the committed suite is green. Delete an entry once its node is fixed, and the case runs again.
 * - ts-future (stats, deadband, rate): the node takes a timestamp in the year 3000 and then refuses
 *   every later sample of that tag as "older than the previous sample": one bad timestamp locks
 *   the tag for good. (alarm, anomaly, vibration and oee refuse a timestamp more than a day ahead.)
 */
const OPEN_FAILURES: Record<string, string[]> = {};

/**
 * Nodes whose status does not show a refused message: after done(err) the status stays as it was
 * (a green dot, typically), so "a clear error on the node" reaches Catch and the log but not the
 * editor. For the others the suite checks that a refusal leaves a red or yellow ring.
 */
const OPEN_STATUS_FAILURES = new Set<string>([]);

const BOUND_MS = 5000;
/**
 * Bound for the 10 MB / 100k-tag cases and for the valid message queued behind them: a publish node
 * sends the 100,000 messages of the batch to the broker first (order is kept), which takes a while
 * on a loaded 2-CPU machine. A bound, not a timing assertion.
 */
const HEAVY_BOUND_MS = 45000;

interface Env {
  port: number;
  broker: TestBroker;
}

interface NodeSpec {
  /** The node type under test (its id in the flow is always 'n', wired to helper 'out'). */
  type: string;
  /** Describe title when one type is tried in two roles (i2c read and write). */
  title?: string;
  modules: unknown[];
  flow: (env: Env) => FlowNode[];
  target: CaseTarget;
  /** Valid message number i (0 primes the node: births, baselines, opened lines). */
  valid: (i: number) => Msg;
  /** What a valid message sends: an output carrying its _msgid, any output after it, or nothing. */
  output: 'same' | 'any' | 'none';
  /** The outputs are samples (payload numbers, msg.timestamp and msg.quality checked). */
  samples: boolean;
  /** Checks the output (or the effect) of valid message i; returns what is wrong, if anything. */
  check?: (i: number, outs: Msg[], ctx: SuiteContext) => Promise<string | undefined> | string | undefined;
  /** Node-specific hostile messages, besides the common table. */
  extra?: HostileCase[];
  broker?: boolean;
}

interface SuiteContext {
  env: Env;
  outs: Msg[];
  oks: Msg[];
  errs: Msg[];
  get: (id: string) => TestNode;
  /** How long the valid message's effect may take (longer after a huge message, queued ahead of it). */
  bound: number;
}

const PARSE_PATTERN = '^(?<status>ST|US),(?<mode>GS|NT),(?<weight>[-+]?\\d+(?:\\.\\d+)?)\\s*(?<weight_unit>[a-z]+)$';
/** Event time of the valid messages: a fixed hour boundary, so resample buckets close on the next one. */
const T0 = Date.UTC(2026, 0, 1);
const plainTarget = (value: unknown): CaseTarget => ({ tag: (id) => `h-${id}`, value, batchTags: ['a', 'b'], hugeTag: (i) => `t${i}` });
const last = (outs: Msg[]): Msg | undefined => outs[outs.length - 1];
const sine = (n: number, hz: number, rate: number) => Array.from({ length: n }, (_, k) => Math.sin((2 * Math.PI * hz * k) / rate));

function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  return waitFor(cond, ms).then(
    () => true,
    () => false,
  );
}

function modbusFlow(port: number, which: 'read' | 'write' | 'server'): FlowNode[] {
  const signals = [
    { name: 'sp', area: 'holding', address: 0, type: 'int16', signal: 'constant', value: '0' },
    { name: 'level', area: 'holding', address: 1, type: 'uint16', signal: 'constant', value: '5' },
    { name: 'run', area: 'coil', address: 0, type: 'bool', signal: 'constant', value: 'false' },
  ];
  const tags = signals.map(({ name, area, address, type }) => ({ name, area, address, type }));
  const id = (role: typeof which, aux: string) => (role === which ? 'n' : aux);
  const wires = (role: typeof which, aux: string) => [[role === which ? 'out' : aux]];
  return [
    { id: id('server', 'srv'), type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: wires('server', 'written') },
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 500, maxGap: 10 },
    { id: id('read', 'rd'), type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 0, output: 'batch', tags, wires: wires('read', 'readOut') },
    { id: id('write', 'wr'), type: 'plantwire-modbus-write', connection: 'conn', unitId: 1, tags, wires: wires('write', 'wrote') },
    ...['written', 'readOut', 'wrote'].map((h) => ({ id: h, type: 'helper' })),
  ];
}

function i2cFlow(node: Record<string, unknown>): FlowNode[] {
  return [
    { id: 'n', type: 'plantwire-i2c', backend: 'simulated', bus: '1', address: '0x76', register: '0xD0', length: '1', ...node, wires: [['out']] },
    // The simulated BME280 that the raw reads and writes talk to (a sensor node fits it on the bus).
    { id: 'chip', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '1', address: '0x76', device: 'bme280', interval: '0', wires: [] },
  ];
}

const i2cExtra: HostileCase[] = [
  { id: 'register-junk', title: "msg.register 'junk'", make: () => ({ register: 'junk', payload: [0x27] }), names: /register/i },
  { id: 'register-negative', title: 'msg.register -1', make: () => ({ register: -1, payload: [0x27] }), names: /register/i },
];

const SPECS: NodeSpec[] = [
  {
    type: 'plantwire-scale',
    modules: [scaleNode],
    flow: () => [{ id: 'n', type: 'plantwire-scale', inLow: '4', inHigh: '20', outLow: '0', outHigh: '10', clamp: false, wires: [['out']] }],
    target: plainTarget(12),
    valid: (i) => ({ topic: 'ok', payload: 4 + (i % 17) }),
    output: 'same',
    samples: true,
    check: (i, outs) => (last(outs)?.payload === ((i % 17) * 10) / 16 ? undefined : `scaled ${4 + (i % 17)} to ${last(outs)?.payload}`),
  },
  {
    type: 'plantwire-stats',
    modules: [statsNode],
    flow: () => [{ id: 'n', type: 'plantwire-stats', window: 'count', size: '5', emit: 'sample', stats: ['mean', 'min', 'max', 'stddev', 'count'], wires: [['out']] }],
    target: plainTarget(1),
    valid: (i) => ({ topic: 'ok', payload: i }),
    output: 'same',
    samples: true,
    check: (i, outs) => (last(outs)?.payload?.max === i ? undefined : `max of a window ending in ${i} was ${last(outs)?.payload?.max}`),
  },
  {
    type: 'plantwire-deadband',
    modules: [deadbandNode],
    flow: () => [{ id: 'n', type: 'plantwire-deadband', mode: 'absolute', deadband: '1', deviation: '1', rangeLow: '0', rangeHigh: '100', heartbeat: '0', wires: [['out']] }],
    target: plainTarget(1),
    valid: (i) => ({ topic: 'ok', payload: i * 10 }),
    output: 'same',
    samples: true,
    check: (i, outs) => (last(outs)?.payload === i * 10 ? undefined : `passed ${last(outs)?.payload} for ${i * 10}`),
  },
  {
    type: 'plantwire-alarm',
    modules: [alarmNode],
    flow: () => [
      { id: 'n', type: 'plantwire-alarm', highHigh: '', high: '80', low: '', lowLow: '', hysteresis: '1', onDelay: '0', offDelay: '0', latch: false, priority: 'medium', wires: [['out']] },
    ],
    target: plainTarget(50),
    // 50 (normal) primes the tag; then 95 raises the high alarm and 50 returns it, each a state change.
    valid: (i) => ({ topic: 'ok', payload: i % 2 ? 95 : 50, timestamp: T0 + i * 1000 }),
    output: 'any',
    samples: false,
    check: (i, outs) => {
      const want = i % 2 ? 'unack' : 'rtn-unack';
      const got = last(outs)?.payload;
      return got?.state === want && got?.level === 'H' ? undefined : `expected ${want}/H, got ${JSON.stringify(got)}`;
    },
  },
  {
    type: 'plantwire-anomaly',
    modules: [anomalyNode],
    flow: () => [{ id: 'n', type: 'plantwire-anomaly', method: 'zscore', window: '10', threshold: '3', warmup: '3', wires: [['out']] }],
    target: plainTarget(1),
    valid: (i) => ({ topic: 'ok', payload: i % 5 }),
    output: 'same',
    samples: true,
    check: (i, outs) => (last(outs)?.payload?.value === i % 5 ? undefined : `scored ${JSON.stringify(last(outs)?.payload)} for ${i % 5}`),
  },
  {
    type: 'plantwire-vibration',
    modules: [vibrationNode],
    flow: () => [{ id: 'n', type: 'plantwire-vibration', sampleRate: '1000', fftSize: '64', windowFn: 'hann', bands: '[[10,100],[100,400]]', spectrum: false, wires: [['out']] }],
    target: plainTarget(0.5),
    valid: () => ({ topic: 'ok', payload: sine(64, 125, 1000) }),
    output: 'any',
    samples: true,
    check: (_i, outs) => {
      const p = last(outs)?.payload;
      return p && Math.abs(p.dominantHz - 125) < 16 && p.rms > 0.5 && p.rms < 0.9 ? undefined : `figures of a 125 Hz sine: ${JSON.stringify(p)}`;
    },
  },
  {
    type: 'plantwire-oee',
    modules: [oeeNode],
    flow: () => [{ id: 'n', type: 'plantwire-oee', idealCycleTime: '1', period: '0', resetAt: '', timeZone: '', countMode: 'increment', wires: [['out']] }],
    target: { tag: (id) => `line-${id}/good`, value: 1, batchTags: ['lineH/good', 'lineH/reject'], hugeTag: (i) => `l${i}/good` },
    valid: () => ({ topic: 'line1/good', payload: 1 }),
    output: 'none',
    samples: true,
    // Every valid message counted one good part on line1: the line's report says so.
    check: async (i, _outs, ctx) => {
      const before = ctx.outs.length;
      ctx.get('n').receive({ topic: 'line1', action: 'report' });
      if (!(await waitUntil(() => ctx.outs.length > before, BOUND_MS))) return 'no report after action "report"';
      const p = last(ctx.outs)?.payload;
      return p?.good === i + 1 ? undefined : `line1 counted ${p?.good} good parts, expected ${i + 1}`;
    },
  },
  {
    type: 'plantwire-rate',
    modules: [rateNode],
    flow: () => [{ id: 'n', type: 'plantwire-rate', mode: 'rate', per: 's', rollover: '0', wires: [['out']] }],
    target: plainTarget(1),
    valid: (i) => ({ topic: 'ok', payload: i * 100, timestamp: T0 + i * 1000 }),
    output: 'same',
    samples: true,
    check: (_i, outs) => (last(outs)?.payload === 100 ? undefined : `rate of +100 a second was ${last(outs)?.payload}`),
  },
  {
    type: 'plantwire-resample',
    modules: [resampleNode],
    flow: () => [{ id: 'n', type: 'plantwire-resample', interval: '3600', aggregate: 'mean', fill: 'none', wires: [['out']] }],
    target: plainTarget(1),
    // One sample an hour of event time: each closes the bucket of the one before.
    valid: (i) => ({ topic: 'ok', payload: i, timestamp: T0 + i * 3_600_000 }),
    output: 'any',
    samples: true,
    check: (i, outs) => (last(outs)?.payload === i - 1 ? undefined : `bucket ${i - 1} closed with ${last(outs)?.payload}`),
  },
  {
    type: 'plantwire-gpio-in',
    modules: [gpioInNode],
    flow: () => [
      { id: 'n', type: 'plantwire-gpio-in', backend: 'simulated', pin: '17', edge: 'both', debounce: '0', activeLow: false, mode: 'state', interval: '1000', tag: '', simFrequency: '0', wires: [['out']] },
    ],
    target: plainTarget(1),
    valid: () => ({ topic: 'now' }),
    output: 'any',
    samples: true,
    check: (_i, outs) => (typeof last(outs)?.payload === 'boolean' && last(outs)?.topic === 'gpio17' ? undefined : `state read ${JSON.stringify(last(outs))}`),
  },
  {
    type: 'plantwire-gpio-out',
    modules: [gpioOutNode, gpioInNode],
    flow: () => [
      { id: 'n', type: 'plantwire-gpio-out', backend: 'simulated', pin: '23', initial: '0', activeLow: false, pulse: '', wires: [] },
      // Reads the same simulated line back.
      { id: 'probe', type: 'plantwire-gpio-in', backend: 'simulated', pin: '23', edge: 'both', debounce: '0', activeLow: false, mode: 'state', interval: '1000', tag: 'line', simFrequency: '0', wires: [['probeOut']] },
      { id: 'probeOut', type: 'helper' },
    ],
    target: plainTarget(true),
    valid: (i) => ({ payload: i % 2 === 1 }),
    output: 'none',
    samples: false,
    check: async (i, _outs, ctx) => {
      const seen: Msg[] = [];
      const probeOut = ctx.get('probeOut');
      const onMsg = (m: Msg) => seen.push(m);
      probeOut.on('input', onMsg);
      ctx.get('probe').receive({});
      const ok = await waitUntil(() => seen.length > 0, BOUND_MS);
      probeOut.removeListener('input', onMsg);
      if (!ok) return 'the probe did not answer';
      return last(seen)?.payload === (i % 2 === 1) ? undefined : `line reads ${last(seen)?.payload} after writing ${i % 2 === 1}`;
    },
  },
  {
    type: 'plantwire-i2c',
    title: 'plantwire-i2c (read)',
    modules: [i2cNode, i2cSensorNode],
    flow: () => i2cFlow({ op: 'read' }),
    target: plainTarget(1),
    valid: () => ({ topic: 'id' }),
    output: 'same',
    samples: false,
    extra: [
      ...i2cExtra,
      { id: 'length-NaN', title: 'msg.length NaN', make: () => ({ length: NaN }), names: /length/i },
      { id: 'length-huge', title: 'msg.length 1e9', make: () => ({ length: 1e9 }), names: /length/i },
    ],
    check: (_i, outs) => {
      const p = last(outs)?.payload;
      return Buffer.isBuffer(p) && p.length === 1 && p[0] === 0x60 ? undefined : `chip id read as ${JSON.stringify(p)}`;
    },
  },
  {
    type: 'plantwire-i2c',
    title: 'plantwire-i2c (write)',
    modules: [i2cNode, i2cSensorNode],
    flow: () => i2cFlow({ op: 'write', register: '0xF4' }),
    target: plainTarget([0x27]),
    valid: () => ({ payload: [0x27] }),
    output: 'same',
    samples: false,
    extra: i2cExtra,
    check: (_i, outs) => (last(outs)?.register === 0xf4 && last(outs)?.address === 0x76 ? undefined : `write passed on ${JSON.stringify(last(outs))}`),
  },
  {
    type: 'plantwire-i2c-sensor',
    modules: [i2cSensorNode],
    flow: () => [{ id: 'n', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '3', address: '0x76', device: 'bme280', interval: '0', prefix: '', wires: [['out']] }],
    target: plainTarget(1),
    valid: () => ({ topic: 'now' }),
    output: 'any',
    samples: true,
    check: (_i, outs) => {
      const p = last(outs)?.payload;
      return p && typeof p.temperature === 'number' && typeof p.humidity === 'number' && typeof p.pressure === 'number' ? undefined : `reading ${JSON.stringify(p)}`;
    },
  },
  {
    type: 'plantwire-parse',
    modules: [parseNode],
    flow: () => [{ id: 'n', type: 'plantwire-parse', format: 'regex', pattern: PARSE_PATTERN, flags: '', delimiter: ',', fields: [], encoding: 'utf8', onError: 'bad', wires: [['out']] }],
    target: plainTarget('ST,GS,+1.5 kg'),
    valid: (i) => ({ payload: `ST,GS,+${i}.5 kg` }),
    output: 'same',
    samples: true,
    check: (i, outs) => (last(outs)?.payload?.weight === i + 0.5 && last(outs)?.quality?.weight === 'good' ? undefined : `parsed ${JSON.stringify(last(outs)?.payload)}`),
  },
  {
    type: 'plantwire-modbus-read',
    modules: [connectionNode, readNode, writeNode, serverNode],
    flow: (env) => modbusFlow(env.port, 'read'),
    target: plainTarget(1),
    valid: () => ({ topic: 'poll' }),
    output: 'same',
    samples: true,
    check: (_i, outs) => {
      const m = last(outs);
      return m?.payload?.level === 5 && m?.quality?.level === 'good' ? undefined : `poll gave ${JSON.stringify(m?.payload)} ${JSON.stringify(m?.quality)}`;
    },
  },
  {
    type: 'plantwire-modbus-write',
    modules: [connectionNode, readNode, writeNode, serverNode],
    flow: (env) => modbusFlow(env.port, 'write'),
    target: { tag: () => 'sp', value: 7, batchTags: ['sp', 'level'], hugeTag: (i) => `t${i}` },
    valid: (i) => ({ topic: 'sp', payload: 100 + i }),
    output: 'same',
    samples: false,
    // Read back through the device: the register holds the value written.
    check: (i, _outs, ctx) => readBack(ctx, 'rd', 'readOut', 'sp', 100 + i),
  },
  {
    type: 'plantwire-modbus-server',
    modules: [connectionNode, readNode, writeNode, serverNode],
    flow: (env) => modbusFlow(env.port, 'server'),
    target: { tag: () => 'level', value: 3, batchTags: ['level', 'sp'], hugeTag: (i) => `t${i}` },
    valid: (i) => ({ topic: 'level', payload: 100 + i }),
    output: 'none',
    samples: false,
    check: (i, _outs, ctx) => readBack(ctx, 'rd', 'readOut', 'level', 100 + i),
  },
  {
    type: 'plantwire-mqtt-publish',
    broker: true,
    modules: [brokerNode, publishNode],
    flow: (env) => [
      { id: 'b', type: 'plantwire-mqtt-broker', url: env.broker.url, clientId: 'robust-pub', protocolVersion: '4' },
      { id: 'n', type: 'plantwire-mqtt-publish', broker: 'b', topic: 'plant/{tag}', qos: '1', retain: false, format: 'value', split: true, buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72', wires: [['out']] },
    ],
    target: plainTarget(1),
    valid: (i) => ({ topic: 'ok', payload: 100 + i }),
    output: 'none',
    samples: false,
    check: async (i, _outs, ctx) => {
      const want = String(100 + i);
      const ok = await waitUntil(() => ctx.env.broker.published.slice(-50).some((p) => p.topic === 'plant/ok' && p.payload.toString() === want), ctx.bound);
      return ok ? undefined : `the broker never got plant/ok = ${want}`;
    },
  },
  {
    type: 'plantwire-sparkplug-device',
    broker: true,
    modules: [brokerNode, edgeNode, deviceNode],
    flow: (env) => [
      { id: 'b', type: 'plantwire-mqtt-broker', url: env.broker.url, clientId: 'robust-spb' },
      { id: 'e', type: 'plantwire-sparkplug-edge', broker: 'b', groupId: 'Plant', edgeNodeId: 'Robust', primaryHostId: '', buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72' },
      { id: 'n', type: 'plantwire-sparkplug-device', edge: 'e', deviceId: 'D1', metrics: [], wires: [['out']] },
    ],
    target: { tag: () => 'ok', value: 0.5, batchTags: ['ok', 'ok2'], hugeTag: (i) => `t${i}` },
    valid: (i) => ({ payload: { ok: 100 + i, ok2: 0 } }),
    output: 'none',
    samples: true,
    // The metric's new value went out in a DDATA (or a DBIRTH, if the node rebirthed).
    check: async (i, _outs, ctx) => {
      const has = () =>
        ctx.env.broker.published.slice(-20).some((p) => /\/(DDATA|DBIRTH)\/Robust\/D1$/.test(p.topic) && decode(p.topic, p.payload).metrics.some((m) => m.value === 100 + i));
      return (await waitUntil(has, ctx.bound)) ? undefined : `no DDATA with ok = ${100 + i}`;
    },
  },
];

/** Polls a read node and compares one tag with what was set. */
async function readBack(ctx: SuiteContext, readId: string, outId: string, tag: string, want: number): Promise<string | undefined> {
  const got: Msg[] = [];
  const out = ctx.get(outId);
  const onMsg = (m: Msg) => got.push(m);
  out.on('input', onMsg);
  ctx.get(readId).receive({ topic: 'check' });
  const ok = await waitUntil(() => got.length > 0, BOUND_MS);
  out.removeListener('input', onMsg);
  if (!ok) return `no answer from the read node`;
  return got[0].payload?.[tag] === want ? undefined : `${tag} reads ${got[0].payload?.[tag]}, expected ${want}`;
}

const broker = new TestBroker();
let brokerUsers = 0;

describe.each(SPECS.map((s) => [s.title ?? s.type, s] as const))('%s with hostile input', (_title, spec) => {
  const label = spec.title ?? spec.type;
  const open = new Set(OPEN_FAILURES[label] ?? []);
  const cases = [...HOSTILE_CASES, ...(spec.extra ?? [])].filter((c) => !open.has(c.id));
  let userDir: string;
  let validCount = 0;
  let seq = 0;
  const ctx: SuiteContext = { env: { port: 0, broker }, outs: [], oks: [], errs: [], get: (id) => helper.getNode(id), bound: BOUND_MS };

  const settled = async (id: string, ms: number): Promise<{ ok?: Msg; err?: Msg } | undefined> => {
    const find = () => ctx.oks.find((m) => m._msgid === id) ?? ctx.errs.find((m) => m._msgid === id);
    if (!(await waitUntil(() => find() !== undefined, ms))) return undefined;
    const ok = ctx.oks.find((m) => m._msgid === id);
    return ok ? { ok } : { err: ctx.errs.find((m) => m._msgid === id) };
  };

  /** Sends valid message number `i` and returns what went wrong with it, if anything. */
  const sendValid = async (i: number): Promise<string[]> => {
    const problems: string[] = [];
    const msg = spec.valid(i);
    const id = `valid-${i}-${Math.random().toString(16).slice(2)}`;
    msg._msgid = id;
    const before = ctx.outs.length;
    ctx.get('n').receive(msg);
    const s = await settled(id, ctx.bound);
    if (!s) return [`the valid message that followed was not done within ${ctx.bound} ms`];
    if (s.err) return [`the valid message that followed was refused: ${s.err.error?.message}`];
    // Message 0 primes the node (a baseline, a first alarm state): it need not send anything.
    if (i === 0) return [];
    if (spec.output !== 'none') {
      const arrived =
        spec.output === 'same' ? () => ctx.outs.some((m) => m._msgid === id) : () => ctx.outs.length > before;
      if (!(await waitUntil(arrived, ctx.bound))) return ['the valid message that followed gave no output'];
    }
    const wrong = await spec.check?.(i, spec.output === 'same' ? ctx.outs.filter((m) => m._msgid === id) : ctx.outs.slice(before), ctx);
    if (wrong) problems.push(`the valid message that followed was not processed normally: ${wrong}`);
    return problems;
  };

  beforeAll(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-robust-'));
    if (spec.broker && brokerUsers++ === 0) await broker.start();
    ctx.env.port = await freePort();
    helper.settings({ userDir });
    await startServer();
    const flow: FlowNode[] = [
      ...spec.flow(ctx.env),
      { id: 'out', type: 'helper' },
      { id: 'ctch', type: 'catch', scope: ['n'], uncaught: false, wires: [['err']] },
      { id: 'err', type: 'helper' },
      { id: 'cmp', type: 'complete', scope: ['n'], wires: [['ok']] },
      { id: 'ok', type: 'helper' },
    ];
    await load(spec.modules, flow);
    helper.getNode('out').on('input', (m: Msg) => ctx.outs.push(m));
    helper.getNode('err').on('input', (m: Msg) => ctx.errs.push(m));
    helper.getNode('ok').on('input', (m: Msg) => ctx.oks.push(m));
    // Prime: the first valid message opens lines, connects, births, sets baselines. A device or
    // broker still starting refuses it, so it is retried until it passes.
    const end = Date.now() + 10_000;
    let problems = await sendValid(0);
    while (problems.length && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      problems = await sendValid(0);
    }
    expect(problems).toEqual([]);
  }, 30_000);

  afterAll(async () => {
    await stop();
    if (spec.broker && --brokerUsers === 0) await broker.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it.each(cases.map((c) => [c.title, c] as const))('%s: a clear error or a well-formed output, then the flow runs on', async (_t, c) => {
    ctx.outs.length = 0;
    ctx.oks.length = 0;
    ctx.errs.length = 0;
    const problems: string[] = [];
    const id = `hostile-${++seq}`;
    const tag = spec.target.tag(c.id);
    if (c.tagSeenBefore) {
      const seenId = `${id}-before`;
      ctx.get('n').receive({ _msgid: seenId, topic: tag, payload: spec.target.value });
      const before = await settled(seenId, BOUND_MS);
      if (!before || before.err) problems.push(`a plain sample for the tag, sent first, was not taken: ${before?.err?.error?.message ?? 'not done'}`);
    }
    const msg = c.make(spec.target, tag);
    msg._msgid = id;
    ctx.get('n').receive(msg);
    const bound = c.heavy ? HEAVY_BOUND_MS : BOUND_MS;
    ctx.bound = bound;
    const s = await settled(id, bound);
    if (!s) problems.push(`neither done() nor done(err) within ${bound} ms`);
    else if (s.err) {
      const why = unclearError(s.err.error?.message, c.names);
      if (why) problems.push(why);
      if (!OPEN_STATUS_FAILURES.has(label)) {
        const node = ctx.get('n');
        const calls = node.status.getCalls().filter((x: { thisValue: unknown }) => x.thisValue === node);
        const now = calls.length ? calls[calls.length - 1].args[0] : undefined;
        if (!now || now.shape !== 'ring' || (now.fill !== 'red' && now.fill !== 'yellow')) {
          problems.push(`the node's status does not show the refusal: ${JSON.stringify(now)}`);
        }
      }
    }
    if (c.newTagAfter) {
      const nextId = `${id}-new-tag`;
      ctx.get('n').receive({ _msgid: nextId, topic: spec.target.tag(`${c.id}-after`), payload: spec.target.value });
      const next = await settled(nextId, BOUND_MS);
      if (!next) problems.push(`a sample for a new tag, sent next, was not done within ${BOUND_MS} ms`);
      else if (next.err) problems.push(`a sample for a new tag, sent next, was refused: ${next.err.error?.message}`);
    }
    if (c.sameTagAfter) {
      const nextId = `${id}-next`;
      ctx.get('n').receive({ _msgid: nextId, topic: tag, payload: spec.target.value });
      const next = await settled(nextId, BOUND_MS);
      if (!next) problems.push(`the tag's next sample (stamped now) was not done within ${BOUND_MS} ms`);
      else if (next.err) problems.push(`the tag's next sample (stamped now) was refused: ${next.err.error?.message}`);
    }

    problems.push(...(await sendValid(++validCount)));

    const times = ctx.oks.filter((m) => m._msgid === id).length + ctx.errs.filter((m) => m._msgid === id).length;
    if (s && times !== 1) problems.push(`the message was settled ${times} times (done/done(err) must be called once)`);

    for (const m of ctx.outs) {
      const bad = spec.samples ? malformedSample(m) : nonFinitePaths(m.payload).join(', ') || undefined;
      if (bad) problems.push(`output ${m._msgid === id ? 'for the hostile message' : 'sent meanwhile'}: ${bad}`);
    }
    ctx.outs.length = 0;
    ctx.oks.length = 0;
    ctx.errs.length = 0;
    expect(problems).toEqual([]);
  }, 2 * HEAVY_BOUND_MS + 15_000);
});
