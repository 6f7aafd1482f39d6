/**
 * Sparkplug B end to end against real peers: a real Node-RED (child process, node-red/red.js) runs
 * plantwire-sparkplug-edge + -device on a PRIVATE Mosquitto (generated conf, free port). Every
 * payload is decoded by an INDEPENDENT decoder, Debian's protoc with test/interop/sparkplug_b.proto
 * (written from the schema in the Sparkplug 3.0 specification), not by the Tahu codec the nodes
 * use; the host's NCMD and DCMD are encoded by protoc too.
 *
 * Checks: NBIRTH (seq 0, bdSeq Int64, Node Control/Rebirth=false), DBIRTH (names, aliases,
 * datatypes), DDATA (aliases only, by exception), seq 0-255 continuity, NCMD rebirth, DCMD out of
 * the device node, historical replay after a Mosquitto restart, the NDEATH will after a SIGKILL of
 * Node-RED, bdSeq kept across the Node-RED restart, NDEATH before a graceful stop, and bad input
 * (junk for an Int32 metric, NaN) reported without stopping anything.
 *
 * Run: npx jest -c jest.interop.config.js test/interop/sparkplug.test.ts   (needs mosquitto, protoc)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import * as mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from './mosquitto';
import { sleep, startProcess, type ProcessHandle } from './lib/procs';

const root = path.resolve(__dirname, '../..');
const PROTO_DIR = __dirname;
const PROTOC = fs.existsSync('/usr/bin/protoc') ? '/usr/bin/protoc' : 'protoc';

/** One Sparkplug metric as protoc prints it (text format), fields by their proto names. */
interface PMetric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  is_historical?: boolean;
  is_null?: boolean;
  int_value?: number;
  long_value?: number;
  double_value?: number;
  float_value?: number;
  boolean_value?: boolean;
  string_value?: string;
}

interface PPayload {
  timestamp?: number;
  seq?: number;
  metrics: PMetric[];
}

interface Seen extends PPayload {
  topic: string;
  type: string;
  device?: string;
  at: number;
}

/** protoc --decode, then a small reader for the text format it prints. */
function protocDecode(bytes: Buffer): PPayload {
  const text = execFileSync(PROTOC, ['--decode=org.eclipse.tahu.protobuf.Payload', 'sparkplug_b.proto'], { cwd: PROTO_DIR, input: bytes }).toString();
  const out: PPayload = { metrics: [] };
  let depth = 0;
  let metric: PMetric | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.endsWith('{')) {
      if (depth === 0 && line.startsWith('metrics')) {
        metric = {};
        out.metrics.push(metric);
      }
      depth++;
      continue;
    }
    if (line === '}') {
      depth--;
      if (depth === 0) metric = undefined;
      continue;
    }
    const m = /^(\w+): (.*)$/.exec(line);
    if (!m) throw new Error(`unexpected protoc line: ${line}`);
    const [, key, rawValue] = m;
    const value: unknown = rawValue.startsWith('"') ? JSON.parse(rawValue) : rawValue === 'true' ? true : rawValue === 'false' ? false : Number(rawValue);
    if (depth === 0) (out as unknown as Record<string, unknown>)[key] = value;
    else if (depth === 1 && metric) (metric as Record<string, unknown>)[key] = value;
  }
  return out;
}

function protocEncode(text: string): Buffer {
  return execFileSync(PROTOC, ['--encode=org.eclipse.tahu.protobuf.Payload', 'sparkplug_b.proto'], { cwd: PROTO_DIR, input: text });
}

/** The publish family in the layout `npm run build` gives dist/, transpiled from nodes/. */
function palette(dir: string): string {
  const out = path.join(dir, 'dist');
  for (const fam of ['publish', 'shared']) {
    fs.mkdirSync(path.join(out, fam), { recursive: true });
    for (const n of fs.readdirSync(path.join(root, 'nodes', fam))) {
      const src = path.join(root, 'nodes', fam, n);
      if (n.endsWith('.ts')) {
        const js = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText;
        fs.writeFileSync(path.join(out, fam, n.replace(/\.ts$/, '.js')), js);
      }
    }
  }
  // Only the three node types this suite needs get their editor file (a .js with an .html is a node).
  for (const n of ['mqtt-broker', 'sparkplug-edge', 'sparkplug-device']) {
    fs.copyFileSync(path.join(root, 'nodes/publish', `${n}.html`), path.join(out, 'publish', `${n}.html`));
  }
  fs.cpSync(path.join(root, 'nodes/publish/locales'), path.join(out, 'publish/locales'), { recursive: true });
  fs.cpSync(path.join(root, 'icons'), path.join(out, 'publish/icons'), { recursive: true });
  return path.join(out, 'publish');
}

