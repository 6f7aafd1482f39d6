/**
 * `npm start` as a new user meets it: scripts/start.js with a fresh user folder and free ports
 * (PORT, PLANTWIRE_BROKER_PORT, PLANTWIRE_MODBUS_PORT). The editor serves the demo plant; for 20 s
 * the editor's comms websocket (what the browser listens to) carries status events and debug
 * messages: no node turns red once connected, the batch arrives every second, the MQTT round trip
 * through the embedded broker shows, the alarm goes unack. Then SIGTERM stops Node-RED and the broker.
 * A second run finds the broker's port taken: it says so, and the demo runs without MQTT.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import WebSocket from 'ws';
import { freePort, httpRequest, startProcess, type ProcessHandle } from '../interop/lib/procs';

const root = path.resolve(__dirname, '../..');
const demo: Array<{ id: string; type: string }> = JSON.parse(fs.readFileSync(path.join(root, 'flows/demo-plant.json'), 'utf8'));
const temps: string[] = [];
let red: ProcessHandle | undefined;

interface Status {
  fill?: string;
  shape?: string;
  text?: string;
}
interface Comms {
  statuses: Array<{ id: string; at: number; status: Status }>;
  debug: Array<{ id: string; at: number; msg: string }>;
  close(): void;
}

/** Subscribes to the editor's comms socket as the browser does: node statuses and debug messages. */
async function listen(port: number): Promise<Comms> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
  const c: Comms = { statuses: [], debug: [], close: () => ws.close() };
  ws.on('message', (raw) => {
    for (const m of ([] as Array<{ topic: string; data: Record<string, unknown> }>).concat(JSON.parse(String(raw)))) {
      if (m.topic.startsWith('status/')) c.statuses.push({ id: m.topic.slice(7), at: Date.now(), status: m.data as Status });
      if (m.topic === 'debug') c.debug.push({ id: String(m.data.id), at: Date.now(), msg: String(m.data.msg) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ subscribe: 'status/#' }));
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  return c;
}

async function start(env: Record<string, string>): Promise<{ red: ProcessHandle; port: number }> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-start-'));
  temps.push(userDir);
  const port = await freePort();
  red = startProcess(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    name: 'npm-start',
    cwd: root,
    env: { PLANTWIRE_USER_DIR: userDir, PORT: String(port), PLANTWIRE_MODBUS_PORT: String(await freePort()), ...env },
  });
  await red.waitFor(/Started flows|Waiting for missing types/, 120000);
  return { red, port };
}

const lastStatus = (c: Comms, id: string) => c.statuses.filter((s) => s.id === id).pop()?.status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await red?.stop();
  red = undefined;
});
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('opens the demo plant, which runs live with the embedded broker, and stops cleanly on SIGTERM', async () => {
    const brokerPort = await freePort();
    const { red: proc, port } = await start({ PLANTWIRE_BROKER_PORT: String(brokerPort) });
    expect(proc.output).toContain(`Embedded MQTT broker (demo only): mqtt://127.0.0.1:${brokerPort}`);
    expect(proc.output).not.toMatch(/missing types/i);

    const flows = await httpRequest(`http://127.0.0.1:${port}/flows`);
    expect(flows.status).toBe(200);
    const served = flows.body as Array<{ id: string; type: string; url?: string; port?: string }>;
    expect(served.map((n) => n.id).sort()).toEqual(demo.map((n) => n.id).sort());
    // The ports asked for are written into the user's copy of the demo.
    expect(served.find((n) => n.type === 'plantwire-mqtt-broker')?.url).toBe(`mqtt://127.0.0.1:${brokerPort}`);
    expect(served.find((n) => n.type === 'mqtt-broker')?.port).toBe(String(brokerPort));

    const comms = await listen(port);
    const t0 = Date.now();
    await sleep(20000);
    comms.close();

    // Values arrive: the batch reaches the debug sidebar about once a second.
    expect(comms.debug.filter((d) => d.id === 'demo-debug-batch').length).toBeGreaterThanOrEqual(12);
    // The MQTT round trip: the core subscriber on plant/# shows what plantwire-mqtt-publish sent.
    expect(lastStatus(comms, 'demo-mqtt-in')?.fill).toBe('green');
    expect(lastStatus(comms, 'demo-debug-mqtt')?.text).toMatch(/^line1\/[\w/]+ = \S+/);
    expect(lastStatus(comms, 'demo-publish')).toMatchObject({ fill: 'green' });
    expect(lastStatus(comms, 'demo-spb-device')?.text).toMatch(/online/);
    // The pressure crosses the high limit: the alarm's changes reach the sidebar.
    const alarm = comms.debug.filter((d) => d.id === 'demo-debug-alarm').map((d) => JSON.parse(d.msg).state);
    expect(alarm).toContain('unack');
    // No node is red once the first seconds (connections opening) are over, and none ends red.
    const red5 = comms.statuses.filter((s) => s.at - t0 > 5000 && s.status.fill === 'red').map((s) => `${s.id}: ${s.status.text}`);
    expect(red5).toEqual([]);
    const ids = new Set(comms.statuses.map((s) => s.id));
    expect(ids.size).toBeGreaterThan(15);
    for (const id of ids) expect(lastStatus(comms, id)?.fill).not.toBe('red');
    expect(proc.output).not.toMatch(/\[error\]/);

    const exit = await proc.stop('SIGTERM');
    expect(exit.code ?? 0).toBe(0);
    red = undefined;
    // Both the editor and the broker are gone.
    for (const p of [port, brokerPort]) {
      const open = await new Promise<boolean>((resolve) => {
        const s = net.connect(p, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      expect(open).toBe(false);
    }
  }, 120000);

  it('goes on without the broker when its port is taken: one clear line, MQTT nodes not connected, the rest runs', async () => {
    const squatter = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      const { red: proc, port } = await start({ PLANTWIRE_BROKER_PORT: String(taken) });
      expect(proc.output).toContain(`Embedded MQTT broker: 127.0.0.1:${taken} is in use; the demo runs without it`);
      const comms = await listen(port);
      await sleep(8000);
      comms.close();
      expect(comms.debug.filter((d) => d.id === 'demo-debug-batch').length).toBeGreaterThanOrEqual(4);
      expect(lastStatus(comms, 'demo-publish')?.fill).not.toBe('green');
      expect(proc.exited).toBeNull();
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  }, 120000);
});
