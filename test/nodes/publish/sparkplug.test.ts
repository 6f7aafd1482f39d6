/**
 * plantwire-sparkplug-edge + plantwire-sparkplug-device inside Node-RED, against an in-process
 * aedes broker; every Sparkplug message is decoded with sparkplug-payload.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as mqtt from 'mqtt';
import { helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode, type TestNode } from '../../helpers/red';
import brokerNode = require('../../../nodes/publish/mqtt-broker');
import edgeNode = require('../../../nodes/publish/sparkplug-edge');
import deviceNode = require('../../../nodes/publish/sparkplug-device');
import { TestBroker, subscriber, waitFor, type Received } from '../../unit/publish/broker-fixture';
import { decode, encodeCommand, type Published } from '../../unit/publish/sparkplug-fakes';

const NODES = [brokerNode, edgeNode, deviceNode];
let userDir: string;

function flow(url: string, edge: Record<string, unknown> = {}, device: Record<string, unknown> = {}): FlowNode[] {
  return [
    { id: 'b', type: 'plantwire-mqtt-broker', url, clientId: 'gw' },
    { id: 'e', type: 'plantwire-sparkplug-edge', broker: 'b', groupId: 'Plant', edgeNodeId: 'GW1', primaryHostId: '', buffer: true, bufferMaxMB: '100', bufferMaxAgeH: '72', ...edge },
    { id: 'd', type: 'plantwire-sparkplug-device', edge: 'e', deviceId: 'Press1', metrics: [], wires: [['out']], ...device },
    { id: 'out', type: 'helper' },
  ];
}

function decoded(got: Received[]): Published[] {
  // Only what the edge node published: not the STATE, NCMD and DCMD this test sends itself.
  return got
    .filter((m) => !m.topic.startsWith('spBv1.0/STATE/') && !/\/(NCMD|DCMD)\//.test(m.topic))
    .map((m) => decode(m.topic, m.payload, m.qos as 0 | 1));
}

/** Status texts as `fill:key` (the test runtime has no message catalogue, so texts are the keys). */
function statusTexts(node: TestNode): string[] {
  const texts: string[] = [];
  const orig = node.status.bind(node);
  node.status = (s: { fill?: string; text?: string }) => {
    texts.push(`${s.fill}:${s.text ?? ''}`);
    return orig(s);
  };
  return texts;
}

