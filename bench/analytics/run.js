#!/usr/bin/env node
/**
 * Throughput of every analytics node (stats, deadband, rate, resample, scale, alarm, anomaly,
 * vibration, OEE), in one Node-RED run, against anchors measured in the same run:
 * - a pass-through flow of the same length (the core `junction` node in place of the node measured);
 * - the core `filter` node (type `rbe`, deadband mode) for plantwire-deadband;
 * - node-red-node-smooth 0.1.2 (mean) for plantwire-stats, installed into bench/analytics/anchors
 *   (its own package.json and package-lock.json; `npm ci` there when missing), never the main package.
 * Every flow: the same kind of messages (single form, one tag, 1 ms apart), the same chain length
 * (node -> sink). The flows of a group (stats + smooth; deadband + rbe; rate; resample + scale;
 * alarm, anomaly, vibration, OEE) are deployed once, side by side with a pass-through, so their
 * nodes keep their state (full windows) from one measurement to the next. Each flow has one untimed
 * warm-up run, then BENCH_ROUNDS (101) rounds of N (20,000) samples each, the pass-through and the
 * flows in a new (seeded) order every round: short measurements, many of them, because on these virtual machines a
 * message-heavy workload's speed moves by +-20 % from one fraction of a second to the next (a pure
 * computing loop does not), so one flow and the pass-through are compared in adjacent slices of
 * time and the median of the ratios taken. A second pass-through (`passThroughAgain`) is measured
 * like any flow: its ratio shows what this method can resolve. `flows`: the median samples/s
 * (input samples over the time until the sink has had the last output); `vsPassThrough`,
 * `deadbandVsRbe`, `statsMeanVsSmooth`: the median of the per-round ratios. `messagesOut` says how
 * many messages each node passed on per measurement: the filters pass fewer than they take in
 * (plantwire-deadband and rbe pass the same ones, |x - last passed| > 1), resample one per
 * 1,000-sample bucket, alarm one per state change, vibration one per 1,024-sample block, OEE one
 * per period (a timer of 1 s, so none in most measurements: it measures what taking counts costs).
 * `passThroughWithoutDone`: a pass-through that never calls done(), as neither anchor does: what
 * the runtime's completion costs a node that does nothing else (measured in the stats and the
 * deadband groups). The per-sample Plantwire nodes call done() only when something observes it
 * (nodes/shared/completion.ts): nothing does in these flows; BENCH_ALWAYS_DONE=1 makes them call
 * it for every message, as with a Complete node in the flows. `ownNsPerSample`: what a sample
 * costs each flow beyond the pass-through (junction), the runtime's hop to the sink taken out.
 * Plus the engines alone, without Node-RED. Prints one JSON line.
 *
 * Node-RED runs as a library in this process (no HTTP listener, a temporary user folder); the
 * Plantwire nodes load straight from their TypeScript sources, transpiled on load, through a
 * generated package in that folder. Core nodes (junction, filter) are Node-RED's own.
 * Usage: `bench/run.sh analytics [samples per measurement]` or `node bench/analytics/run.js [samples]` (no build
 * needed). BENCH_ONLY (a regular expression): only the flows it matches; BENCH_ENGINES=0: no engine figures;
 * BENCH_ALWAYS_DONE=1: Plantwire nodes mark every message done (settings `plantwireAlwaysDone`).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');

require('../lib/ts-require');

// BENCH_ROOT: the Plantwire sources to measure (another checkout, for before/after figures on one machine).
const root = path.resolve(process.env.BENCH_ROOT || path.join(__dirname, '../..'));
const os = require('os');
const N = Number(process.argv[2]) || 20_000;
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
// The end of every measured flow: counts what arrives.
fs.writeFileSync(
  path.join(pkgDir, 'bench-sink.js'),
  `module.exports = function (RED) {
  RED.nodes.registerType('bench-sink', function (config) {
    RED.nodes.createNode(this, config);
    this.received = 0;
    this.on('input', (msg, send, done) => { this.received++; done(); });
  });
};\n`,
);
fs.writeFileSync(path.join(pkgDir, 'bench-sink.html'), '');
pkgNodes['bench-sink'] = 'bench-sink.js';
// A pass-through that never calls done(), as the anchors (smooth, rbe) do not: what the runtime's
// completion (a metric, the onComplete hook, Complete nodes) costs a message. Plantwire nodes call
// done() whenever a Complete node, an onComplete hook or metrics logging can see it.
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
/** Samples per engine run: engines alone take ~10 ns a sample, so more than a flow's measurement. */
const ENGINE_N = 200_000;
const values = series(Math.max(N, ENGINE_N));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Timed rounds per group (each flow and the pass-through once a round), and the untimed warm-up run's length. */
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 101;
const WARMUP = Math.min(N, 50_000);
let deployed = 0;

