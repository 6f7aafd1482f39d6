/**
 * The demo plant (flows/demo-plant.json, what `npm start` opens) and the two Modbus examples run
 * as they ship: loaded as they are, with debug nodes swapped for helper nodes and the server's port
 * moved to a free one so that parallel runs do not collide.
 */
import fs from 'fs';
import path from 'path';
import { helper, load, nextMessages, startServer, stop, type FlowNode, type Msg, type TestNode } from '../../helpers/red';
import { freePort } from './ports';
import connectionNode = require('../../../nodes/modbus/modbus-connection');
import readNode = require('../../../nodes/modbus/modbus-read');
import writeNode = require('../../../nodes/modbus/modbus-write');
import serverNode = require('../../../nodes/modbus/modbus-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commentNode = require('@node-red/nodes/core/common/90-comment.js');

const root = path.join(__dirname, '../../..');
const files = {
  demo: path.join(root, 'flows/demo-plant.json'),
  poll: path.join(root, 'examples/Modbus TCP polling with typed tags.json'),
  write: path.join(root, 'examples/Modbus write from inject.json'),
};
const nodes = [connectionNode, readNode, writeNode, serverNode, injectNode, catchNode, commentNode];
const get = (id: string): TestNode => helper.getNode(id);

function read(file: string): Array<FlowNode & { z?: string; wires?: string[][] }> {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Node types this suite loads; the demo's analytics and publish parts run in test/nodes/demo-plant.test.ts. */
const LOADED = new Set(['tab', 'debug', 'inject', 'catch', 'comment', 'plantwire-modbus-connection', 'plantwire-modbus-read', 'plantwire-modbus-write', 'plantwire-modbus-server']);

/** The flow as it ships, runnable in the helper: debug -> helper, the port made free, only the Modbus part. */
function runnable(file: string, port: number): FlowNode[] {
  const flow = read(file).filter((n) => LOADED.has(n.type));
  const kept = new Set(flow.map((n) => n.id));
  return flow.map((n) => {
    if (n.wires) n = { ...n, wires: n.wires.map((out) => out.filter((id) => kept.has(id))) };
    if (n.type === 'debug') return { id: n.id, z: n.z, type: 'helper', wires: [] };
    if (n.type === 'plantwire-modbus-server' || n.type === 'plantwire-modbus-connection') return { ...n, port };
    return n;
  }) as FlowNode[];
}

describe.each(Object.entries(files))('flow %s', (_name, file) => {
  it('is one importable flow array whose wires all lead to nodes in it', () => {
    const flow = read(file);
    const ids = new Set(flow.map((n) => n.id));
    expect(ids.size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab')).toHaveLength(1);
    for (const n of flow) for (const out of n.wires ?? []) for (const id of out) expect(ids.has(id)).toBe(true);
    for (const n of flow) if (n.z !== undefined) expect(ids.has(n.z)).toBe(true);
  });
});

describe('the demo plant', () => {
  let port: number;
  beforeEach(async () => {
    port = await freePort();
    await startServer();
  });
  afterEach(stop);

  it('keeps its ids prefixed demo- and serves on 127.0.0.1:5020', () => {
    const flow = read(files.demo);
    expect(flow.every((n) => n.id.startsWith('demo-'))).toBe(true);
    expect(flow.find((n) => n.type === 'plantwire-modbus-server')).toMatchObject({ host: '127.0.0.1', port: 5020 });
    expect(flow.find((n) => n.type === 'plantwire-modbus-connection')).toMatchObject({ host: '127.0.0.1', port: 5020 });
    expect(flow.some((n) => n.type === 'comment')).toBe(true);
  });

  it('emits a batch of the line every second and one message per temperature', async () => {
    await load(nodes, runnable(files.demo, port));
    const singles = nextMessages(get('demo-debug-single'), 2);
    const [batch] = await nextMessages(get('demo-debug-batch'), 1);
    const p = batch.payload as Record<string, number | boolean>;
    expect(Object.values(batch.quality)).toEqual(['good', 'good', 'good', 'good', 'good', 'good']);
    expect(p['line1/oven/temperature']).toBeGreaterThanOrEqual(178 - 1e-3);
    expect(p['line1/oven/temperature']).toBeLessThanOrEqual(186 + 1e-3);
    expect(p['line1/cooler/temperature']).toBeGreaterThanOrEqual(24 - 1e-3);
    expect(p['line1/press/pressure']).toBeGreaterThanOrEqual(3.5 - 1e-9);
    expect(p['line1/press/pressure']).toBeLessThanOrEqual(4.5 + 1e-9);
    expect(Number.isInteger(p['line1/parts'])).toBe(true);
    expect(typeof p['line1/running']).toBe('boolean');
    expect(p['line1/energy']).toBeGreaterThanOrEqual(120000);
    expect(p['line1/energy']).toBeLessThanOrEqual(180000);
    expect(batch.units).toMatchObject({ 'line1/press/pressure': 'bar', 'line1/energy': 'kWh' });
    const s: Msg[] = await singles;
    expect(s.map((m) => m.topic)).toEqual(['line1/oven/temperature', 'line1/cooler/temperature']);
    expect(s.every((m) => m.quality === 'good' && m.unit === '°C')).toBe(true);
  });
});

describe('example: Modbus TCP polling with typed tags', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('runs alone: a batch of seven good tags, and one message per tag on demand', async () => {
    await load(nodes, runnable(files.poll, await freePort()));
    const [batch] = await nextMessages(get('pwmbpoll.debug1'));
    expect(Object.keys(batch.payload)).toHaveLength(7);
    expect(Object.values(batch.quality).every((q) => q === 'good')).toBe(true);
    expect(batch.payload['pump/serial']).toBe('PW-2041');
    expect(batch.payload['tank/high']).toBe(false);
    const singles = nextMessages(get('pwmbpoll.debug2'), 7);
    get('pwmbpoll.inject').receive({});
    const msgs = await singles;
    expect(msgs.map((m) => m.topic)).toContain('pump/hours');
    expect(msgs.find((m) => m.topic === 'pump/hours')?.payload).toBeGreaterThanOrEqual(1200);
  });
});

describe('example: Modbus write from inject', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('runs alone: each inject is written and acknowledged, the out-of-range one is caught', async () => {
    await load(nodes, runnable(files.write, await freePort()));
    const acked = get('pwmbwrite.debug1');
    for (const id of ['pwmbwrite.i1', 'pwmbwrite.i2', 'pwmbwrite.i3', 'pwmbwrite.i4']) {
      const got = nextMessages(acked);
      get(id).receive({});
      await got;
    }
    const refused = nextMessages(get('pwmbwrite.debug3'));
    get('pwmbwrite.i5').receive({});
    const [err] = await refused;
    expect(err.error.message).toMatch(/70000 is outside the range of uint16/);
    const [values] = await nextMessages(get('pwmbwrite.debug4'), 1, 5000);
    expect(values.payload).toMatchObject({ setpoint: 72.5, mode: 3, pump: true, valve: true, remote: true });
  });
});
