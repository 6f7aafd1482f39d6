/**
 * Store-and-forward under faults, end to end: a real Node-RED (a child process running
 * node-red/red.js with the palette's publish family built as `npm run build` lays it out) publishes
 * ~1,000 msg/s through plantwire-mqtt-publish to a private Mosquitto. The broker is stopped while
 * messages flow; during the outage Node-RED is SIGKILLed and started again; then the broker comes
 * back. A persistent subscriber must see every message the node acknowledged (done(), recorded by
 * a complete node), in order, with no gaps. Prints one JSON line of counts.
 *
 * The broker is stopped with SIGTERM so that it keeps the subscriber's session (Mosquitto writes
 * its persistence file on the way out); a SIGKILLed broker loses what it had already acknowledged
 * but not yet delivered, which no publisher can prevent.
 *
 * Run: npx jest -c jest.interop.config.js test/interop/mqtt-faults.test.ts
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import * as mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from './mosquitto';
import { httpRequest, sleep, startProcess, type ProcessHandle } from './lib/procs';

const root = path.resolve(__dirname, '../..');
const MY_NODES = ['mqtt-broker', 'mqtt-publish'];

/**
 * The publish family in the layout `npm run build` gives dist/ (js + html + locales + icons).
 * Taken from dist/ when it is there and newer than the sources; otherwise (dist/ is being rebuilt
 * by a parallel build, or is stale) transpiled from nodes/ into the same layout.
 */