function flow(brokerPort: number) {
  const z = 'spb.tab';
  return [
    { id: z, type: 'tab', label: 'sparkplug' },
    { id: 'spb.broker', type: 'plantwire-mqtt-broker', url: `mqtt://127.0.0.1:${brokerPort}`, clientId: 'pw-spb', protocolVersion: '4', keepalive: '5' },
    {
      id: 'spb.edge', type: 'plantwire-sparkplug-edge', broker: 'spb.broker', groupId: 'Plant', edgeNodeId: 'GW1', primaryHostId: '',
      buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72',
    },
    {
      id: 'spb.gen', type: 'function', z, name: 'poll', outputs: 1, libs: [], finalize: '',
      // A Modbus-like poll every 100 ms; every 10th tick also junk for the Int32 metric and a NaN.
      // Batches are made by `mk` (settings.js, the main realm): an object literal made inside the
      // function node's vm sandbox has the sandbox's Object.prototype, which nodes/shared/sample.ts
      // isPlainObject() does not take for a batch (reported to the lead).
      initialize: `let n = 0; const mk = global.get('mk'); setInterval(() => { n++;
          node.send({ payload: mk({ count: n, running: n % 4 < 2, temp: 20 + n / 10 }) });
          if (n % 10 === 0) { node.send({ payload: mk({ count: 'junk' }) }); node.send({ topic: 'temp', payload: NaN }); }
        }, 100);`,
      func: 'return msg;',
      wires: [['spb.dev']],
    },
    {
      id: 'spb.dev', type: 'plantwire-sparkplug-device', z, edge: 'spb.edge', deviceId: 'Press1',
      metrics: [
        { name: 'count', datatype: 'Int32' },
        { name: 'running', datatype: 'Boolean' },
        { name: 'temp', datatype: 'Double' },
      ],
      wires: [['spb.rec']],
    },
    {
      id: 'spb.rec', type: 'function', z, name: 'record DCMD', outputs: 1, initialize: '', finalize: '', libs: [],
      func: "global.get('fs').appendFileSync(global.get('dcmdFile'), msg.topic + '=' + JSON.stringify(msg.payload) + '\\n'); return null;",
      wires: [[]],
    },
  ];
}

