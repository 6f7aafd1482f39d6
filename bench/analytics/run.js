#!/usr/bin/env node
/**
 * Throughput of every analytics node (stats, deadband, rate, resample, scale, alarm, anomaly,
 * vibration, OEE), in one Node-RED run, against anchors measured in the same run:
 * - a pass-through flow of the same length (the core `junction` node in place of the node measured);
 * - the core `filter` node (type `rbe`, deadband mode) for plantwire-deadband;
 * - node-red-node-smooth 0.1.2 (mean) for plantwire-stats, installed into bench/analytics/anchors
 *   (its own package.json and package-lock.json; `npm ci` there when missing), never the main package.
 * Every flow: the same N messages (single form, one tag, 1 ms apart), the same chain length
 * (node -> sink), one untimed warm-up run, then 9 timed runs (BENCH_ROUNDS) taken round-robin with the pass-through
 * and the other flows of its group (stats + smooth; deadband + rbe; rate; resample + scale), so that
 * the load of other processes on the machine weighs on all of them alike. `flows`: the median
 * samples/s (input samples over the time until the last one is out); `vsPassThrough`,
 * `deadbandVsRbe`, `statsMeanVsSmooth`: the median of the per-round ratios. `messagesOut` says how
 * many messages each node passed on: the filters pass fewer than they take in (plantwire-deadband
 * and rbe pass the same ones, |x - last passed| > 1), resample one per 1,000-sample bucket.
 * `passThroughWithoutDone`: a pass-through that never calls done(), as neither anchor does, while
 * every Plantwire node does (Complete nodes depend on it): what the runtime's completion costs.
 * Plus the engines alone, without Node-RED. Prints one JSON line.
 *
 * Node-RED runs as a library in this process (no HTTP listener, a temporary user folder); the
 * Plantwire nodes load straight from their TypeScript sources, transpiled on load, through a
 * generated package in that folder. Core nodes (junction, filter) are Node-RED's own.
 * Usage: `bench/run.sh analytics [samples]` or `node bench/analytics/run.js [samples]` (no build needed).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');

require('../lib/ts-require');

// BENCH_ROOT: the Plantwire sources to measure (another checkout, for before/after figures on one machine).
const root = path.resolve(process.env.BENCH_ROOT || path.join(__dirname, '../..'));
const os = require('os');
const N = Number(process.argv[2]) || 200_000;
const WINDOW = 1000;
const CHUNK = 1000;

// Node-RED as a library, its user folder a temporary one. The palette under test is a generated
// package in that folder's node_modules whose node files load the TypeScript sources (hook above).
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-bench-'));
const pkgDir = path.join(userDir, 'node_modules', 'plantwire-bench');
fs.mkdirSync(pkgDir, { recursive: true });
const shims = {
  'plantwire-stats': 'nodes/analytics/stats.ts',
  'plantwire-deadband': 'nodes/analytics/deadband.ts',
  'plantwire-rate': 'nodes/analytics/rate.ts',
  'plantwire-resample': 'nodes/analytics/resample.ts',
  'plantwire-scale': 'nodes/analytics/scale.ts',
  'plantwire-alarm': 'nodes/analytics/alarm.ts',
  'plantwire-anomaly': 'nodes/analytics/anomaly.ts',
  'plantwire-vibration': 'nodes/analytics/vibration.ts',
  'plantwire-oee': 'nodes/analytics/oee.ts',
};
const pkgNodes = {};
for (const [type, src] of Object.entries(shims)) {
  fs.writeFileSync(path.join(pkgDir, `${type}.js`), `module.exports = require(${JSON.stringify(path.join(root, src))});\n`);
  fs.writeFileSync(path.join(pkgDir, `${type}.html`), '');
  pkgNodes[type] = `${type}.js`;
}
// The end of every measured flow: counts what arrives, signals when the marker arrives.
fs.writeFileSync(
  path.join(pkgDir, 'bench-sink.js'),
  `module.exports = function (RED) {
  RED.nodes.registerType('bench-sink', function (config) {
    RED.nodes.createNode(this, config);
    this.received = 0;
    this.on('input', (msg, send, done) => { this.received++; if (msg.marker) this.emit('bench-marker'); done(); });
  });
};\n`,
);
fs.writeFileSync(path.join(pkgDir, 'bench-sink.html'), '');
pkgNodes['bench-sink'] = 'bench-sink.js';
// A pass-through that never calls done(), as the anchors (smooth, rbe) do not: what the runtime's
// completion (a metric, the onComplete hook, Complete nodes) costs a message. Plantwire nodes call
// done() for every message, so that Complete and Catch nodes work with them.
fs.writeFileSync(
  path.join(pkgDir, 'bench-nodone.js'),
  `module.exports = function (RED) {
  RED.nodes.registerType('bench-nodone', function (config) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg) => { this.send(msg); });
  });
};\n`,
);
fs.writeFileSync(path.join(pkgDir, 'bench-nodone.html'), '');
pkgNodes['bench-nodone'] = 'bench-nodone.js';
// The smooth anchor (stats mean) lives in its own anchors folder, never in the main package:
// bench/analytics/anchors/{package.json,package-lock.json}, installed here with `npm ci` when missing.
const anchorsDir = path.join(__dirname, 'anchors');
const smoothDir = path.join(anchorsDir, 'node_modules', 'node-red-node-smooth');
if (!fs.existsSync(path.join(smoothDir, 'package.json'))) {
  console.error('bench: npm ci --prefix bench/analytics/anchors');
  require('child_process').execFileSync('npm', ['ci', '--prefix', anchorsDir, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: ['ignore', 2, 2] });
}
let smoothVersion = null;
try {
  const meta = JSON.parse(fs.readFileSync(path.join(smoothDir, 'package.json'), 'utf8'));
  for (const [type, file] of Object.entries(meta['node-red'].nodes)) {
    const abs = path.join(smoothDir, file);
    fs.writeFileSync(path.join(pkgDir, `${type}.js`), `module.exports = require(${JSON.stringify(abs)});\n`);
    fs.copyFileSync(abs.replace(/\.js$/, '.html'), path.join(pkgDir, `${type}.html`));
    pkgNodes[type] = `${type}.js`;
  }
  smoothVersion = meta.version;
} catch (err) {
  console.error(`bench: node-red-node-smooth not loaded from ${anchorsDir}: ${err.message}`);
  smoothVersion = null;
}
fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'plantwire-bench', version: '0.0.0', 'node-red': { nodes: pkgNodes } }));

const RED = require('node-red');

const T0 = 1_700_000_000_000;
/** Sample i of a random walk (seeded, the same series for every flow), 1 ms apart. */
function series(n) {
  let seed = 42;
  let v = 50;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    v += (seed / 0x7fffffff - 0.5) * 0.4;
    out[i] = v;
  }
  return out;
}
const values = series(N);
/** A value that passes any filter and closes any bucket: the flow is drained when it reaches the end. */
const MARKER = 1e9;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Timed runs per flow (round-robin with the pass-through), and the untimed warm-up run's length. */
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 9;
const WARMUP = Math.min(N, 50_000);
let deployed = 0;

