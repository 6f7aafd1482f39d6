#!/usr/bin/env node
// Benchmark modbus-poll: 1,000 tags in 20 clusters of mixed types, served by one pymodbus TCP
// server (Debian's python3-pymodbus), read by
//   (a)  plantwire-modbus-read in Node-RED, reading back to back as the bare loops do: interval 0
//        (read on input), every checked result the input of the next read; maxInFlight 1; and
//        (a') the same with maxInFlight N; plus (a'') timed polling every 10 ms (the least interval
//        the node takes) to show what the timer costs;
//   (b)  node-red-contrib-modbus as a user sets it up: one read node per cluster on one client with
//        its default queue, decoding in function nodes; at a 1 ms and a 100 ms rate;
//   (c)  a bare modbus-serial loop reading the same blocks one request at a time;
//   (d)  the same loop with N requests in flight;
//   (e)  Plantwire's engine alone (engine.js: session and poller, no Node-RED), 1 and N in flight.
// (a), (a'), (c), (d) and (e) run round-robin BENCH_ROUNDS times (default 9: single runs on a shared 2-vCPU machine move by +-25 %, the median of 9 per-round ratios much less): the median run of each,
// and the median of the per-round ratios. Every value read is checked against the value the server
// was given (check-node/: the same plain node after every Node-RED reader); wrong values are counted
// and shown, never hidden. Also the RSS of Node-RED with 10,000 Plantwire tags configured.
// Prints ONE JSON line on stdout (progress goes to stderr).
// Env: BENCH_SECONDS (measured window per reader, default 4), BENCH_INFLIGHT (N, default 16),
// BENCH_ROUNDS (9), BENCH_ONLY (a regular expression: only the readers it matches),
// BENCH_RED_ARGS (node options for the Node-RED processes, e.g. --cpu-prof).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { freePort, startProcess, httpRequest, sleep } = require('../../test/interop/lib/procs');
const { clusters, peerMap, plantwireTags, expected } = require('./layout');

const root = path.resolve(__dirname, '../..');
const anchors = path.join(root, 'bench', 'anchors', 'node_modules');
const SECONDS = Number(process.env.BENCH_SECONDS || 4);
const WARMUP = 2;
// 16: the most the connection's editor dialog accepts, and as many as Plantwire's plan of a poll has requests.
const N = Number(process.env.BENCH_INFLIGHT || 16);
const POLLED = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 9);
const log = (...a) => console.error('[bench]', ...a);

const list = clusters(POLLED);
const big = clusters(200);
const want = expected(list);

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 10) / 10;
}

// ---- Node-RED ----------------------------------------------------------------------------------