describe('Sparkplug B edge node against Mosquitto, checked by protoc', () => {
  let broker: Mosquitto | undefined;
  let red: ProcessHandle | undefined;
  let host: mqtt.MqttClient | undefined;
  let tmp: string;

  afterAll(async () => {
    await red?.stop('SIGKILL');
    await broker?.stop();
    await new Promise<void>((r) => (host ? host.end(true, {}, () => r()) : r()));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('births, data, rebirth, DCMD, historical replay, will, bdSeq across restarts, graceful NDEATH', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-spb-interop-'));
    const userDir = path.join(tmp, 'user');
    fs.mkdirSync(userDir);
    const dcmdFile = path.join(tmp, 'dcmd.log');
    const nodesDir = palette(tmp);
    broker = await startMosquitto();

    // The "host application": records every Sparkplug message (raw bytes, decoded later by protoc).
    const raw: Array<{ topic: string; payload: Buffer; at: number }> = [];
    host = mqtt.connect(broker.url, { clientId: 'pw-spb-host', reconnectPeriod: 100 });
    host.on('message', (topic, payload) => raw.push({ topic, payload: Buffer.from(payload), at: Date.now() }));
    host.on('connect', () => host!.subscribe('spBv1.0/Plant/#', { qos: 1 }));
    await new Promise<void>((resolve) => host!.once('connect', () => setTimeout(resolve, 100)));

    const cache = new Map<number, Seen>();
    const seen = (): Seen[] =>
      raw
        .filter((r) => !/\/(NCMD|DCMD)\//.test(r.topic))
        .map((r, i) => {
          const hit = cache.get(i);
          if (hit && hit.topic === r.topic) return hit;
          const parts = r.topic.split('/');
          const s: Seen = { topic: r.topic, type: parts[2], device: parts[4], at: r.at, ...protocDecode(r.payload) };
          cache.set(i, s);
          return s;
        });
    const waitSeen = async (cond: (all: Seen[]) => boolean, what: string, ms = 20000) => {
      const end = Date.now() + ms;
      while (!cond(seen())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; seen ${seen().map((s) => s.type).join(',')}\n${red?.output.slice(-3000)}`);
        await sleep(100);
      }
    };
    const bdSeqOf = (p: Seen) => p.metrics.find((m) => m.name === 'bdSeq')?.long_value;
    const after = (n: number) => seen().slice(n);

    const settingsFile = path.join(userDir, 'settings.js');
    fs.writeFileSync(
      settingsFile,
      `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', userDir, nodesDir: [nodesDir], flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'info' } } }).replace(/}$/, '')}, functionGlobalContext: { fs: require('fs'), mk: (o) => JSON.parse(JSON.stringify(o)), dcmdFile: ${JSON.stringify(dcmdFile)} } };`,
    );
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow(broker.port)));
    const startRed = async () => {
      const p = startProcess(process.execPath, [require.resolve('node-red/red.js'), '--port', '0', '--settings', settingsFile, '--userDir', userDir], {
        name: 'node-red',
        env: { HOME: userDir, NODE_PATH: path.join(root, 'node_modules') },
      });
      await p.waitFor(/Started flows/, 60000);
      expect(p.output).not.toMatch(/Waiting for missing types/);
      return p;
    };

    // 1. Births and data.
    red = await startRed();
    await waitSeen((all) => all.filter((s) => s.type === 'DDATA').length >= 8, 'DDATA');
    let all = seen();
    const nbirth = all[0];
    expect(nbirth.type).toBe('NBIRTH');
    expect(nbirth.seq ?? 0).toBe(0); // proto2 prints a field only when set; seq 0 may be omitted by an encoder
    expect(nbirth.metrics.map((m) => [m.name, m.datatype])).toEqual([
      ['bdSeq', 4],
      ['Node Control/Rebirth', 11],
    ]);
    expect(bdSeqOf(nbirth) ?? 0).toBe(0);
    expect(nbirth.metrics[1].boolean_value).toBe(false);
    const dbirth = all[1];
    expect(dbirth.type).toBe('DBIRTH');
    expect(dbirth.device).toBe('Press1');
    expect(dbirth.seq).toBe(1);
    expect(dbirth.metrics.map((m) => [m.name, m.datatype])).toEqual([
      ['count', 3],
      ['running', 11],
      ['temp', 10],
    ]);
    const aliases = new Map(dbirth.metrics.map((m) => [m.alias!, m.name!]));
    expect(aliases.size).toBe(3);
    expect(dbirth.metrics.every((m) => typeof m.timestamp === 'number')).toBe(true);
    const ddata = all.filter((s) => s.type === 'DDATA');
    for (const d of ddata) {
      expect(d.metrics.every((m) => m.name === undefined && aliases.has(m.alias!))).toBe(true);
      expect(d.metrics.every((m) => typeof m.timestamp === 'number')).toBe(true);
    }
    // Polls made before the first connection went out as historical; then live data.
    expect(ddata.filter((d) => d.metrics.every((m) => m.is_historical === undefined)).length).toBeGreaterThan(3);
    // By exception: 'running' changes every other poll, so some DDATA do not carry it.
    expect(ddata.some((d) => d.metrics.length < 3)).toBe(true);
    const countAlias = dbirth.metrics[0].alias!;
    const counts = ddata.flatMap((d) => d.metrics.filter((m) => m.alias === countAlias).map((m) => m.int_value));
    expect(counts.every((c) => typeof c === 'number')).toBe(true);
    for (let i = 1; i < all.length; i++) expect(all[i].seq).toBe(((all[i - 1].seq ?? 0) + 1) % 256);
    // Bad input: clear errors in the log, the flow runs on.
    await red.waitFor(/metric "count" is Int32: "junk" is not a number/, 10000);
    await red.waitFor(/not a finite number/, 10000);

    // 2. NCMD rebirth (encoded by protoc): NBIRTH with seq 0 and the same bdSeq, then DBIRTH.
    let mark = seen().length;
    host.publish('spBv1.0/Plant/NCMD/GW1', protocEncode(`timestamp: ${Date.now()}\nmetrics {\n  name: "Node Control/Rebirth"\n  datatype: 11\n  boolean_value: true\n}\n`));
    await waitSeen(() => after(mark).some((s) => s.type === 'DBIRTH'), 'rebirth');
    const reborn = after(mark);
    const nb = reborn.find((s) => s.type === 'NBIRTH')!;
    expect(nb.seq ?? 0).toBe(0);
    expect(bdSeqOf(nb) ?? 0).toBe(0);
    expect(reborn[reborn.indexOf(nb) + 1]).toMatchObject({ type: 'DBIRTH', seq: 1 });

    // 3. DCMD (by alias, as hosts send after a birth) comes out of the device node as a sample.
    host.publish('spBv1.0/Plant/DCMD/GW1/Press1', protocEncode(`timestamp: ${Date.now()}\nmetrics {\n  alias: ${countAlias}\n  datatype: 3\n  int_value: 77\n}\n`));
    const dcmdEnd = Date.now() + 10000;
    while (!(fs.existsSync(dcmdFile) && fs.readFileSync(dcmdFile, 'utf8').includes('count=77')) && Date.now() < dcmdEnd) await sleep(100);
    expect(fs.readFileSync(dcmdFile, 'utf8').trim().split('\n')).toEqual(['count=77']);

    // 4. Mosquitto restart: data during the outage is buffered and replayed as historical.
    await broker.stop('SIGTERM');
    const outageStart = Date.now();
    await sleep(2500);
    const outageEnd = Date.now();
    mark = seen().length;
    await broker.restart();
    await waitSeen(() => after(mark).filter((s) => s.type === 'DDATA' && s.metrics.some((m) => m.is_historical)).length >= 10, 'historical replay', 30000);
    await sleep(500);
    const back = after(mark);
    expect(back[0].type).toBe('NBIRTH');
    expect(bdSeqOf(back[0])).toBe(1);
    expect(back[1]).toMatchObject({ type: 'DBIRTH', seq: 1 });
    const history = back.filter((s) => s.metrics.some((m) => m.is_historical));
    const historyTs = history.flatMap((s) => s.metrics.map((m) => m.timestamp!));
    expect(Math.min(...historyTs)).toBeGreaterThanOrEqual(outageStart - 1000);
    // Data stays historical until the device has reconnected (attempts every 2 s; a loaded machine's
    // Mosquitto can take seconds to come back): 10 s of slack past the outage.
    expect(Math.max(...historyTs)).toBeLessThanOrEqual(outageEnd + 10000);
    expect(history.every((s) => s.metrics.every((m) => m.is_historical === true && m.name === undefined))).toBe(true);
    const historyCounts = history.flatMap((s) => s.metrics.filter((m) => m.alias === countAlias).map((m) => m.int_value!));
    expect(historyCounts.length).toBeGreaterThanOrEqual(10);
    historyCounts.forEach((c, i) => i > 0 && expect(c).toBeGreaterThan(historyCounts[i - 1]));
    for (let i = 1; i < back.length; i++) expect(back[i].seq).toBe(((back[i - 1].seq ?? 0) + 1) % 256);

    // 5. Node-RED SIGKILLed: Mosquitto publishes the will (NDEATH, bdSeq 1, no seq); after the
    //    restart bdSeq continues from the file: 2.
    mark = seen().length;
    await red.stop('SIGKILL');
    await waitSeen(() => after(mark).some((s) => s.type === 'NDEATH'), 'NDEATH will', 30000);
    const will = after(mark).find((s) => s.type === 'NDEATH')!;
    expect(will.seq).toBeUndefined();
    expect(bdSeqOf(will)).toBe(1);
    mark = seen().length;
    red = await startRed();
    await waitSeen(() => after(mark).some((s) => s.type === 'NBIRTH'), 'NBIRTH after restart');
    expect(bdSeqOf(after(mark).find((s) => s.type === 'NBIRTH')!)).toBe(2);

    // 6. Graceful stop: the node publishes NDEATH (bdSeq 2) itself, then disconnects.
    await waitSeen(() => after(mark).some((s) => s.type === 'DDATA'), 'DDATA after restart');
    mark = seen().length;
    await red.stop('SIGTERM');
    await waitSeen(() => after(mark).some((s) => s.type === 'NDEATH'), 'NDEATH on stop');
    await sleep(500);
    const deaths = after(mark).filter((s) => s.type === 'NDEATH');
    expect(deaths).toHaveLength(1);
    expect(bdSeqOf(deaths[0])).toBe(2);
    expect(red.output).not.toMatch(/Uncaught|TypeError/);
    all = seen();
    // eslint-disable-next-line no-console
    console.log(JSON.stringify({ test: 'sparkplug interop', messages: all.length, historical: history.length, bdSeqs: [0, 1, 2] }));
  });
});