/**
 * Deploys [under -> sink], sends n samples into `under` and a marker after them; resolves with
 * samples/s (input samples over the time until the marker reaches the sink: messages keep their
 * order along one wire, so every sample has been processed by then) and the messages that reached
 * the sink (the marker not counted).
 */

async function measureOnce(underDef, makeMsg, n, endBy = 'marker') {
  // Fresh node ids each run: a node keeps its context across deploys (the rate node restores from it).
  const run = ++deployed;
  const flow = [
    { id: 'bench', type: 'tab', label: 'bench' },
    { ...underDef, id: `under${run}`, z: 'bench', wires: [[`sink${run}`]] },
    { id: `sink${run}`, type: 'bench-sink', z: 'bench', wires: [] },
  ];
  await RED.nodes.setFlows(flow, {}, 'full');
  let under;
  let sink;
  for (let i = 0; i < 500 && !(under && sink); i++) {
    await sleep(10);
    under = RED.nodes.getNode(`under${run}`);
    sink = RED.nodes.getNode(`sink${run}`);
  }
  if (!under || !sink) throw new Error(`flow with ${underDef.type} did not start`);
  const drained = new Promise((resolve) => sink.once('bench-marker', resolve));
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i += CHUNK) {
    const stop = Math.min(n, i + CHUNK);
    for (let j = i; j < stop; j++) under.receive(makeMsg(j, values[j]));
    await new Promise((r) => setImmediate(r));
  }
  if (endBy === 'marker') {
    under.receive({ ...makeMsg(N + 5000, MARKER), marker: true });
    await drained;
  } else {
    // 'drain', for the nodes whose outputs are new messages (a marker property would not reach the
    // sink) or come only on a change or per block: every input has been handled when receive()
    // returns, and the runtime delivers each output on a setImmediate queued then, so the sink has
    // them all once a turn passes with nothing new arriving.
    let seen = -1;
    while (sink.received !== seen) {
      seen = sink.received;
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
  }
  const rate = Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9));
  return { rate, out: endBy === 'marker' ? sink.received - 1 : sink.received };
}

