/**
 * The example "Sparkplug B edge gateway (Modbus device, DCMD writes back)" runs as it ships: loaded
 * as it is, debug nodes swapped for helpers, the Modbus port moved to a free one and the broker URL
 * pointed at an in-process aedes broker. A host's DCMD must reach the Modbus register and come
 * back in DDATA.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { helper, load, startServer, stop, type FlowNode, type TestNode } from '../../helpers/red';
import connectionNode = require('../../../nodes/modbus/modbus-connection');
import readNode = require('../../../nodes/modbus/modbus-read');
import writeNode = require('../../../nodes/modbus/modbus-write');
import serverNode = require('../../../nodes/modbus/modbus-server');
import brokerNode = require('../../../nodes/publish/mqtt-broker');
import edgeNode = require('../../../nodes/publish/sparkplug-edge');
import deviceNode = require('../../../nodes/publish/sparkplug-device');
import { TestBroker, subscriber, waitFor, type Received } from '../../unit/publish/broker-fixture';
import { decode, encodeCommand } from '../../unit/publish/sparkplug-fakes';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commentNode = require('@node-red/nodes/core/common/90-comment.js');

const file = path.join(__dirname, '../../../examples/Sparkplug B edge gateway (Modbus device, DCMD writes back).json');
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

describe('example: Sparkplug B edge gateway', () => {
  const broker = new TestBroker();
  let userDir: string;
  beforeAll(() => broker.start());
  afterAll(() => broker.stop());
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-spb-ex-'));
    helper.settings({ userDir });
    await startServer();
  });
  afterEach(async () => {
    await stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('is one importable flow whose wires lead to nodes in it, with the types DESIGN.md names', () => {
    const flow = read();
    const ids = new Set(flow.map((n) => n.id));
    expect(ids.size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab')).toHaveLength(1);
    for (const n of flow) for (const out of n.wires ?? []) for (const id of out) expect(ids.has(id)).toBe(true);
    const types = flow.map((n) => n.type);
    for (const t of ['plantwire-modbus-server', 'plantwire-modbus-connection', 'plantwire-modbus-read', 'plantwire-modbus-write', 'plantwire-mqtt-broker', 'plantwire-sparkplug-edge', 'plantwire-sparkplug-device']) {
      expect(types).toContain(t);
    }
    const device = flow.find((n) => n.type === 'plantwire-sparkplug-device')!;
    expect(device.wires![0]).toContain(flow.find((n) => n.type === 'plantwire-modbus-write')!.id);
  });

  it('births the polled tags, and a DCMD is written to the register and comes back in DDATA', async () => {
    const port = await freePort();
    const flow = read().map((n) => {
      if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', wires: [] };
      if (n.type === 'plantwire-modbus-server' || n.type === 'plantwire-modbus-connection') return { ...n, port };
      if (n.type === 'plantwire-mqtt-broker') return { ...n, url: broker.url };
      return n;
    }) as FlowNode[];
    const sub = await subscriber(broker.url, 'spBv1.0/#');
    try {
      await load([connectionNode, readNode, writeNode, serverNode, brokerNode, edgeNode, deviceNode, commentNode], flow);
      const seen = () => sub.got.filter((m: Received) => !/\/(NCMD|DCMD)\//.test(m.topic)).map((m) => decode(m.topic, m.payload));
      await waitFor(() => seen().some((p) => p.type === 'DBIRTH'), 10000, 'DBIRTH');
      const dbirth = seen().find((p) => p.type === 'DBIRTH')!;
      expect(dbirth.topic).toBe('spBv1.0/Plant/DBIRTH/Gateway1/Press1');
      expect(dbirth.metrics.map((m) => [m.name, m.type])).toEqual([
        ['temperature', 'Float'],
        ['pressure', 'Double'],
        ['running', 'Boolean'],
        ['cycles', 'UInt32'],
        ['setpoint', 'Float'],
        ['enable', 'Boolean'],
      ]);
      const setpoint = dbirth.metrics[4];
      const written = helper.getNode('pwspb.written') as TestNode;
      const got: unknown[] = [];
      written.on('input', (msg: { topic: string; payload: unknown }) => got.push([msg.topic, msg.payload]));
      sub.client.publish('spBv1.0/Plant/DCMD/Gateway1/Press1', encodeCommand([{ alias: setpoint.alias, type: 'Float', value: 65 }]));
      await waitFor(() => got.length > 0, 10000, 'write');
      expect(got[0]).toEqual(['setpoint', 65]);
      await waitFor(
        () => seen().some((p) => p.type === 'DDATA' && p.metrics.some((m) => m.alias === setpoint.alias && m.value === 65)),
        10000,
        'setpoint 65 in DDATA',
      );
    } finally {
      sub.client.end(true);
    }
  });
});