function palette(dir: string): { nodesDir: string; from: string } {
  const out = path.join(dir, 'dist');
  const srcNewest = Math.max(
    ...['publish', 'shared'].flatMap((f) => fs.readdirSync(path.join(root, 'nodes', f)).filter((n) => n.endsWith('.ts')).map((n) => fs.statSync(path.join(root, 'nodes', f, n)).mtimeMs)),
  );
  const built = path.join(root, 'dist', 'publish', 'mqtt-publish.js');
  let from = 'dist/';
  try {
    if (fs.statSync(built).mtimeMs < srcNewest) throw new Error('stale');
    fs.cpSync(path.join(root, 'dist', 'shared'), path.join(out, 'shared'), { recursive: true });
    fs.cpSync(path.join(root, 'dist', 'publish'), path.join(out, 'publish'), {
      recursive: true,
      filter: (f) => !path.basename(f).startsWith('sparkplug'),
    });
    if (!fs.existsSync(path.join(out, 'publish', 'mqtt-publish.html'))) throw new Error('incomplete');
  } catch {
    from = 'nodes/ (transpiled; dist/ missing or older than the sources)';
    fs.rmSync(out, { recursive: true, force: true });
    for (const fam of ['publish', 'shared']) {
      for (const n of fs.readdirSync(path.join(root, 'nodes', fam))) {
        if (!n.endsWith('.ts') || n.startsWith('sparkplug')) continue;
        const js = ts.transpileModule(fs.readFileSync(path.join(root, 'nodes', fam, n), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText;
        fs.mkdirSync(path.join(out, fam), { recursive: true });
        fs.writeFileSync(path.join(out, fam, n.replace(/\.ts$/, '.js')), js);
      }
    }
    for (const n of MY_NODES) fs.copyFileSync(path.join(root, 'nodes/publish', `${n}.html`), path.join(out, 'publish', `${n}.html`));
    fs.cpSync(path.join(root, 'nodes/publish/locales'), path.join(out, 'publish/locales'), { recursive: true });
    fs.cpSync(path.join(root, 'icons'), path.join(out, 'publish/icons'), { recursive: true });
  }
  return { nodesDir: path.join(out, 'publish'), from };
}

function flow(brokerPort: number) {
  const z = 'fault.tab';
  return [
    { id: z, type: 'tab', label: 'fault' },
    { id: 'fault.broker', type: 'plantwire-mqtt-broker', url: `mqtt://127.0.0.1:${brokerPort}`, clientId: 'pw-fault-pub', protocolVersion: '4', keepalive: '10' },
    {
      id: 'fault.gen', type: 'function', z, name: 'gen', outputs: 1,
      // ~1,000 msg/s: 10 every 10 ms, numbered within this run (a run = one Node-RED process).
      initialize: `const run = Date.now().toString(36); let seq = 0;
        setInterval(() => { if (context.get('stopped')) return;
          for (let i = 0; i < 10; i++) node.send({ topic: 'seq', payload: run + ':' + (seq++) }); }, 10);`,
      func: "if (msg.stop) context.set('stopped', true); return null;",
      finalize: '', libs: [], wires: [['fault.pub']],
    },
    { id: 'fault.stop', type: 'inject', z, name: 'stop', props: [{ p: 'stop', v: 'true', vt: 'bool' }], repeat: '', once: false, wires: [['fault.gen']] },
    {
      id: 'fault.pub', type: 'plantwire-mqtt-publish', z, broker: 'fault.broker', topic: 'fault/{tag}', qos: '1', format: 'value', split: true,
      buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72', maxInFlight: '100', rate: '0', wires: [[]],
    },
    { id: 'fault.done', type: 'complete', z, scope: ['fault.pub'], uncaught: false, wires: [['fault.rec']] },
    {
      id: 'fault.rec', type: 'function', z, name: 'record ack', outputs: 1, initialize: '', finalize: '', libs: [],
      // Synchronous: a line here means done() was called, i.e. the message was durable.
      func: "global.get('fs').appendFileSync(global.get('ackFile'), msg.payload + '\\n'); return null;",
      wires: [[]],
    },
  ];
}

describe('store-and-forward through a broker outage and a Node-RED SIGKILL', () => {
  let broker: Mosquitto | undefined;
  let red: ProcessHandle | undefined;
  let sub: mqtt.MqttClient | undefined;
  let tmp: string;

  afterAll(async () => {
    await red?.stop('SIGKILL');
    await broker?.dispose();
    await new Promise<void>((r) => (sub ? sub.end(true, {}, () => r()) : r()));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the subscriber sees every acknowledged message, in order, no gaps', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-mqtt-fault-'));
    const userDir = path.join(tmp, 'user');
    fs.mkdirSync(userDir);
    const ackFile = path.join(tmp, 'acked.log');
    const { nodesDir, from } = palette(tmp);
    broker = await startMosquitto();

    // A persistent session: what arrives while the subscriber is cut off waits in the broker.
    const got: string[] = [];
    sub = mqtt.connect(broker.url, { clientId: 'pw-fault-sub', clean: false, reconnectPeriod: 200 });
    sub.on('message', (_t, payload) => got.push(payload.toString()));
    await new Promise<void>((resolve, reject) => {
      sub!.once('connect', () => sub!.subscribe('fault/#', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    });

    const settingsFile = path.join(userDir, 'settings.js');
    fs.writeFileSync(
      settingsFile,
      `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', userDir, nodesDir: [nodesDir], flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'info' } } }).replace(/}$/, '')}, functionGlobalContext: { fs: require('fs'), ackFile: ${JSON.stringify(ackFile)} } };`,
    );
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow(broker.port)));
    const startRed = async () => {
      const p = startProcess(process.execPath, [require.resolve('node-red/red.js'), '--port', '0', '--settings', settingsFile, '--userDir', userDir], {
        name: 'node-red',
        env: { HOME: userDir, NODE_PATH: path.join(root, 'node_modules') },
      });
      await p.waitFor(/Started flows/, 60000);
      const url = (await p.waitFor(/Server now running at (http:\/\/\S+?)\/?\s/, 10000))[1];
      expect(p.output).not.toMatch(/Waiting for missing types/);
      return { p, url };
    };
    const acked = () => fs.existsSync(ackFile) ? fs.readFileSync(ackFile, 'utf8').split('\n').filter((l) => /^[0-9a-z]+:\d+$/.test(l)) : [];
    const waitAcked = async (n: number, ms = 30000) => {
      const end = Date.now() + ms;
      while (acked().length < n) {
        if (Date.now() > end) throw new Error(`only ${acked().length} of ${n} acknowledged:\n${red?.output.slice(-2000)}`);
        await sleep(50);
      }
    };

    let first = await startRed();
    red = first.p;
    await waitAcked(2000);
    await broker.stop('SIGTERM'); // outage while ~1,000 msg/s flow
    const atOutage = acked().length;
    await waitAcked(atOutage + 1000); // still acknowledged: durable on disk
    await red.stop('SIGKILL'); // Node-RED dies during the outage
    const second = await startRed();
    red = second.p;
    await waitAcked(acked().length + 1000); // the new run queues behind the old backlog
    await broker.restart();
    await sleep(2000);
    const stopRes = await httpRequest(`${second.url}/inject/fault.stop`, { method: 'POST' });
    expect(stopRes.status).toBe(200);
    await sleep(300);

    const ackedList = acked();
    const ackedSet = new Set(ackedList);
    const end = Date.now() + 90000;
    const missing = () => {
      const have = new Set(got);
      return [...ackedSet].some((a) => !have.has(a));
    };
    while (missing() && Date.now() < end) await sleep(250);
    await sleep(500);

    const key = (s: string) => {
      const [run, seq] = s.split(':');
      return [parseInt(run, 36), Number(seq)];
    };
    const firstSeen: string[] = [];
    const seen = new Set<string>();
    for (const g of got) if (!seen.has(g)) (seen.add(g), firstSeen.push(g));
    let outOfOrder = 0;
    for (let i = 1; i < firstSeen.length; i++) {
      const [ra, sa] = key(firstSeen[i - 1]);
      const [rb, sb] = key(firstSeen[i]);
      if (rb < ra || (rb === ra && sb <= sa)) outOfOrder++;
    }
    const lost = [...ackedSet].filter((a) => !seen.has(a));
    // Within a run every number up to the last one received is there (no gaps in what arrived).
    const runs = new Map<number, number[]>();
    for (const s of firstSeen) {
      const [r, q] = key(s);
      runs.set(r, [...(runs.get(r) ?? []), q]);
    }
    let gaps = 0;
    for (const seqs of runs.values()) seqs.forEach((q, i) => (gaps += q === i ? 0 : 1));
    const report = {
      test: 'mqtt store-and-forward fault',
      palette: from,
      sent: ackedSet.size,
      received: firstSeen.length,
      duplicates: got.length - firstSeen.length,
      lost: lost.length,
      outOfOrder,
      gaps,
      runs: runs.size,
      ackedDuringOutage: ackedSet.size - atOutage,
    };
    // eslint-disable-next-line no-console
    console.log(JSON.stringify(report));
    expect(runs.size).toBe(2);
    expect(report.ackedDuringOutage).toBeGreaterThan(2000);
    expect(lost.slice(0, 5)).toEqual([]);
    expect(outOfOrder).toBe(0);
    expect(gaps).toBe(0);
    expect(red.output).not.toMatch(/Uncaught|TypeError/);
    void first;
    first = second;
  });
});