/**
 * A sample in the single form, as every Plantwire source sends it (topic, payload, quality,
 * timestamp); rbe and smooth read msg.payload and pass the rest on: the same message for every flow.
 * (Without `quality` every Plantwire node adds the property to each message, a new hidden class for
 * the runtime to handle; one run put that at 7 % of a pass-through message, within this bench's noise.)
 */
const single = (i, v) => ({ topic: 'line1/temp', payload: v, quality: 'good', timestamp: T0 + i });

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function engineRate(fn) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    fn();
    runs.push(Math.round(N / (Number(process.hrtime.bigint() - t) / 1e9)));
  }
  return runs.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function main() {
  const { StatsEngine, STAT_NAMES } = require(path.join(root, 'nodes/analytics/window.ts'));
  const { DeadbandFilter } = require(path.join(root, 'nodes/analytics/deadband-filter.ts'));
  const { CounterRate } = require(path.join(root, 'nodes/analytics/counter-rate.ts'));
  const { Resampler } = require(path.join(root, 'nodes/analytics/buckets.ts'));
  const { LinearScale } = require(path.join(root, 'nodes/analytics/scaling.ts'));

  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: process.env.BENCH_LOG || 'warn', metrics: false, audit: false } },
    contextStorage: { default: { module: 'memory' } },
    externalModules: { autoInstall: false },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
  });
  // RED.start() resolves before the (empty) flow file's flows are started; a deploy made before that
  // races with it (the runtime then starts the stale config and the measured flow never runs).
  const firstStart = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await firstStart;
  const flows = {};
  /** Messages out of the node measured, per run of N samples (the same every run). */
  const messagesOut = {};
  /** Per flow, per round: its rate over the pass-through's (or its anchor's) in the same round. */
  const perRound = {};
  const passRates = [];
  // BENCH_ONLY (a regular expression): measure only the flows it matches, and the pass-through (for profiling).
  const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
  const passThrough = ['passThrough', { type: 'junction' }, single];
  /**
   * Measures a group of flows round-robin: in each round the pass-through first, then every flow of
   * the group, so that a change in the machine's load (other processes share its CPUs) weighs on
   * the flows and on the runtime's ceiling alike. Each flow has one untimed warm-up run first.
   * Figures: the median of ROUNDS runs per flow, and the median of the per-round ratios.
   */
  const group = async (members) => {
    members = members.filter(([name]) => !only || only.test(name));
    if (!members.length) return;
    for (const [, def, mk, endBy] of [passThrough, ...members]) await measureOnce(def, mk, WARMUP, endBy);
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = {};
      for (const [name, def, mk, endBy] of [passThrough, ...members]) {
        const m = await measureOnce(def, mk, N, endBy);
        round[name] = m.rate;
        messagesOut[name] = m.out;
      }
      passRates.push(round.passThrough);
      rounds.push(round);
    }
    for (const [name] of members) {
      flows[name] = median(rounds.map((x) => x[name]));
      perRound[name] = rounds;
      if (process.env.BENCH_DEBUG) console.error(name, JSON.stringify(rounds.map((x) => [x.passThrough, x[name]])));
    }
  };
  const ratioOf = (name, base) =>
    perRound[name] && base in perRound[name][0] ? Math.round(median(perRound[name].map((x) => x[name] / x[base])) * 1000) / 1000 : null;
  const deadband = { type: 'plantwire-deadband', deadband: '1', deviation: '1', rangeLow: '0', rangeHigh: '100', heartbeat: '0' };
  await group([
    ['stats_mean', { type: 'plantwire-stats', window: 'count', size: String(WINDOW), emit: 'sample', stats: ['mean'] }, single],
    // The node's default statistics (mean, min, max, stddev, count).
    ['stats_default', { type: 'plantwire-stats', window: 'count', size: String(WINDOW), emit: 'sample' }, single],
    ['stats_all12', { type: 'plantwire-stats', window: 'count', size: String(WINDOW), emit: 'sample', stats: [...STAT_NAMES] }, single],
    // mult "multi": a window per msg.topic, as Plantwire keeps one per tag.
    ['passThroughWithoutDone', { type: 'bench-nodone' }, single],
    ...(smoothVersion ? [['smooth_mean', { type: 'smooth', action: 'mean', count: String(WINDOW), round: '', mult: 'multi', reduce: false }, single]] : []),
  ]);
  await group([
    ['deadband_absolute', { ...deadband, mode: 'absolute' }, single],
    ['deadband_swingingDoor', { ...deadband, mode: 'swinging-door' }, single],
    ['rbe_deadband', { type: 'rbe', func: 'deadband', gap: '1', start: '', inout: 'out', septopics: true, property: 'payload', topi: 'topic' }, single],
  ]);
  await group([
    ['rate', { type: 'plantwire-rate', mode: 'rate', per: 's', rollover: '0' }, (i) => ({ topic: 'c', payload: i === N + 5000 ? N + 10 : i, quality: 'good', timestamp: T0 + i * 10 })],
    ['rate_total', { type: 'plantwire-rate', mode: 'total', per: 'h', rollover: '0' }, single],
  ]);
  await group([
    ['resample_mean', { type: 'plantwire-resample', interval: String(WINDOW / 1000), aggregate: 'mean', fill: 'none' }, single],
    ['scale', { type: 'plantwire-scale', inLow: '0', inHigh: '100', outLow: '0', outHigh: '1000', clamp: false, unit: '' }, single],
  ]);
  // Alarm (state changes out: the walk crosses the limits now and then), anomaly (a result per
  // sample), vibration (single samples into 1,024-sample blocks, a spectrum each), OEE (part counts
  // of one line, a report per 1 s period of event time). Their outputs are new messages: 'drain'.
  const oeeMsg = (i) =>
    i === 0
      ? { topic: 'line1/state', payload: 'running', quality: 'good', timestamp: T0 }
      : { topic: i % 50 === 0 ? 'line1/reject' : 'line1/good', payload: 1, quality: 'good', timestamp: T0 + i };
  await group([
    ['alarm', { type: 'plantwire-alarm', highHigh: '90', high: '80', low: '20', lowLow: '10', hysteresis: '1', onDelay: '0', offDelay: '0', latch: false, priority: 'high' }, single, 'drain'],
    ['anomaly_zscore', { type: 'plantwire-anomaly', method: 'zscore', window: String(WINDOW), threshold: '3', warmup: '100' }, single, 'drain'],
    ['anomaly_mad', { type: 'plantwire-anomaly', method: 'mad', window: String(WINDOW), threshold: '5', warmup: '100' }, single, 'drain'],
    ['vibration', { type: 'plantwire-vibration', sampleRate: '1000', fftSize: '1024', windowFn: 'hann', bands: '[[10,100],[100,500]]', spectrum: false }, single, 'drain'],
    ['oee', { type: 'plantwire-oee', idealCycleTime: '0.001', period: '1', resetAt: '', timeZone: '', countMode: 'increment', rollover: '0' }, oeeMsg, 'drain'],
  ]);
  flows.passThrough = median(passRates);
  messagesOut.passThrough = N;
  await RED.nodes.setFlows([], {}, 'full');
  await RED.stop();
  fs.rmSync(userDir, { recursive: true, force: true });

  const sample = (i) => ({ tag: 'line1/temp', value: values[i], quality: 'good', ts: T0 + i });
  // Warm-up of the engines' code paths before timing them.
  for (const stats of [['mean'], [...STAT_NAMES]]) {
    const e = new StatsEngine({ window: 'count', size: WINDOW, emit: 'sample', stats });
    for (let i = 0; i < Math.min(N, 20_000); i++) e.push([sample(i)], 0);
  }
  const engine = {
    stats_mean: engineRate(() => {
      const e = new StatsEngine({ window: 'count', size: WINDOW, emit: 'sample', stats: ['mean'] });
      for (let i = 0; i < N; i++) e.push([sample(i)], 0);
    }),
    stats_all12: engineRate(() => {
      const e = new StatsEngine({ window: 'count', size: WINDOW, emit: 'sample', stats: [...STAT_NAMES] });
      for (let i = 0; i < N; i++) e.push([sample(i)], 0);
    }),
    deadband_absolute: engineRate(() => {
      const f = new DeadbandFilter({ mode: 'absolute', deadband: 1, deviation: 1, rangeLow: 0, rangeHigh: 100, heartbeat: 0 });
      for (let i = 0; i < N; i++) f.push([sample(i)], 0);
    }),
    deadband_swingingDoor: engineRate(() => {
      const f = new DeadbandFilter({ mode: 'swinging-door', deadband: 1, deviation: 1, rangeLow: 0, rangeHigh: 100, heartbeat: 0 });
      for (let i = 0; i < N; i++) f.push([sample(i)], 0);
    }),
    rate: engineRate(() => {
      const r = new CounterRate({ mode: 'rate', per: 's', rollover: 0 });
      for (let i = 0; i < N; i++) r.push([{ tag: 'c', value: i, quality: 'good', ts: T0 + i * 10 }]);
    }),
    resample_mean: engineRate(() => {
      const r = new Resampler({ interval: WINDOW / 1000, aggregate: 'mean', fill: 'none' });
      for (let i = 0; i < N; i++) r.push([sample(i)], 0);
    }),
    scale: engineRate(() => {
      const l = new LinearScale({ inLow: 0, inHigh: 100, outLow: 0, outHigh: 1000, clamp: false, unit: '' });
      for (let i = 0; i < N; i++) l.apply(sample(i));
    }),
  };

  console.log(
    JSON.stringify({
      bench: 'analytics-throughput',
      unit: 'samples/s',
      samples: N,
      rounds: `median of ${ROUNDS}, round-robin with the pass-through`,
      window: WINDOW,
      node: process.version,
      nodeRed: require('node-red/package.json').version,
      flows,
      vsPassThrough: Object.fromEntries(Object.keys(flows).filter((k) => k !== 'passThrough').map((k) => [k, ratioOf(k, 'passThrough')])),
      deadbandVsRbe: ratioOf('deadband_absolute', 'rbe_deadband'),
      // Both filters pass the same samples (|x - last passed| > 1): the same work downstream.
      messagesOut,
      statsMeanVsSmooth: ratioOf('stats_mean', 'smooth_mean'),
      smooth: smoothVersion ? `node-red-node-smooth ${smoothVersion}` : 'not installed: node-red-node-smooth (in bench/anchors) is needed for the stats-mean anchor',
      engine,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
