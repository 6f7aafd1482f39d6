/**
 * The example "Modbus to MQTT with store-and-forward" runs as it ships: loaded as it is, with the
 * debug node swapped for a helper, the Modbus port moved to a free one and the broker URL pointed
 * at an in-process broker. Then the broker goes away and comes back: nothing is lost.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { helper, load, nextMessages, startServer, stop, type FlowNode } from '../../helpers/red';
import connectionNode = require('../../../nodes/modbus/modbus-connection');
import readNode = require('../../../nodes/modbus/modbus-read');
import serverNode = require('../../../nodes/modbus/modbus-server');
import brokerNode = require('../../../nodes/publish/mqtt-broker');
import publishNode = require('../../../nodes/publish/mqtt-publish');
import { TestBroker, waitFor } from '../../unit/publish/broker-fixture';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commentNode = require('@node-red/nodes/core/common/90-comment.js');

const file = path.join(__dirname, '../../../examples/Modbus to MQTT with store-and-forward.json');
type Node = FlowNode & { z?: string; wires?: string[][] };
const read = (): Node[] => JSON.parse(fs.readFileSync(file, 'utf8'));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('example: Modbus to MQTT with store-and-forward', () => {
  const broker = new TestBroker();
  let userDir: string;
  beforeAll(() => broker.start());
  afterAll(() => broker.stop());
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-ex-'));
    helper.settings({ userDir });
    await startServer();
  });
  afterEach(async () => {
    await stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('is one importable flow whose wires lead to nodes in it, as DESIGN.md names them', () => {
    const flow = read();
    const ids = new Set(flow.map((n) => n.id));
    expect(ids.size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab')).toHaveLength(1);
    for (const n of flow) for (const out of n.wires ?? []) for (const id of out) expect(ids.has(id)).toBe(true);
    const types = flow.map((n) => n.type);
    for (const t of ['plantwire-modbus-server', 'plantwire-modbus-connection', 'plantwire-modbus-read', 'plantwire-mqtt-broker', 'plantwire-mqtt-publish']) {
      expect(types).toContain(t);
    }
    expect(flow.find((n) => n.type === 'plantwire-mqtt-broker')).toMatchObject({ url: 'mqtt://127.0.0.1:1883' });
    expect(flow.find((n) => n.type === 'plantwire-mqtt-publish')).toMatchObject({ buffer: true, qos: '1', format: 'json' });
  });

  it('publishes the polled tags, keeps them through a broker outage and answers stats', async () => {
    const port = await freePort();
    const flow = read().map((n) => {
      if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', wires: [] };
      if (n.type === 'plantwire-modbus-server' || n.type === 'plantwire-modbus-connection') return { ...n, port };
      if (n.type === 'plantwire-mqtt-broker') return { ...n, url: broker.url };
      return n;
    }) as FlowNode[];
    await load([connectionNode, readNode, serverNode, brokerNode, publishNode, injectNode, commentNode], flow);
    const ofBoiler = () => broker.published.filter((p) => p.topic.startsWith('plant/boiler/temperature'));
    await waitFor(() => ofBoiler().length >= 2, 10000, 'first polls');
    const first = JSON.parse(ofBoiler()[0].payload.toString());
    expect(first).toMatchObject({ quality: 'good', unit: '°C' });
    expect(first.value).toBeGreaterThanOrEqual(78 - 1e-3);
    expect(first.value).toBeLessThanOrEqual(84 + 1e-3);
    expect(broker.published.some((p) => p.topic === 'plant/boiler/gateway' && p.payload.toString() === 'online')).toBe(true);

    await broker.stop();
    await new Promise((r) => setTimeout(r, 2500)); // a few polls while the broker is away
    const beforeBack = ofBoiler().length;
    await broker.start();
    await waitFor(() => ofBoiler().length >= beforeBack + 3, 10000, 'backlog and live values');
    // Ask for the counters until the backlog is gone, then compare with what the broker got.
    let s: { payload: Record<string, number> } | undefined;
    for (let i = 0; i < 50; i++) {
      const next = nextMessages(helper.getNode('pwsaf.debug'));
      helper.getNode('pwsaf.stats').receive({});
      [s] = (await next) as Array<{ payload: Record<string, number> }>;
      if (s.payload.queued === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ts = ofBoiler().map((p) => JSON.parse(p.payload.toString()).timestamp as number);
    // Every poll arrives, in order: timestamps strictly increase, and the broker has (at least)
    // one temperature for every poll the publisher accepted (4 tags a poll).
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThan(ts[i - 1]);
    expect(s!.payload).toMatchObject({ queued: 0, dropped: 0, rejected: 0 });
    expect(ts.length).toBeGreaterThanOrEqual(s!.payload.appended / 4);
  });
});
