#!/usr/bin/env node
/**
 * MQTT publish throughput, QoS 1, 100-byte payloads, to a private Mosquitto (a free loopback port,
 * never the shared :1883), in one run, against its anchors:
 *  (a) plantwire-mqtt-publish with the disk buffer on: from the first message in until the broker
 *      has acknowledged the last (a flush reply marks that);
 *  (b) Node-RED core `mqtt out` (QoS 1): until the last PUBACK (core calls done() on it);
 *  (c) raw mqtt.js with a 100-message window topped up once per event-loop turn (no Node-RED, no
 *      disk): the ceiling for one client;
 *  (a') as (a) with maxInFlight 1000 instead of the default 100 (core `mqtt out` has no window);
 * plus the drain rate of a 100,000-message backlog (built while the broker was down) once it is
 * back, and the process RSS while a 1,000,000-message backlog sits on disk (the node reopened
 * with it after a redeploy, and after a GC when run with --expose-gc) against the RSS of the same
 * process just before, with the node's buffer off (rssNoNodeMB): flat means about the same.
 *
 * Node-RED runs as a library in this process; the Plantwire nodes load from their TypeScript
 * sources, transpiled on load. Prints one JSON line.
 * Usage: node --expose-gc bench/publish/mqtt.js [messages=20000] [backlog=100000] [bigBacklog=1000000]
 * Instruments: the end of (a) is the flush reply, the end of (b) the last PUBACK the core broker
 * node's mqtt.js client receives (core calls done() on it): neither flow carries a Complete node
 * in the timed runs. A Complete node deep-clones every message it is told of and delivers the
 * copy (about 2 us a message here, an eighth of a publish), a cost of the measurement, not of the
 * publishers; BENCH_COMPLETE=1 puts one on each (as this bench did before) for comparison.
 * Env: BENCH_ROUNDS (7), BENCH_ONLY=plantwire|plantwire1000|core|raw (that publisher alone, no
 * warm-up of the others and no backlog figures: for a profiler, with node --cpu-prof).
 * Keep `messages` at most 60,000: core `mqtt out` fires every message at once, and fed 100,000 it
 * never finished here (60,000 did); likely because MQTT has 65,535 packet ids.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');

require('../lib/ts-require');

const root = path.resolve(__dirname, '../..');
const N = Number(process.argv[2]) || 20_000;
const BACKLOG = Number(process.argv[3]) || 100_000;
const BIG = Number(process.argv[4]) || 1_000_000;
const CHUNK = 1000;
const PAYLOAD = 'x'.repeat(100);

const { startMosquitto } = require(path.join(root, 'test/interop/mosquitto.ts'));
const mqtt = require('mqtt');

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-bench-mqtt-'));
const pkgDir = path.join(userDir, 'node_modules', 'plantwire-bench-mqtt');
fs.mkdirSync(pkgDir, { recursive: true });
const pkgNodes = {};
for (const [type, src] of Object.entries({
  'plantwire-mqtt-broker': 'nodes/publish/mqtt-broker.ts',
  'plantwire-mqtt-publish': 'nodes/publish/mqtt-publish.ts',
})) {
  fs.writeFileSync(path.join(pkgDir, `${type}.js`), `module.exports = require(${JSON.stringify(path.join(root, src))});\n`);
  fs.writeFileSync(path.join(pkgDir, `${type}.html`), '');
  pkgNodes[type] = `${type}.js`;
}
// Counts what reaches it and emits 'bench-count' at the target set on the node.
fs.writeFileSync(
  path.join(pkgDir, 'bench-counter.js'),
  `module.exports = function (RED) {
  RED.nodes.registerType('bench-counter', function (config) {
    RED.nodes.createNode(this, config);
    this.count = 0;
    this.on('input', (msg, send, done) => { this.count++; this.emit('bench-count', this.count, msg); done(); });
  });
};\n`,
);
fs.writeFileSync(path.join(pkgDir, 'bench-counter.html'), '');
pkgNodes['bench-counter'] = 'bench-counter.js';
fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'plantwire-bench-mqtt', version: '0.0.0', 'node-red': { nodes: pkgNodes } }));

const RED = require('node-red');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const seconds = (t) => Number(process.hrtime.bigint() - t) / 1e9;
const rssMB = () => Math.round(process.memoryUsage().rss / 1048576);
/** This process's CPU time (user + system) per message since `from`, microseconds: steadier than rates on a shared machine. */
const cpuPerMsg = (from, count) => {
  const d = process.cpuUsage(from);
  return Math.round(((d.user + d.system) / count) * 10) / 10;
};
const cpu = {};
/** Share of the wall time the main thread was busy (event-loop utilisation), per publisher: under 1, it waited on the broker. */
const { performance } = require('perf_hooks');
const elu = {};
const eluMark = (key, from) => (elu[key] ??= []).push(Math.round(performance.eventLoopUtilization(from).utilization * 100) / 100);
/** The broker's CPU time (user + system), µs, from /proc (10 ms ticks): what each publisher's traffic costs Mosquitto. */
let brokerPid;
const brokerCpu = () => {
  try {
    const f = fs.readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
};
const brokerCpuPerMsg = {};
const brokerMark = (key, from, count) => (brokerCpuPerMsg[key] ??= []).push(Math.round(((brokerCpu() - from) / count) * 10) / 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 7;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function deploy(flow, ids) {
  await RED.nodes.setFlows([{ id: 'bench', type: 'tab', label: 'bench' }, ...flow.map((n) => ({ z: 'bench', ...n }))], {}, 'full');
  const got = {};
  for (let i = 0; i < 1000; i++) {
    for (const id of ids) got[id] = got[id] || RED.nodes.getNode(id);
    if (ids.every((id) => got[id])) return got;
    await sleep(10);
  }
  throw new Error(`flow did not start: ${ids.filter((id) => !got[id]).join(', ')}`);
}

function untilCount(node, target) {
  return new Promise((resolve) => {
    if (node.count >= target) return resolve();
    const on = (c) => {
      if (c >= target) {
        node.removeListener('bench-count', on);
        resolve();
      }
    };
    node.on('bench-count', on);
  });
}

async function feed(node, count, make) {
  for (let i = 0; i < count; i += CHUNK) {
    const stop = Math.min(count, i + CHUNK);
    for (let j = i; j < stop; j++) node.receive(make(j));
    await new Promise((r) => setImmediate(r));
  }
}

async function waitConnected(node) {
  for (let i = 0; i < 1000; i++) {
    if (node.connected) return;
    await sleep(10);
  }
  throw new Error('no connection');
}

/** Complete nodes on the publishers in the timed runs (BENCH_COMPLETE=1), as this bench had before. */
const WITH_COMPLETE = process.env.BENCH_COMPLETE === '1';

/**
 * plantwire-mqtt-publish in a flow: [pub] -> reply counter; with `complete`, [complete(pub)] ->
 * done counter (the backlog figures count done() calls: a message is durable when done).
 */
function plantwireFlow(port, id, over = {}, complete = true) {
  const nodes = [
    { id: `${id}.b`, type: 'plantwire-mqtt-broker', url: `mqtt://127.0.0.1:${port}`, clientId: `bench-${id}`, protocolVersion: '4', keepalive: '60' },
    {
      id, type: 'plantwire-mqtt-publish', broker: `${id}.b`, topic: 'bench/{tag}', qos: '1', format: 'value', split: true,
      buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72', rate: '0', wires: [[`${id}.reply`]], ...over,
    },
    { id: `${id}.reply`, type: 'bench-counter', wires: [] },
  ];
  if (complete) {
    nodes.push(
      { id: `${id}.cmp`, type: 'complete', scope: [id], uncaught: false, wires: [[`${id}.done`]] },
      { id: `${id}.done`, type: 'bench-counter', wires: [] },
    );
  }
  return nodes;
}

async function benchPlantwire(port, id = 'pwa', over = {}) {
  const n = await deploy(plantwireFlow(port, id, over, WITH_COMPLETE), [id, `${id}.b`, `${id}.reply`]);
  await waitConnected(n[`${id}.b`]);
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const e = performance.eventLoopUtilization();
  const b = brokerCpu();
  await feed(n[id], N, (j) => ({ topic: 't', payload: PAYLOAD }));
  n[id].receive({ action: 'flush' });
  await untilCount(n[`${id}.reply`], 1);
  const key = over.maxInFlight === '1000' ? 'plantwire1000' : 'plantwire';
  (cpu[key] ??= []).push(cpuPerMsg(c, N));
  eluMark(key, e);
  brokerMark(key, b, N);
  return Math.round(N / seconds(t));
}

async function benchCore(port, id = 'core') {
  const n = await deploy(
    [
      {
        id: `${id}.b`, type: 'mqtt-broker', name: '', broker: '127.0.0.1', port: String(port), clientid: `bench-${id}`, autoConnect: true,
        usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, birthTopic: '', closeTopic: '', willTopic: '',
      },
      { id: `${id}.out`, type: 'mqtt out', broker: `${id}.b`, topic: 'bench/core', qos: '1', retain: 'false', wires: [] },
      ...(WITH_COMPLETE
        ? [
            { id: `${id}.cmp`, type: 'complete', scope: [`${id}.out`], uncaught: false, wires: [[`${id}.done`]] },
            { id: `${id}.done`, type: 'bench-counter', wires: [] },
          ]
        : []),
    ],
    [`${id}.b`, `${id}.out`, ...(WITH_COMPLETE ? [`${id}.done`] : [])],
  );
  await waitConnected(n[`${id}.b`]);
  // Without a Complete node: the PUBACKs the core broker node's client receives (core's done() is
  // called on each), counted by a listener on its packets.
  let acked = 0;
  let allAcked;
  const finished = WITH_COMPLETE
    ? null
    : new Promise((resolve) => {
        allAcked = resolve;
      });
  const onPacket = (p) => {
    if (p.cmd === 'puback' && ++acked === N) allAcked();
  };
  if (!WITH_COMPLETE) n[`${id}.b`].client.on('packetreceive', onPacket);
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const e = performance.eventLoopUtilization();
  const b = brokerCpu();
  await feed(n[`${id}.out`], N, () => ({ payload: PAYLOAD }));
  if (WITH_COMPLETE) await untilCount(n[`${id}.done`], N);
  else {
    await finished;
    n[`${id}.b`].client.removeListener('packetreceive', onPacket);
  }
  (cpu.core ??= []).push(cpuPerMsg(c, N));
  eluMark('core', e);
  brokerMark('core', b, N);
  return Math.round(N / seconds(t));
}

async function benchRaw(port) {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'bench-raw', reconnectPeriod: 0 });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const payload = Buffer.from(PAYLOAD);
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  const e = performance.eventLoopUtilization();
  const b = brokerCpu();
  // The window is topped up once per event-loop turn, after that turn's PUBACKs (as the Plantwire
  // forwarder does): topped up on every PUBACK, each publish is a write system call of its own, and
  // the loop measured 38,000 msg/s here, below the publishers it is the ceiling of.
  await new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    let armed = false;
    const more = () => {
      armed = false;
      while (sent < N && sent - acked < 100) {
        sent++;
        client.publish('bench/raw', payload, { qos: 1 }, (err) => {
          if (err) return reject(err);
          acked++;
          if (acked === N) resolve();
          else if (!armed) {
            armed = true;
            setImmediate(more);
          }
        });
      }
    };
    more();
  });
  const rate = Math.round(N / seconds(t));
  (cpu.raw ??= []).push(cpuPerMsg(c, N));
  eluMark('raw', e);
  brokerMark('raw', b, N);
  await new Promise((r) => client.end(false, {}, r));
  return rate;
}