/** Node-RED 4.1.15 (the project's) in a fresh user folder holding only `modules`, with `flow`. */
async function startRed(name, modules, flow, spec) {
  modules = { ...modules, ...checkNode };
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `plantwire-bench-${name}-`));
  for (const [modName, target] of Object.entries(modules)) {
    const link = path.join(userDir, 'node_modules', modName);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(target, link, 'dir');
  }
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'bench', private: true, dependencies: Object.fromEntries(Object.keys(modules).map((m) => [m, '*'])) }));
  fs.writeFileSync(path.join(userDir, 'spec.json'), JSON.stringify(spec));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  const port = await freePort();
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: 'bench',
      logging: { console: { level: 'warn', metrics: false, audit: false } }, editorTheme: { tours: false },
      diagnostics: { enabled: false }, telemetry: { enabled: false }, externalModules: { autoInstall: false },
      functionGlobalContext: { benchSpec: require('./spec.json') } };\n`,
  );
  const red = startProcess(process.execPath, [...(process.env.BENCH_RED_ARGS ? process.env.BENCH_RED_ARGS.split(' ') : []), require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { name: `node-red-${name}`, cwd: userDir });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120000;
  for (;;) {
    if (red.exited) throw new Error(`Node-RED (${name}) exited:\n${red.output.slice(-3000)}`);
    const ok = await httpRequest(`${base}/bench/stats`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`Node-RED (${name}) did not start:\n${red.output.slice(-3000)}`);
    await sleep(250);
  }
  return { red, base, userDir };
}

/** The stats endpoints every bench flow has: GET /bench/stats, POST /bench/reset. */
function statsFlow(z) {
  const reset = `global.set('benchStats', { polls: 0, values: 0, wrong: 0, bad: 0, examples: [], cycles: [], last: 0, seen: {}, clusterReads: {}, since: Date.now() }); msg.payload = { ok: true }; return msg;`;
  const stats = `const s = global.get('benchStats'); msg.payload = Object.assign({}, s, { now: Date.now() }); return msg;`;
  return [
    { id: 'h-stats', type: 'http in', z, url: '/bench/stats', method: 'get', wires: [['f-stats']] },
    { id: 'f-stats', type: 'function', z, func: `if (!global.get('benchStats')) { ${reset.replace('return msg;', '')} }\n${stats}`, outputs: 1, wires: [['r-stats']] },
    { id: 'r-stats', type: 'http response', z, statusCode: '', wires: [] },
    { id: 'h-reset', type: 'http in', z, url: '/bench/reset', method: 'post', wires: [['f-reset']] },
    { id: 'f-reset', type: 'function', z, func: reset, outputs: 1, wires: [['r-reset']] },
    { id: 'r-reset', type: 'http response', z, statusCode: '', wires: [] },
  ];
}

/** The value check (check-node/): a plain node every Node-RED reader's output goes through. */
const checkNode = { 'plantwire-bench-check': path.join(__dirname, 'check-node') };
const check = (z, loop, wires) => ({ id: 'check', type: 'bench-check', z, loop, wires: [wires] });

/**
 * Plantwire's reader. `interval` > 0: timed polling. `interval` 0: reads on input, back to back as
 * the bare loops read: an inject starts the first read and every checked result is the input of
 * the next (one message going round, no copy).
 */
function plantwireFlow(port, tags, maxInFlight, interval) {
  const z = 'tab';
  const loop = interval === 0;
  return [
    { id: z, type: 'tab', label: 'bench' },
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 2000, maxRegisters: 125, maxBits: 2000, maxGap: 10, maxInFlight },
    { id: 'read', type: 'plantwire-modbus-read', z, connection: 'conn', unitId: 1, interval, output: 'batch', tags, wires: [['check']] },
    check(z, loop, loop ? ['read'] : []),
    ...(loop ? [{ id: 'start', type: 'inject', z, once: true, onceDelay: 0.5, repeat: '', payload: '', payloadType: 'str', topic: '', wires: [['read']] }] : []),
    ...statsFlow(z),
  ];
}

/** The decoding a user writes in a function node after a node-red-contrib-modbus read (registers in msg.payload). */
function decoderFunc(cl) {
  const tags = cl.tags.map((t) => [t.name, t.address - cl.start, t.type, t.order]);
  return `