/**
 * Deploys a group's flows once, side by side on one tab: per flow, [under -> sink]. The nodes then
 * keep their state from one measurement to the next (a full window, as in a running plant), and
 * each flow's samples go on where its previous measurement stopped (timestamps and counters keep
 * rising). Resolves with a handle per flow.
 */
async function deployGroup(members) {
  const run = ++deployed;
  const flow = [{ id: 'bench', type: 'tab', label: 'bench' }];
  members.forEach(([, def], k) => {
    flow.push({ ...def, id: `under${run}_${k}`, z: 'bench', wires: [[`sink${run}_${k}`]] });
    flow.push({ id: `sink${run}_${k}`, type: 'bench-sink', z: 'bench', wires: [] });
  });
  await RED.nodes.setFlows(flow, {}, 'full');
  const handles = [];
  for (let k = 0; k < members.length; k++) {
    let under;
    let sink;
    for (let i = 0; i < 500 && !(under && sink); i++) {
      under = RED.nodes.getNode(`under${run}_${k}`);
      sink = RED.nodes.getNode(`sink${run}_${k}`);
      if (!(under && sink)) await sleep(10);
    }
    if (!under || !sink) throw new Error(`flow with ${members[k][1].type} did not start`);
    handles.push({ name: members[k][0], makeMsg: members[k][2], under, sink, next: 0 });
  }
  return handles;
}

/**
 * Sends the flow's next n samples into its node, 1,000 at a time with a turn of the event loop
 * between (the runtime delivers each message on a setImmediate), and waits until the sink has had
 * a turn with nothing new: every input has been handled when receive() returns and each output is
 * delivered on a setImmediate queued then. Resolves with samples/s (input samples over the time
 * until the last output is in) and the messages that reached the sink.
 */
async function measureSlice(h, n) {
  const before = h.sink.received;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i += CHUNK) {
    const stop = Math.min(n, i + CHUNK);
    for (let j = i; j < stop; j++) {
      h.under.receive(h.makeMsg(h.next, values[h.next % values.length]));
      h.next++;
    }
    await new Promise((r) => setImmediate(r));
  }
  let seen = -1;
  while (h.sink.received !== seen) {
    seen = h.sink.received;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }
  const rate = Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9));
  return { rate, out: h.sink.received - before };
}

/**
 * A sample in the single form, as every Plantwire source sends it (topic, payload, quality,
 * timestamp); rbe and smooth read msg.payload and pass the rest on: the same message for every flow.
 * (Without `quality` every Plantwire node adds the property to each message, a new hidden class for
 * the runtime to handle; one run put that at 7 % of a pass-through message, within this bench's noise.)
 */
const single = (i, v) => ({ topic: 'line1/temp', payload: v, quality: 'good', timestamp: T0 + i });

