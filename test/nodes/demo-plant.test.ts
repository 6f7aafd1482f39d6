/**
 * The demo plant (flows/demo-plant.json, what `npm start` opens) runs as it ships, every part of
 * it: loaded as it is into the test helper with every node type it uses, the debug nodes swapped for
 * helper nodes, the Modbus port moved to a free one and the MQTT broker configs pointed at the
 * embedded broker of scripts/embedded-broker.js (started on a free port, as `npm start` starts it).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collect, helper, load, nextMessages, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { freePort, until, type StatusCall } from './modbus/ports';
import connectionNode = require('../../nodes/modbus/modbus-connection');
import readNode = require('../../nodes/modbus/modbus-read');
import serverNode = require('../../nodes/modbus/modbus-server');
import deadbandNode = require('../../nodes/analytics/deadband');
import statsNode = require('../../nodes/analytics/stats');
import alarmNode = require('../../nodes/analytics/alarm');
import rateNode = require('../../nodes/analytics/rate');
import resampleNode = require('../../nodes/analytics/resample');
import oeeNode = require('../../nodes/analytics/oee');
import vibrationNode = require('../../nodes/analytics/vibration');
import brokerNode = require('../../nodes/publish/mqtt-broker');
import publishNode = require('../../nodes/publish/mqtt-publish');
import edgeNode = require('../../nodes/publish/sparkplug-edge');
import deviceNode = require('../../nodes/publish/sparkplug-device');

/* eslint-disable @typescript-eslint/no-require-imports */
const core = (p: string) => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', p));
const coreNodes = ['common/20-inject.js', 'common/90-comment.js', 'function/10-function.js', 'network/10-mqtt.js'].map(core);
interface EmbeddedBroker {
  port: number;
  close(): Promise<void>;
}
const { startEmbeddedBroker } = require('../../scripts/embedded-broker.js') as {
  startEmbeddedBroker(o: { port: number; log?: (line: string) => void }): Promise<EmbeddedBroker | null>;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const nodes = [
  connectionNode, readNode, serverNode, deadbandNode, statsNode, alarmNode, rateNode, resampleNode, oeeNode, vibrationNode,
  brokerNode, publishNode, edgeNode, deviceNode, ...coreNodes,
];
type Node = FlowNode & { z?: string; wires?: string[][]; url?: string; port?: unknown };
const file = path.join(__dirname, '../../flows/demo-plant.json');
const shipped = (): Node[] => JSON.parse(fs.readFileSync(file, 'utf8'));

/**
 * The demo, runnable in the helper. The one change of behaviour: the summary's 60 s window becomes
 * 2 s, so that a window closes within the test (the wiring and the rest of its settings are as shipped).
 */
function runnable(modbusPort: number, mqttPort: number): FlowNode[] {
  return shipped().map((n) => {
    if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', wires: [] };
    if (n.type === 'plantwire-modbus-server' || n.type === 'plantwire-modbus-connection') return { ...n, port: modbusPort };
    if (n.type === 'plantwire-mqtt-broker') return { ...n, url: `mqtt://127.0.0.1:${mqttPort}` };
    if (n.type === 'mqtt-broker') return { ...n, port: String(mqttPort) };
    if (n.id === 'demo-stats') return { ...n, size: '2' };
    return n;
  });
}

describe('the demo plant, as npm start runs it', () => {
  let broker: EmbeddedBroker;
  let userDir: string;
  beforeAll(async () => {
    const b = await startEmbeddedBroker({ port: 0, log: () => undefined });
    if (!b) throw new Error('the embedded broker did not start');
    broker = b;
  });
  afterAll(() => broker.close());
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-demo-'));
    helper.settings({ userDir });
    await startServer();
  });
  afterEach(async () => {
    await stop();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('ships one tab whose ids are demo-, whose wires lead to nodes in it, on the ports npm start serves', () => {
    const flow = shipped();
    const ids = new Set(flow.map((n) => n.id));
    expect(ids.size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab').map((n) => n.label)).toEqual(['Demo plant']);
    expect([...ids].every((id) => id.startsWith('demo-'))).toBe(true);
    for (const n of flow) for (const out of n.wires ?? []) for (const id of out) expect(ids.has(id)).toBe(true);
    for (const n of flow) if (n.z !== undefined) expect(n.z).toBe('demo-tab');
    expect(flow.find((n) => n.type === 'plantwire-mqtt-broker')?.url).toBe('mqtt://127.0.0.1:1884');
    expect(flow.find((n) => n.type === 'mqtt-broker')).toMatchObject({ broker: '127.0.0.1', port: '1884' });
    expect(flow.find((n) => n.type === 'plantwire-mqtt-publish')).toMatchObject({ buffer: true });
    // The sidebar gets the batch (the live data), the summaries, alarm changes and the rare writes and
    // DCMDs; whatever else arrives every second shows in its debug node's status only.
    const sidebar = flow.filter((n) => n.type === 'debug' && n.active && n.tosidebar).map((n) => n.id);
    expect(sidebar.sort()).toEqual(['demo-debug-alarm', 'demo-debug-batch', 'demo-debug-dcmd', 'demo-debug-stats', 'demo-debug-writes']);
    for (const n of flow) if (n.type === 'debug') expect(n.tostatus).toBe(true);
  });

  it('runs: values arrive, the MQTT round trip delivers, stats and the alarm emit, no node reports an error', async () => {
    const modbusPort = await freePort();
    const flow = runnable(modbusPort, broker.port);
    await load(nodes, flow);
    // Every node of the flow started (a missing type would leave the whole flow stopped).
    for (const n of flow) if (n.type !== 'tab') expect(helper.getNode(n.id)).toBeTruthy();
    const get = (id: string): TestNode => helper.getNode(id);
    const alarms = collect(get('demo-debug-alarm'));
    const waits = {
      batch: nextMessages(get('demo-debug-batch'), 2, 8000),
      roundTrip: nextMessages(get('demo-debug-mqtt'), 12, 10000),
      stats: nextMessages(get('demo-debug-stats'), 1, 10000),
      vibration: nextMessages(get('demo-debug-vib'), 1, 8000),
      // The resample's 10 s buckets are aligned to the clock and one closes with the first sample
      // after its end: the second can come ~23 s after the first rate (a bucket just begun), more
      // on a loaded machine.
      rate: nextMessages(get('demo-debug-rate'), 2, 40000),
      oee: nextMessages(get('demo-debug-oee'), 1, 15000),
    };

    const [, batch] = await waits.batch;
    // From here on the connections are up: the core mqtt in and the Sparkplug device show a red ring
    // for a moment at start, before they connect, and that is not a failure.
    // The helper spies on the Node prototype: this spy holds the status calls of every node.
    const statusSpy = get('demo-spb-device').status;
    const settled = statusSpy.callCount as number;
    expect(Object.keys(batch.payload)).toHaveLength(6);
    expect(Object.values(batch.quality).every((q) => q === 'good')).toBe(true);
    expect(batch.payload['line1/press/pressure']).toBeGreaterThanOrEqual(3.5 - 1e-9);

    // Every tag of the batch went out through plantwire-mqtt-publish and came back through core mqtt in.
    const back: Msg[] = await waits.roundTrip;
    const topics = new Set(back.map((m) => m.topic));
    for (const tag of Object.keys(batch.payload)) expect(topics).toContain(`plant/${tag}`);
    const pressure = back.find((m) => m.topic === 'plant/line1/press/pressure');
    expect(pressure?.payload).toMatchObject({ quality: 'good', unit: 'bar' });
    expect(pressure?.payload.value).toBeGreaterThanOrEqual(3.5 - 1e-9);

    const [summary] = await waits.stats;
    const figures = Object.values(summary.payload as Record<string, { mean: number; min: number; max: number }>);
    expect(figures.length).toBeGreaterThan(0);
    for (const f of figures) {
      expect(Object.keys(f).sort()).toEqual(['max', 'mean', 'min']);
      expect(f.min).toBeLessThanOrEqual(f.mean);
      expect(f.mean).toBeLessThanOrEqual(f.max);
    }

    const [vib] = await waits.vibration;
    expect(vib.payload.dominantHz).toBeGreaterThan(45);
    expect(vib.payload.dominantHz).toBeLessThan(55);

    // The counter makes a part every 2 s: about 30 parts/min in a whole 10 s bucket (the first may be partial).
    const [, rate] = await waits.rate;
    expect(rate.payload).toBeGreaterThan(15);
    expect(rate.payload).toBeLessThan(45);

    const [oee] = await waits.oee;
    expect(oee.topic).toBe('line1');
    expect(oee.payload.availability).toBeGreaterThan(0);

    // The pressure (3.5..4.5 bar, 30 s period, starting mid-way up) crosses the 4.3 bar high limit
    // and falls back: the alarm goes unack, then rtn-unack, with nobody acknowledging.
    await until(() => alarms.some((m) => m.payload.state === 'rtn-unack'), 'the alarm to return unacknowledged', 20000);
    expect(alarms.map((m) => m.payload.state).slice(0, 2)).toEqual(['unack', 'rtn-unack']);
    expect(alarms[0].payload).toMatchObject({ level: 'H' });
    expect(alarms[0].payload.value).toBeGreaterThanOrEqual(4.3);
    // The "acknowledge" button (msg.ack with the tag in msg.topic) clears the returned alarm.
    const acked = nextMessages(get('demo-debug-alarm'), 1, 5000);
    get('demo-ack').receive({});
    const [ack] = await acked;
    expect(ack.topic).toBe('line1/press/pressure');
    expect(ack.payload).toMatchObject({ state: 'normal' });

    // The Sparkplug device went online on the embedded broker, and every node that has a status ends green or grey.
    const statuses = statusSpy.getCalls() as Array<{ thisValue: unknown; args: StatusCall[] }>;
    expect(statuses.filter((c) => c.thisValue === get('demo-spb-device')).pop()?.args[0]).toMatchObject({ fill: 'green', text: expect.stringMatching(/online/) });
    const last = new Map<unknown, StatusCall>();
    for (const c of statuses) last.set(c.thisValue, c.args[0]);
    expect(last.size).toBeGreaterThan(10);
    for (const st of last.values()) expect(['green', 'grey', undefined]).toContain(st?.fill);

    // No node logged an error or showed a red status the whole time.
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => String((a[0] as { msg: unknown }).msg))).toEqual([]);
    const red = statuses.slice(settled).filter((c) => c.args[0]?.fill === 'red').map((c) => c.args[0].text);
    expect(red).toEqual([]);
  }, 70000);
});