describe('plantwire-sparkplug-edge and -device', () => {
  const broker = new TestBroker();
  let sub: { client: mqtt.MqttClient; got: Received[] };

  beforeAll(async () => {
    await broker.start();
  });
  afterAll(() => broker.stop());
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-spb-'));
    helper.settings({ userDir });
    await startServer();
    sub = await subscriber(broker.url, 'spBv1.0/#');
  });
  afterEach(async () => {
    await stop();
    sub.client.end(true);
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const types = () => decoded(sub.got).map((p) => (p.device ? `${p.type}:${p.device}` : p.type));

  it('births from the first batch, then sends DDATA by exception with aliases only', async () => {
    await load(NODES, flow(broker.url));
    const d = helper.getNode('d');
    const texts = statusTexts(d);
    d.receive({ payload: { temperature: 21.5, running: true, recipe: 'A7' }, timestamp: 1000 });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    const [nbirth, dbirth] = decoded(sub.got);
    expect(nbirth).toMatchObject({ topic: 'spBv1.0/Plant/NBIRTH/GW1', seq: 0 });
    expect(nbirth.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['bdSeq', 'Int64', 0],
      ['Node Control/Rebirth', 'Boolean', false],
    ]);
    expect(dbirth.seq).toBe(1);
    expect(dbirth.metrics.map((m) => [m.name, m.type, m.value, m.timestamp])).toEqual([
      ['temperature', 'Double', 21.5, 1000],
      ['running', 'Boolean', true, 1000],
      ['recipe', 'String', 'A7', 1000],
    ]);
    d.receive({ payload: { temperature: 22, running: true, recipe: 'A7' }, timestamp: 2000 });
    await waitFor(() => types().includes('DDATA:Press1'), 5000, 'DDATA');
    const ddata = decoded(sub.got)[2];
    expect(ddata.seq).toBe(2);
    expect(ddata.metrics).toEqual([expect.objectContaining({ alias: dbirth.metrics[0].alias, value: 22, timestamp: 2000 })]);
    expect(ddata.metrics[0].name).toBeUndefined();
    await waitFor(() => texts[texts.length - 1] === 'green:sparkplug-device.status.online', 2000, 'online status');
  });

  it('a link that stalls: live DDATA stops at the bound, the rest is buffered and replayed once it drains, nothing lost', async () => {
    await load(NODES, flow(broker.url));
    const d = helper.getNode('d');
    d.receive({ payload: { blob: 'start' }, timestamp: 1 });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    const texts = statusTexts(d);
    broker.stallReads('gw-spb-GW1', true);
    // 60 kB values: the loopback's kernel buffers (a few MB) fill first, then mqtt.js's stream,
    // where the bound (500 publishes or 16 MB waiting) stops live publishing.
    const big = 'x'.repeat(60_000);
    const n = 600;
    for (let i = 0; i < n; i++) d.receive({ payload: { blob: `${i}:${big}` }, timestamp: 1000 + i });
    await sleep(200);
    // The device says that its values are being buffered, though the session is up.
    expect(texts[texts.length - 1]).toBe('yellow:sparkplug-device.status.stalled');
    broker.stallReads('gw-spb-GW1', false);
    const values = () =>
      decoded(sub.got)
        .filter((p) => p.type === 'DDATA')
        .map((p) => ({ i: Number(String(p.metrics[0].value).split(':')[0]), historical: p.metrics[0].isHistorical === true, ts: p.metrics[0].timestamp }));
    await waitFor(() => values().length >= n, 30_000, `all ${n} values at the subscriber`);
    const got = values();
    // Every value exactly once, each with its own timestamp; some went out live, and the ones past
    // the bound as historical (all live before: the stalled stream held every one of them).
    expect(got.map((v) => v.i).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(got.every((v) => v.ts === 1000 + v.i)).toBe(true);
    expect(got.filter((v) => !v.historical).length).toBeGreaterThan(0);
    expect(got.filter((v) => v.historical).length).toBeGreaterThan(0);
    await waitFor(() => texts[texts.length - 1] === 'green:sparkplug-device.status.online', 5000, 'online again once drained');
  }, 60_000);

  it('sends a DCMD out as single-form samples, and answers an NCMD rebirth', async () => {
    await load(NODES, flow(broker.url, {}, { metrics: [{ name: 'setpoint', datatype: 'Int32' }, { name: 'enable', datatype: 'Boolean' }] }));
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    const dbirth = decoded(sub.got)[1];
    expect(dbirth.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['setpoint', 'Int32', null],
      ['enable', 'Boolean', null],
    ]);
    const out = helper.getNode('out');
    const got = nextMessages(out, 2);
    sub.client.publish(
      'spBv1.0/Plant/DCMD/GW1/Press1',
      encodeCommand([
        { name: 'setpoint', type: 'Int32', value: 42 },
        { alias: dbirth.metrics[1].alias, type: 'Boolean', value: true },
      ]),
    );
    const msgs = await got;
    expect(msgs.map((m) => [m.topic, m.payload, m.quality])).toEqual([
      ['setpoint', 42, 'good'],
      ['enable', true, 'good'],
    ]);
    sub.got.length = 0;
    sub.client.publish('spBv1.0/Plant/NCMD/GW1', encodeCommand([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]));
    await waitFor(() => types().join() === 'NBIRTH,DBIRTH:Press1', 5000, 'rebirth');
    expect(decoded(sub.got).map((p) => p.seq)).toEqual([0, 1]);
    expect(decoded(sub.got)[0].metrics[0].value).toBe(0);
  });

  it('publishes NDEATH on redeploy and keeps bdSeq across it; DDEATH when a device node is removed', async () => {
    const f = flow(broker.url);
    await load(NODES, f);
    helper.getNode('d').receive({ payload: { v: 1 } });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    // Remove only the device node: DDEATH.
    await helper.setFlows(f.filter((n) => n.id !== 'd'), 'nodes');
    await waitFor(() => types().includes('DDEATH:Press1'), 5000, 'DDEATH');
    expect(decoded(sub.got).find((p) => p.type === 'DDEATH')!.seq).toBe(2);
    // Full redeploy: NDEATH (bdSeq 0) from the edge node, then a new session with bdSeq 1.
    sub.got.length = 0;
    await helper.setFlows(f, 'full');
    await waitFor(() => types().includes('NBIRTH'), 5000, 'NBIRTH after redeploy');
    const seen = decoded(sub.got);
    const ndeath = seen.find((p) => p.type === 'NDEATH')!;
    expect(ndeath.metrics[0]).toMatchObject({ name: 'bdSeq', type: 'Int64', value: 0 });
    expect(ndeath.seq).toBeUndefined();
    expect(seen.find((p) => p.type === 'NBIRTH')!.metrics[0].value).toBe(1);
    const file = fs.readdirSync(path.join(userDir, 'plantwire')).filter((n) => n.endsWith('.json'));
    expect(file).toEqual(['sparkplug-Plant-GW1.json']);
  });

  it('buffers during a broker outage and replays the data as historical after the new birth', async () => {
    await load(NODES, flow(broker.url));
    const d = helper.getNode('d');
    const texts = statusTexts(d);
    d.receive({ payload: { v: 1 }, timestamp: 1000 });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    sub.client.end(true);
    await broker.stop();
    await waitFor(() => texts.includes('red:sparkplug-device.status.offline'), 5000, 'offline status');
    for (let i = 2; i <= 4; i++) d.receive({ payload: { v: i }, timestamp: i * 1000 });
    const edge = helper.getNode('e') as TestNode;
    await waitFor(() => edge.view().buffered === 3, 5000, '3 buffered');
    expect(texts[texts.length - 1]).toBe('red:sparkplug-device.status.offline');
    await broker.start();
    sub = await subscriber(broker.url, 'spBv1.0/#');
    await waitFor(() => types().filter((t) => t === 'DDATA:Press1').length === 2, 10000, 'historical replay');
    await sleep(200);
    const seen = decoded(sub.got);
    // v=4 is the latest value: the DBIRTH carries it (same timestamp), so it is not replayed again.
    expect(types()).toEqual(['NBIRTH', 'DBIRTH:Press1', 'DDATA:Press1', 'DDATA:Press1']);
    expect(seen[0].metrics[0].value).toBe(1);
    expect(seen[1].metrics[0]).toMatchObject({ name: 'v', value: 4 });
    expect(seen.slice(2).map((p) => [p.metrics[0].value, p.metrics[0].timestamp, p.metrics[0].isHistorical])).toEqual([
      [2, 2000, true],
      [3, 3000, true],
    ]);
    await waitFor(() => texts[texts.length - 1] === 'green:sparkplug-device.status.online', 2000, 'online status');
    expect(edge.view().buffered).toBe(0);
  });

  it('waits for the primary host STATE before the birth', async () => {
    await load(NODES, flow(broker.url, { primaryHostId: 'SCADA' }));
    const d = helper.getNode('d');
    d.receive({ payload: { v: 1 } });
    await sleep(300);
    expect(types()).toEqual([]);
    sub.client.publish('spBv1.0/STATE/SCADA', JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    expect(types().slice(0, 2)).toEqual(['NBIRTH', 'DBIRTH:Press1']);
    sub.client.publish('spBv1.0/STATE/SCADA', '', { qos: 1, retain: true });
  });

  it('on the primary host going offline: NDEATH, a new MQTT session, and a new birth (bdSeq + 1) once it is back', async () => {
    await load(NODES, flow(broker.url, { primaryHostId: 'SCADA' }));
    const d = helper.getNode('d');
    const state = (online: boolean, timestamp: number) =>
      sub.client.publish('spBv1.0/STATE/SCADA', JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
    const t = Date.now();
    state(true, t);
    d.receive({ payload: { v: 1 } });
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    state(false, t + 1);
    await waitFor(() => types().includes('NDEATH'), 5000, 'NDEATH');
    expect(decoded(sub.got).find((p) => p.type === 'NDEATH')!.metrics[0].value).toBe(0);
    d.receive({ payload: { v: 2 } });
    await sleep(500);
    expect(types().filter((x) => x === 'NBIRTH')).toHaveLength(1);
    state(true, t + 2);
    await waitFor(() => types().filter((x) => x === 'NBIRTH').length === 2, 5000, 'second NBIRTH');
    const births = decoded(sub.got).filter((p) => p.type === 'NBIRTH');
    expect(births.map((b) => b.metrics[0].value)).toEqual([0, 1]);
    sub.client.publish('spBv1.0/STATE/SCADA', '', { qos: 1, retain: true });
  });

  it.each([
    ['junk text on a Double metric', { payload: { v: 'abc' } }, /"v" is Double: "abc" is not a number/],
    ['NaN', { topic: 'v', payload: NaN }, /not a finite number/],
    ['an array', { topic: 'v', payload: [1, 2] }, /must be a number, boolean, string or null/],
    ['an unknown tag with a metric list', { topic: 'other', payload: 1 }, /not in the metric list/],
  ])('refuses %s through done(err) and keeps running', async (_label, msg, pattern) => {
    await load(NODES, flow(broker.url, {}, { metrics: [{ name: 'v', datatype: 'Double' }] }));
    const d = helper.getNode('d');
    await waitFor(() => types().includes('DBIRTH:Press1'), 5000, 'DBIRTH');
    const err = nextError(d);
    d.receive(msg);
    expect(String((await err).error)).toMatch(pattern);
    d.receive({ topic: 'v', payload: 5 });
    await waitFor(() => types().includes('DDATA:Press1'), 5000, 'DDATA after the error');
    expect(decoded(sub.got).find((p) => p.type === 'DDATA')!.metrics[0].value).toBe(5);
  });

  it('takes a huge batch whole, and refuses one beyond the metric limit', async () => {
    await load(NODES, flow(broker.url));
    const d = helper.getNode('d');
    const big: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) big[`t${i}`] = i;
    d.receive({ payload: big });
    await waitFor(() => types().includes('DBIRTH:Press1'), 10000, 'big DBIRTH');
    expect(decoded(sub.got)[1].metrics).toHaveLength(2000);
    const huge: Record<string, number> = {};
    for (let i = 0; i < 10_001; i++) huge[`u${i}`] = i;
    const err = nextError(d);
    d.receive({ payload: huge });
    expect(String((await err).error)).toMatch(/limit is 10000/);
  });

  it('reports missing or invalid settings clearly and does not crash', async () => {
    await load(NODES, [
      { id: 'b', type: 'plantwire-mqtt-broker', url: broker.url },
      { id: 'e', type: 'plantwire-sparkplug-edge', broker: 'b', groupId: 'Pl/ant', edgeNodeId: 'GW1' },
      { id: 'd', type: 'plantwire-sparkplug-device', edge: 'e', deviceId: 'D', wires: [] },
      { id: 'd2', type: 'plantwire-sparkplug-device', edge: '', deviceId: 'D', wires: [] },
      { id: 'e2', type: 'plantwire-sparkplug-edge', broker: '', groupId: 'P', edgeNodeId: 'G' },
    ]);
    await sleep(50);
    const logged = helper
      .log()
      .args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20)
      .map((a: unknown[]) => (a[0] as { msg: string }).msg)
      .join('\n');
    expect(logged).toMatch(/groupId "Pl\/ant" must not contain/);
    expect(logged).toMatch(/no Sparkplug edge node is configured/);
    expect(logged).toMatch(/no MQTT broker is configured/);
    const err = nextError(helper.getNode('d'));
    helper.getNode('d').receive({ topic: 'v', payload: 1 });
    expect(String((await err).error)).toMatch(/groupId/);
  });
});