const TAGS = ${JSON.stringify(tags)};
const regs = msg.payload;
const b = Buffer.alloc(regs.length * 2);
regs.forEach((w, i) => b.writeUInt16BE(w, i * 2));
const out = {};
for (const [name, at, type, order] of TAGS) {
  const o = at * 2;
  let v = b;
  if (order === 'CDAB') { v = Buffer.from([b[o + 2], b[o + 3], b[o], b[o + 1]]); }
  else if (order === 'BA') { v = Buffer.from([b[o + 1], b[o]]); }
  const p = v === b ? o : 0;
  switch (type) {
    case 'uint16': out[name] = v.readUInt16BE(p); break;
    case 'int16': out[name] = v.readInt16BE(p); break;
    case 'int32': out[name] = v.readInt32BE(p); break;
    case 'uint32': out[name] = v.readUInt32BE(p); break;
    case 'float32': out[name] = v.readFloatBE(p); break;
    case 'float64': out[name] = v.readDoubleBE(p); break;
  }
}
return { payload: out, benchCluster: ${cl.index} };`;
}

function contribFlow(port, rateMs) {
  const z = 'tab';
  const flow = [
    { id: z, type: 'tab', label: 'bench' },
    {
      id: 'client', type: 'modbus-client', name: 'pymodbus', clienttype: 'tcp', bufferCommands: true, stateLogEnabled: false, queueLogEnabled: false, failureLogEnabled: true,
      tcpHost: '127.0.0.1', tcpPort: String(port), tcpType: 'DEFAULT', serialPort: '/dev/ttyUSB', serialType: 'RTU-BUFFERD', serialBaudrate: '9600', serialDatabits: '8',
      serialStopbits: '1', serialParity: 'none', serialConnectionDelay: '100', serialAsciiResponseStartDelimiter: '0x3A', unit_id: '1', commandDelay: '1', clientTimeout: '1000',
      reconnectOnTimeout: true, reconnectTimeout: '2000', parallelUnitIdsAllowed: true, showErrors: false, showWarnings: true, showLogs: true,
    },
    check(z, false, []),
    ...statsFlow(z),
  ];
  for (const cl of list) {
    flow.push(
      {
        id: `read${cl.index}`, type: 'modbus-read', z, name: `cluster ${cl.index}`, topic: `c${cl.index}`, showStatusActivities: false, logIOActivities: false, showErrors: false, showWarnings: true,
        unitid: '', dataType: 'HoldingRegister', adr: String(cl.start), quantity: String(cl.count), rate: String(rateMs), rateUnit: 'ms', delayOnStart: false,
        enableDeformedMessages: false, startDelayTime: '', server: 'client', useIOFile: false, ioFile: '', useIOForPayload: false, emptyMsgOnFail: false, wires: [[`decode${cl.index}`], []],
      },
      { id: `decode${cl.index}`, type: 'function', z, name: `decode cluster ${cl.index}`, func: decoderFunc(cl), outputs: 1, wires: [['check']] },
    );
  }
  return flow;
}

/** Runs one Node-RED reader: warm up, reset, measure, collect. */
async function measureRed(name, modules, flow, requestsPerPoll) {
  log(`${name}: starting Node-RED`);
  const { red, base, userDir } = await startRed(name, modules, flow, { expected: want, clusters: POLLED });
  try {
    await sleep(WARMUP * 1000);
    await httpRequest(`${base}/bench/reset`, { method: 'POST' });
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const s = (await httpRequest(`${base}/bench/stats`)).body;
    const elapsed = (s.now - s.since) / 1000 || (Date.now() - t0) / 1000;
    const rss = rssMb(red.pid);
    const cycles = s.cycles.slice().sort((a, b) => a - b);
    const reads = Object.values(s.clusterReads || {});
    const result = {
      requests_per_poll: requestsPerPoll,
      polls: s.polls,
      tags_per_s: Math.round(s.values / elapsed),
      complete_polls_per_s: Math.round((s.polls / elapsed) * 10) / 10,
      poll_latency_ms: { p50: percentile(cycles, 50), p99: percentile(cycles, 99) },
      rss_mb: rss,
      values_checked: s.values,
      wrong_values: s.wrong,
      bad_quality: s.bad,
      wrong_examples: s.examples,
    };
    if (reads.length || flow.some((n) => n.type === 'modbus-read')) {
      result.reads_per_cluster = { min: Math.min(...list.map((cl) => s.clusterReads[cl.index] || 0)), max: Math.max(0, ...reads), clusters_read: reads.length };
    }
    const errors = red.output.split('\n').filter((l) => /\[error\]/.test(l)).slice(0, 3);
    if (errors.length) result.errors = errors;
    log(`${name}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await red.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

async function measureBare(name, port, inflight, script = 'bare.js') {
  log(`${name}: ${script}, ${inflight} in flight`);
  const out = execFileSync(process.execPath, [path.join(__dirname, script), '--port', String(port), '--clusters', String(POLLED), '--inflight', String(inflight), '--seconds', String(SECONDS), '--warmup', String(WARMUP)], { encoding: 'utf8' });
  const result = JSON.parse(out.trim().split('\n').pop());
  log(`${name}: ${JSON.stringify(result)}`);
  return result;
}