/** Builds a backlog while the broker is down (timing appends), then drains it. */
async function benchBacklog(broker, count, id, measureDrain) {
  await broker.stop();
  const n = await deploy(plantwireFlow(broker.port, id, { bufferMaxMB: '1000' }), [id, `${id}.b`, `${id}.reply`, `${id}.done`]);
  const t = process.hrtime.bigint();
  await feed(n[id], count, () => ({ topic: 't', payload: PAYLOAD }));
  await untilCount(n[`${id}.done`], count);
  const appendRate = Math.round(count / seconds(t));
  const result = { appendRate };
  if (!measureDrain) {
    // The anchor: the same process with the node redeployed with its buffer off (the file is kept:
    // only deleting the node deletes it), after the same million messages went through it (the V8
    // heap and the allocator keep some of what the feeding took).
    await deploy(plantwireFlow(broker.port, id, { buffer: false }), [id]);
    await sleep(500);
    if (global.gc) global.gc();
    await sleep(200);
    result.rssNoNodeMB = rssMB();
    // Redeploy: the node reopens its file with the backlog; memory is what it costs to hold it.
    await deploy(plantwireFlow(broker.port, id, { bufferMaxMB: '1000' }), [id]);
    await sleep(500);
    if (global.gc) global.gc();
    await sleep(200);
    result.rssMB = rssMB();
    result.heapMB = Math.round(process.memoryUsage().heapUsed / 1048576);
    const file = path.join(userDir, 'plantwire', `mqtt-publish-${id}.sqlite`);
    result.fileMB = Math.round(fs.statSync(file).size / 1048576);
    await broker.restart();
    return result;
  }
  await broker.restart();
  const t2 = process.hrtime.bigint();
  n[id].receive({ action: 'flush' }); // reconnect now, and reply once the backlog is acknowledged
  await untilCount(n[`${id}.reply`], 1);
  result.drainRate = Math.round(count / seconds(t2));
  return result;
}