/** A seeded shuffle (Fisher-Yates, xorshift32): the same sequence of orders in every run. */
let shuffleSeed = 0x9e3779b9 | 0;
function shuffled(xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    shuffleSeed ^= shuffleSeed << 13;
    shuffleSeed ^= shuffleSeed >>> 17;
    shuffleSeed ^= shuffleSeed << 5;
    const j = (shuffleSeed >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function engineRate(fn) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    fn();
    runs.push(Math.round(ENGINE_N / (Number(process.hrtime.bigint() - t) / 1e9)));
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
    // BENCH_ALWAYS_DONE=1: every Plantwire node marks every message done, as it does when a
    // Complete node, an onComplete hook or metrics logging observes completions (the figures of
    // a flow with a Complete node in it).
    plantwireAlwaysDone: process.env.BENCH_ALWAYS_DONE === '1',
  });
  // RED.start() resolves before the (empty) flow file's flows are started; a deploy made before that
  // races with it (the runtime then starts the stale config and the measured flow never runs).
  const firstStart = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await firstStart;
  const flows = {};
  /** Messages out of the node measured per measurement of N samples (the last one; they differ little). */
  const messagesOut = {};
  /** Per flow, per round: its rate over the pass-through's (or its anchor's) in the same round. */
  const perRound = {};
  const passRates = [];
  /**
   * Per flow: what a sample costs it beyond the pass-through (the median over rounds of the
   * difference of the time per sample, ns): the runtime's own hops taken out. Negative for filters:
   * they skip the sink's hop. One base for every flow: the anchors' saving of done() is theirs.
   */
  const ownNs = {};
  // BENCH_ONLY (a regular expression): measure only the flows it matches, and the pass-through (for profiling).
  const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
  const passThrough = ['passThrough', { type: 'junction' }, single];
  /**
   * Measures a group of flows in rounds: the group is deployed once (the pass-through beside its
   * flows), each flow has one untimed warm-up run, then each round measures the pass-through and
   * every flow of the group once, in a new order, so that a change in the machine's load (other
   * processes share its CPUs) weighs on the flows and on the runtime's ceiling alike.
   * Figures: the median of ROUNDS runs per flow, and the median of the per-round ratios.
   */
  const group = async (members) => {
    members = members.filter(([name]) => !only || only.test(name));
    if (!members.length) return;
    const handles = await deployGroup([passThrough, ...members]);
    for (const h of handles) await measureSlice(h, WARMUP);
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = {};
      // A new order every round (seeded, the same in every run): a flow measured right after a
      // costly one pays part of that one's garbage collection, and a fixed order would bill the
      // same neighbour every round.
      for (const h of shuffled(handles)) {
        const m = await measureSlice(h, N);
        round[h.name] = m.rate;
        messagesOut[h.name] = m.out;
      }
      passRates.push(round.passThrough);
      rounds.push(round);
    }
    for (const [name] of members) {
      flows[name] = median(rounds.map((x) => x[name]));
      perRound[name] = rounds;
      ownNs[name] = Math.round(median(rounds.map((x) => 1e9 / x[name] - 1e9 / x.passThrough)));
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
    // A second pass-through, measured like any flow: how far this bench's own figures move.
    ['passThroughAgain', { type: 'junction' }, single],
    // mult "multi": a window per msg.topic, as Plantwire keeps one per tag.
    ['passThroughWithoutDone', { type: 'bench-nodone' }, single],
    ...(smoothVersion ? [['smooth_mean', { type: 'smooth', action: 'mean', count: String(WINDOW), round: '', mult: 'multi', reduce: false }, single]] : []),
  ]);
  await group([
    ['deadband_absolute', { ...deadband, mode: 'absolute' }, single],
    ['deadband_swingingDoor', { ...deadband, mode: 'swinging-door' }, single],
    ['rbe_deadband', { type: 'rbe', func: 'deadband', gap: '1', start: '', inout: 'out', septopics: true, property: 'payload', topi: 'topic' }, single],
    ['passThroughWithoutDone', { type: 'bench-nodone' }, single],
  ]);
  await group([
    ['rate', { type: 'plantwire-rate', mode: 'rate', per: 's', rollover: '0' }, (i) => ({ topic: 'c', payload: i, quality: 'good', timestamp: T0 + i * 10 })],
    ['rate_total', { type: 'plantwire-rate', mode: 'total', per: 'h', rollover: '0' }, single],
  ]);
  await group([
    ['resample_mean', { type: 'plantwire-resample', interval: String(WINDOW / 1000), aggregate: 'mean', fill: 'none' }, single],
    ['scale', { type: 'plantwire-scale', inLow: '0', inHigh: '100', outLow: '0', outHigh: '1000', clamp: false, unit: '' }, single],
  ]);
  // Alarm (state changes out: the walk crosses the limits now and then), anomaly (a result per
  // sample), vibration (single samples into 1,024-sample blocks, a spectrum each), OEE (part counts
  // of one line, a report per 1 s period of event time).
  const oeeMsg = (i) =>
    i === 0
      ? { topic: 'line1/state', payload: 'running', quality: 'good', timestamp: T0 }
      : { topic: i % 50 === 0 ? 'line1/reject' : 'line1/good', payload: 1, quality: 'good', timestamp: T0 + i };
  await group([
    ['alarm', { type: 'plantwire-alarm', highHigh: '90', high: '80', low: '20', lowLow: '10', hysteresis: '1', onDelay: '0', offDelay: '0', latch: false, priority: 'high' }, single],
    ['anomaly_zscore', { type: 'plantwire-anomaly', method: 'zscore', window: String(WINDOW), threshold: '3', warmup: '100' }, single],
    ['anomaly_mad', { type: 'plantwire-anomaly', method: 'mad', window: String(WINDOW), threshold: '5', warmup: '100' }, single],
    ['vibration', { type: 'plantwire-vibration', sampleRate: '1000', fftSize: '1024', windowFn: 'hann', bands: '[[10,100],[100,500]]', spectrum: false }, single],
    ['oee', { type: 'plantwire-oee', idealCycleTime: '0.001', period: '1', resetAt: '', timeZone: '', countMode: 'increment', rollover: '0' }, oeeMsg],
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
    for (let i = 0; i < 20_000; i++) e.push([sample(i)], 0);
  }
  // BENCH_ENGINES=0: the flows only (for profiling them).
  const engine = process.env.BENCH_ENGINES === '0' ? {} : {
    stats_mean: engineRate(() => {
      const e = new StatsEngine({ window: 'count', size: WINDOW, emit: 'sample', stats: ['mean'] });
      for (let i = 0; i < ENGINE_N; i++) e.push([sample(i)], 0);
    }),
    stats_all12: engineRate(() => {
      const e = new StatsEngine({ window: 'count', size: WINDOW, emit: 'sample', stats: [...STAT_NAMES] });
      for (let i = 0; i < ENGINE_N; i++) e.push([sample(i)], 0);
    }),
    deadband_absolute: engineRate(() => {
      const f = new DeadbandFilter({ mode: 'absolute', deadband: 1, deviation: 1, rangeLow: 0, rangeHigh: 100, heartbeat: 0 });
      for (let i = 0; i < ENGINE_N; i++) f.push([sample(i)], 0);
    }),
    deadband_swingingDoor: engineRate(() => {
      const f = new DeadbandFilter({ mode: 'swinging-door', deadband: 1, deviation: 1, rangeLow: 0, rangeHigh: 100, heartbeat: 0 });
      for (let i = 0; i < ENGINE_N; i++) f.push([sample(i)], 0);
    }),
    rate: engineRate(() => {
      const r = new CounterRate({ mode: 'rate', per: 's', rollover: 0 });
      for (let i = 0; i < ENGINE_N; i++) r.push([{ tag: 'c', value: i, quality: 'good', ts: T0 + i * 10 }]);
    }),
    resample_mean: engineRate(() => {
      const r = new Resampler({ interval: WINDOW / 1000, aggregate: 'mean', fill: 'none' });
      for (let i = 0; i < ENGINE_N; i++) r.push([sample(i)], 0);
    }),
    scale: engineRate(() => {
      const l = new LinearScale({ inLow: 0, inHigh: 100, outLow: 0, outHigh: 1000, clamp: false, unit: '' });
      for (let i = 0; i < ENGINE_N; i++) l.apply(sample(i));
    }),
  };

  console.log(
    JSON.stringify({
      bench: 'analytics-throughput',
      unit: 'samples/s',
      samples: N,
      engineSamples: ENGINE_N,
      rounds: `median of ${ROUNDS} rounds, flows and pass-through in a new order each`,
      window: WINDOW,
      node: process.version,
      nodeRed: require('node-red/package.json').version,
      flows,
      vsPassThrough: Object.fromEntries(Object.keys(flows).filter((k) => k !== 'passThrough').map((k) => [k, ratioOf(k, 'passThrough')])),
      deadbandVsRbe: ratioOf('deadband_absolute', 'rbe_deadband'),
      // Both filters pass the same samples (|x - last passed| > 1): the same work downstream.
      messagesOut,
      statsMeanVsSmooth: ratioOf('stats_mean', 'smooth_mean'),
      ownNsPerSample: ownNs,
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