(async () => {
  const { planReadBlocks } = require(path.join(root, 'dist', 'modbus', 'planner.js'));
  const tags = plantwireTags(list);
  const planned = planReadBlocks(tags, { maxRegisters: 125, maxBits: 2000, maxGap: 10 }).length;

  const map = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-bench-map-')), 'map.json');
  fs.writeFileSync(map, JSON.stringify(peerMap(big)));
  const port = await freePort();
  const peer = startProcess('/usr/bin/python3', [path.join(root, 'test', 'interop', 'pymodbus', 'server.py'), '--tcp', String(port), '--map', map], { name: 'pymodbus' });
  const ready = await peer.waitFor(/READY pymodbus=(\S+)/, 120000);
  const pymodbusVersion = ready[1];
  log(`pymodbus ${pymodbusVersion} on port ${port}, ${big.length * 50} values`);
  const contribPkg = JSON.parse(fs.readFileSync(path.join(anchors, 'node-red-contrib-modbus', 'package.json'), 'utf8'));
  const forkPkg = JSON.parse(fs.readFileSync(path.join(anchors, '@openp4nr', 'modbus-serial', 'package.json'), 'utf8'));

  const results = {};
  const ratios = {};
  try {
    const plantwire = { '@plantwire/node-red-iiot': root };
    const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
    const want = (name) => !only || only.test(name);
    // Plantwire and the bare loops, round-robin ROUNDS times (the machine's speed drifts: a ratio
    // is taken within a round); figures: the median run, and the median of the per-round ratios.
    const paired = [
      ['plantwire_read', () => measureRed('plantwire_read', plantwire, plantwireFlow(port, tags, 1, 0), planned)],
      [`plantwire_read_inflight${N}`, () => measureRed(`plantwire_read_inflight${N}`, plantwire, plantwireFlow(port, tags, N, 0), planned)],
      // Plantwire's engine alone (engine.js: session and poller, no Node-RED): the runtime's share.
      ['plantwire_engine_sequential', () => measureBare('plantwire_engine_sequential', port, 1, 'engine.js')],
      [`plantwire_engine_inflight${N}`, () => measureBare(`plantwire_engine_inflight${N}`, port, N, 'engine.js')],
      ['modbus_serial_sequential', () => measureBare('modbus_serial_sequential', port, 1)],
      [`modbus_serial_inflight${N}`, () => measureBare(`modbus_serial_inflight${N}`, port, N)],
    ].filter(([name]) => want(name));
    const runs = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of paired) (runs[name] ??= []).push(await run());
    }
    for (const [name, list] of Object.entries(runs)) {
      const sorted = [...list].sort((x, y) => x.tags_per_s - y.tags_per_s);
      results[name] = { ...sorted[Math.floor(sorted.length / 2)], runs_tags_per_s: list.map((r) => r.tags_per_s) };
    }
    const roundRatio = (a, b) => {
      if (!runs[a] || !runs[b]) return null;
      const r = runs[a].map((x, i) => x.tags_per_s / runs[b][i].tags_per_s).sort((x, y) => x - y);
      return Math.round(r[Math.floor(r.length / 2)] * 1000) / 1000;
    };
    ratios.sequential_vs_bare = roundRatio('plantwire_read', 'modbus_serial_sequential');
    ratios[`inflight${N}_vs_bare_inflight${N}`] = roundRatio(`plantwire_read_inflight${N}`, `modbus_serial_inflight${N}`);
    ratios.engine_sequential_vs_bare = roundRatio('plantwire_engine_sequential', 'modbus_serial_sequential');
    ratios[`engine_inflight${N}_vs_bare_inflight${N}`] = roundRatio(`plantwire_engine_inflight${N}`, `modbus_serial_inflight${N}`);
    if (want('plantwire_timed_10ms')) results.plantwire_timed_10ms = await measureRed('plantwire_timed_10ms', plantwire, plantwireFlow(port, tags, 1, 10), planned);
    const contrib = { 'node-red-contrib-modbus': path.join(anchors, 'node-red-contrib-modbus') };
    if (want('contrib_modbus_1ms')) results.contrib_modbus_1ms = await measureRed('contrib_modbus_1ms', contrib, contribFlow(port, 1), POLLED);
    if (want('contrib_modbus_100ms')) results.contrib_modbus_100ms = await measureRed('contrib_modbus_100ms', contrib, contribFlow(port, 100), POLLED);
    const best = results.contrib_modbus_1ms && results.contrib_modbus_100ms ? Math.max(results.contrib_modbus_1ms.tags_per_s, results.contrib_modbus_100ms.tags_per_s) : null;
    if (best && results.plantwire_read) ratios.sequential_vs_contrib_best = Math.round((results.plantwire_read.tags_per_s / best) * 10) / 10;
    if (best && results[`plantwire_read_inflight${N}`]) ratios[`inflight${N}_vs_contrib_best`] = Math.round((results[`plantwire_read_inflight${N}`].tags_per_s / best) * 10) / 10;

    // Memory: Node-RED with the palette and no Modbus nodes, then with 10,000 tags configured and polled each second.
    if (want('rss_10k_tags')) {
    log('rss: 10,000 tags configured');
    const idle = await startRed('idle', plantwire, [{ id: 'tab', type: 'tab', label: 'bench' }, ...statsFlow('tab')], { expected: {}, clusters: 0 });
    await sleep(3000);
    const idleRss = rssMb(idle.red.pid);
    await idle.red.stop();
    fs.rmSync(idle.userDir, { recursive: true, force: true });
    const bigTags = plantwireTags(big);
    const tenK = await startRed('10k', plantwire, plantwireFlow(port, bigTags, 1, 1000), { expected: expected(big), clusters: big.length });
    await sleep(8000);
    const s = (await httpRequest(`${tenK.base}/bench/stats`)).body;
    const tenKRss = rssMb(tenK.red.pid);
    await tenK.red.stop();
    fs.rmSync(tenK.userDir, { recursive: true, force: true });
    results.rss_10k_tags = { tags: bigTags.length, requests_per_poll: planReadBlocks(bigTags, { maxRegisters: 125, maxBits: 2000, maxGap: 10 }).length, node_red_idle_mb: idleRss, node_red_10k_tags_mb: tenKRss, polls: s.polls, values_checked: s.values, wrong_values: s.wrong, bad_quality: s.bad };
    }
  } finally {
    await peer.stop();
    fs.rmSync(path.dirname(map), { recursive: true, force: true });
  }

  const wrong = Object.values(results).reduce((n, r) => n + (r.wrong_values || 0), 0);
  const line = {
    bench: 'modbus-poll',
    tags: tags.length,
    clusters: POLLED,
    seconds_per_reader: SECONDS,
    in_flight_n: N,
    peer: `pymodbus ${pymodbusVersion} (Debian python3-pymodbus), Modbus TCP on 127.0.0.1`,
    node_red: require('node-red/package.json').version,
    node: process.version,
    anchors: {
      'node-red-contrib-modbus': `${contribPkg.version}, default queue, one read node per cluster, decoding in function nodes; its fork @openp4nr/modbus-serial was replaced by modbus-serial@${forkPkg.version} (npm override: the fork's tarball cannot be fetched here; the fork may differ)`,
      'modbus-serial': require('modbus-serial/package.json').version,
    },
    poll_latency: 'time between successive complete polls of every tag, as seen by the consumer',
    rounds: ROUNDS,
    ratios,
    results,
    wrong_values_total: wrong,
  };
  process.stdout.write(JSON.stringify(line) + '\n');
  // A wrong value or a reader that never completed a poll is Plantwire's failure: say so by the exit code too.
  const ours = Object.entries(results).filter(([k]) => k.startsWith('plantwire') || k === 'rss_10k_tags');
  const failed = ours.filter(([, r]) => (r.wrong_values || 0) > 0 || !r.polls);
  if (failed.length) log(`FAILED: ${failed.map(([k]) => k).join(', ')} (wrong values or no complete poll)`);
  process.exit(failed.length ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