async function main() {
  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: 'error', metrics: false, audit: false } },
    contextStorage: { default: { module: 'memory' } },
    externalModules: { autoInstall: false },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
  });
  await RED.start();
  const broker = await startMosquitto();
  brokerPid = broker.proc.pid;
  try {
    const rssStart = rssMB();
    // Untimed warm-up of every publisher (the JIT, mqtt.js, the broker, SQLite), then ROUNDS
    // rounds of all of them in turn: the median of each, and the median of the per-round ratios
    // (the machine's speed drifts; a ratio is taken within a round).
    const runs = { raw: [], core: [], plantwire: [], plantwire1000: [] };
    // BENCH_ONLY=plantwire (or core, raw, plantwire1000): that publisher alone, for a profiler.
    const only = process.env.BENCH_ONLY;
    if (!only) {
      await benchRaw(broker.port);
      await benchCore(broker.port, 'warm');
      await benchPlantwire(broker.port, 'warm');
    } else {
      for (let round = 0; round < ROUNDS; round++) {
        if (only === 'raw') runs.raw.push(await benchRaw(broker.port));
        else if (only === 'core') runs.core.push(await benchCore(broker.port, `core${round}`));
        else runs[only].push(await benchPlantwire(broker.port, `pw${round}`, only === 'plantwire1000' ? { maxInFlight: '1000' } : {}));
      }
      console.log(JSON.stringify({ only, runs, cpuUsPerMsg: cpu, eventLoopUtilisation: elu, brokerCpuUsPerMsg: brokerCpuPerMsg }));
      return;
    }
    for (let round = 0; round < ROUNDS; round++) {
      runs.raw.push(await benchRaw(broker.port));
      runs.core.push(await benchCore(broker.port, `core${round}`));
      runs.plantwire.push(await benchPlantwire(broker.port, `pwa${round}`));
      // The same with a 1,000-message window instead of the default 100 (the feed hands over 1,000
      // messages per event-loop turn, and at most a window leaves per turn).
      runs.plantwire1000.push(await benchPlantwire(broker.port, `pwb${round}`, { maxInFlight: '1000' }));
    }
    const raw = median(runs.raw);
    const core = median(runs.core);
    const plantwire = median(runs.plantwire);
    const plantwire1000 = median(runs.plantwire1000);
    const ratio = (a) => Math.round(median(runs[a].map((x, i) => x / runs.core[i])) * 100) / 100;
    const backlog = await benchBacklog(broker, BACKLOG, 'pwd', true);
    await RED.nodes.setFlows([], {}, 'full');
    if (global.gc) global.gc();
    const rssIdle = rssMB();
    const big = await benchBacklog(broker, BIG, 'pwbig', false);
    console.log(
      JSON.stringify({
        bench: 'mqtt publish QoS 1, 100-byte payloads, private Mosquitto',
        messages: N,
        msgsPerSec: { plantwireBuffered: plantwire, coreMqttOut: core, rawMqttJsWindow100: raw, plantwireBufferedWindow1000: plantwire1000 },
        rounds: ROUNDS,
        completeNodes: WITH_COMPLETE,
        runs,
        ratioToCore: ratio('plantwire'),
        ratioToCoreWindow1000: ratio('plantwire1000'),
        cpuUsPerMsg: { plantwireBuffered: median(cpu.plantwire), coreMqttOut: median(cpu.core), rawMqttJsWindow100: median(cpu.raw), plantwireBufferedWindow1000: median(cpu.plantwire1000) },
        eventLoopUtilisation: Object.fromEntries(Object.entries(elu).map(([k, v]) => [k, median(v)])),
        brokerCpuUsPerMsg: Object.fromEntries(Object.entries(brokerCpuPerMsg).map(([k, v]) => [k, median(v)])),
        backlog: { messages: BACKLOG, appendPerSec: backlog.appendRate, drainPerSec: backlog.drainRate },
        bigBacklog: { messages: BIG, appendPerSec: big.appendRate, fileMB: big.fileMB, rssMB: big.rssMB, rssNoNodeMB: big.rssNoNodeMB, heapMB: big.heapMB, rssIdleMB: rssIdle, rssStartMB: rssStart, gc: !!global.gc },
        cpus: os.cpus().length,
        node: process.version,
      }),
    );
  } finally {
    await RED.nodes.setFlows([], {}, 'full').catch(() => undefined);
    await RED.stop();
    await broker.dispose();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
