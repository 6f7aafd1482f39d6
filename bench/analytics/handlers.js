#!/usr/bin/env node
/**
 * What each analytics node's input handler costs a message on its own, without the Node-RED
 * runtime around it: the node is made with a fake runtime (send keeps the message in a ring, done
 * does nothing) and its input listener is called in a loop with single-form samples of the random
 * walk bench/analytics/run.js sends (the deadband passes the same 1 % or so), against the core
 * junction node called the same way, and the two anchors: the core filter (rbe) and
 * node-red-node-smooth (when bench/analytics/anchors is installed). `done` costs nothing here; in
 * a flow it costs what `passThroughWithoutDone` shows (the runtime's completion), which the anchors
 * never pay. A tool for work on the handlers (bench/analytics/run.js gives the figures in a real
 * flow, which are what the targets are about): nanoseconds a message, the median of 7 timed runs
 * of 200,000 after 3 untimed ones. Prints one JSON line.
 * Usage: `node bench/analytics/handlers.js [node ...]` (stats, stats_default, stats_dialog, stats_all12, deadband, rate, scale, anomaly_zscore, anomaly_mad, junction, rbe, smooth).
 * BENCH_ROOT: the Plantwire sources to measure (another checkout, for before/after figures).
 */
'use strict';
const path = require('path');
const { EventEmitter } = require('events');

require('../lib/ts-require');

const root = path.resolve(process.env.BENCH_ROOT || path.join(__dirname, '../..'));
const CASES = {
  stats: ['nodes/analytics/stats.ts', { window: 'count', size: '1000', emit: 'sample', stats: ['mean'] }],
  stats_default: ['nodes/analytics/stats.ts', { window: 'count', size: '1000', emit: 'sample' }],
  // The default five as the dialog saves them (its order, STAT_NAMES').
  stats_dialog: ['nodes/analytics/stats.ts', { window: 'count', size: '1000', emit: 'sample', stats: ['mean', 'min', 'max', 'count', 'stddev'] }],
  stats_all12: ['nodes/analytics/stats.ts', { window: 'count', size: '1000', emit: 'sample', stats: ['mean', 'min', 'max', 'sum', 'count', 'stddev', 'rms', 'range', 'median', 'p95', 'first', 'last'] }],
  deadband: ['nodes/analytics/deadband.ts', { mode: 'absolute', deadband: '1', deviation: '1', rangeLow: '0', rangeHigh: '100', heartbeat: '0' }],
  rate: ['nodes/analytics/rate.ts', { mode: 'rate', per: 's', rollover: '0' }],
  scale: ['nodes/analytics/scale.ts', { inLow: '0', inHigh: '100', outLow: '0', outHigh: '1000', clamp: false, unit: '' }],
  anomaly_zscore: ['nodes/analytics/anomaly.ts', { method: 'zscore', window: '1000', threshold: '3', warmup: '100' }],
  anomaly_mad: ['nodes/analytics/anomaly.ts', { method: 'mad', window: '1000', threshold: '5', warmup: '100' }],
  junction: [require.resolve('@node-red/nodes/core/common/05-junction.js'), {}],
  rbe: [require.resolve('@node-red/nodes/core/function/rbe.js'), { func: 'deadband', gap: '1', start: '', inout: 'out', septopics: true, property: 'payload', topi: 'topic' }],
};
// node-red-node-smooth, when bench/analytics/anchors is installed (`npm ci --prefix bench/analytics/anchors`).
const smoothFile = path.join(__dirname, 'anchors/node_modules/node-red-node-smooth/17-smooth.js');
if (require('fs').existsSync(smoothFile)) CASES.smooth = [smoothFile, { action: 'mean', count: '1000', round: '', mult: 'multi', reduce: false }];
const redUtil = require('@node-red/util').util;
const N = 200_000;
const T0 = 1_700_000_000_000;
/** The random walk of bench/analytics/run.js (the same seed and steps). */
const WALK = (() => {
  let seed = 42;
  let v = 50;
  const out = new Float64Array(1 << 20);
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    v += (seed / 0x7fffffff - 0.5) * 0.4;
    out[i] = v;
  }
  return out;
})();

/** The listener a node registers for 'input', and the ring its sends go to. */
function makeNode(file, config) {
  let ctor;
  const RED = {
    nodes: {
      createNode(node, c) {
        Object.setPrototypeOf(node, EventEmitter.prototype);
        EventEmitter.call(node);
        node.id = c.id;
        for (const f of ['status', 'error', 'warn', 'log']) node[f] = () => undefined;
        // Context as the memory store answers it (rate restores its state through it).
        node.context = () => ({ get: (_k, cb) => cb && cb(undefined, undefined), set: (_k, _v, cb) => cb && cb() });
      },
      registerType: (_type, c) => (ctor = c),
    },
    _: (key) => key,
    // The runtime's own helpers (the anchors read and write the message through them).
    util: redUtil,
    settings: {},
  };
  require(path.isAbsolute(file) ? file : path.join(root, file))(RED);
  const node = {};
  ctor.call(node, { id: 'n1', ...config });
  const ring = new Array(1024);
  let out = 0;
  node.send = (m) => (ring[out++ & 1023] = m); // kept, so the result is not optimised away
  // The runtime hands a handler these two wrappers.
  const send = function () {
    node.send.apply(node, arguments);
  };
  const done = () => undefined;
  return { node, listener: node.listeners('input')[0], send, done, sent: () => out };
}

function measure(name) {
  const [file, config] = CASES[name];
  const { node, listener, send, done, sent } = makeNode(file, config);
  let ts = 0;
  const run = () => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      ts++;
      listener.call(node, { topic: 'line1/temp', payload: WALK[ts & (WALK.length - 1)], quality: 'good', timestamp: T0 + ts, _msgid: 'm' }, send, done);
    }
    return Number(process.hrtime.bigint() - t) / N;
  };
  for (let r = 0; r < 3; r++) run();
  const runs = Array.from({ length: 7 }, run).sort((a, b) => a - b);
  return { nsPerMessage: Math.round(runs[3]), messagesOut: sent() };
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(CASES);
const unknown = names.filter((n) => !CASES[n]);
if (unknown.length) {
  console.error(`unknown: ${unknown.join(', ')}; one of ${Object.keys(CASES).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify({ bench: 'analytics input handlers, fake runtime', node: process.version, handlers: Object.fromEntries(names.map((n) => [n, measure(n)])) }));
