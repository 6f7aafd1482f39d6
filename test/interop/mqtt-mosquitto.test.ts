/**
 * plantwire-mqtt-broker / plantwire-mqtt-publish against a real, private Mosquitto: plain TCP,
 * WebSockets, TLS and WebSockets over TLS with a CA made here, and MQTT 5 properties as a subscriber sees them.
 * Run: npx jest -c jest.interop.config.js test/interop/mqtt-mosquitto.test.ts
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as mqtt from 'mqtt';
import { helper, load, startServer, stop } from '../helpers/red';
import brokerNode = require('../../nodes/publish/mqtt-broker');
import publishNode = require('../../nodes/publish/mqtt-publish');
import { makeCerts, startMosquitto, type Mosquitto } from './mosquitto';
import { lastStatus, until } from './lib/red-status';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tlsNode = require('@node-red/nodes/core/network/05-tls.js');

interface Got {
  topic: string;
  payload: string;
  qos: number;
  properties?: mqtt.IPublishPacket['properties'];
}

async function subscribe(url: string, filter: string, protocolVersion: 4 | 5 = 4): Promise<{ client: mqtt.MqttClient; got: Got[] }> {
  const client = mqtt.connect(url, { protocolVersion, clientId: `sub_${Math.random().toString(16).slice(2)}` });
  const got: Got[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, properties: packet.properties }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { client, got };
}

describe('MQTT publish against Mosquitto', () => {
  let broker: Mosquitto;
  let tmp: string;
  let ca: string;
  let sub: { client: mqtt.MqttClient; got: Got[] } | undefined;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-mqtt-interop-'));
    const certs = makeCerts(path.join(tmp, 'certs'));
    ca = certs.ca;
    broker = await startMosquitto({ certs, websockets: true });
  });
  afterAll(async () => {
    await broker?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    helper.settings({ userDir: fs.mkdtempSync(path.join(tmp, 'user-')) });
    await startServer();
  });
  afterEach(async () => {
    await stop();
    await new Promise<void>((r) => (sub ? sub.client.end(true, {}, () => r()) : r()));
    sub = undefined;
  });

  const pub = (over: Record<string, unknown> = {}) => ({
    id: 'p', type: 'plantwire-mqtt-publish', broker: 'b', topic: 'plant/{tag}', qos: '1', format: 'json', split: true, buffer: true, wires: [], ...over,
  });
  /** The publish node on a broker node at `url` whose tls-config node trusts the CA `caPem`. */
  const loadTls = (url: string | undefined, caPem: string, protocolVersion: string, over: Record<string, unknown> = {}) =>
    load(
      [brokerNode, publishNode, tlsNode],
      [
        { id: 'b', type: 'plantwire-mqtt-broker', url, protocolVersion, tls: 't' },
        { id: 't', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true, servername: '' },
        pub(over),
      ],
      { t: { cadata: caPem } },
    );

  it('publishes over plain TCP with QoS 1, in order', async () => {
    sub = await subscribe(broker.url, 'plant/#');
    await load([brokerNode, publishNode], [{ id: 'b', type: 'plantwire-mqtt-broker', url: broker.url, protocolVersion: '4' }, pub({ format: 'value' })]);
    const p = helper.getNode('p');
    for (let i = 0; i < 200; i++) p.receive({ topic: 'line1/count', payload: i });
    await until(() => sub!.got.length === 200, '200 messages at the subscriber');
    expect(sub.got.map((g) => Number(g.payload))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(sub.got.every((g) => g.topic === 'plant/line1/count' && g.qos === 1)).toBe(true);
  });

  it('publishes over WebSockets (ws://)', async () => {
    sub = await subscribe(broker.url, 'plant/#');
    await load([brokerNode, publishNode], [{ id: 'b', type: 'plantwire-mqtt-broker', url: broker.wsUrl, protocolVersion: '4' }, pub({ format: 'value' })]);
    helper.getNode('p').receive({ topic: 'ws/level', payload: 42 });
    await until(() => sub!.got.length === 1, 'the WebSocket message');
    expect(sub.got[0]).toMatchObject({ topic: 'plant/ws/level', payload: '42', qos: 1 });
  });

  it('publishes over TLS, checking the server certificate against the CA from a tls-config node', async () => {
    sub = await subscribe(broker.url, 'plant/#');
    await loadTls(broker.tlsUrl, ca, '4');
    helper.getNode('p').receive({ topic: 'tls/temp', payload: 21.5, unit: '°C', timestamp: 1700000000000 });
    await until(() => sub!.got.length === 1, 'the TLS message');
    expect(sub.got[0].topic).toBe('plant/tls/temp');
    expect(JSON.parse(sub.got[0].payload)).toEqual({ value: 21.5, quality: 'good', timestamp: 1700000000000, unit: '°C' });
    await until(() => lastStatus(helper.getNode('p'))?.fill === 'green', 'green status once drained');
  });

  it('publishes over WebSockets with TLS (wss://), the CA from a tls-config node', async () => {
    sub = await subscribe(broker.url, 'plant/#');
    await loadTls(broker.wssUrl, ca, '5', { format: 'value' });
    expect(broker.wssUrl).toMatch(/^wss:\/\//);
    helper.getNode('p').receive({ topic: 'wss/flow', payload: 7.25 });
    await until(() => sub!.got.length === 1, 'the wss message');
    expect(sub.got[0]).toMatchObject({ topic: 'plant/wss/flow', payload: '7.25', qos: 1 });
    await until(() => lastStatus(helper.getNode('p'))?.fill === 'green', 'green status once drained');
  });

  it('refuses a server whose certificate the CA did not sign, and says why', async () => {
    const other = makeCerts(path.join(tmp, 'other-ca'));
    await loadTls(broker.tlsUrl, other.ca, '4');
    const p = helper.getNode('p');
    await until(() => lastStatus(p)?.fill === 'red', 'the red status');
    const warnings = JSON.stringify(helper.log().args);
    expect(warnings).toMatch(/certificate|self.signed|unable to verify/i);
  });

  it('sends MQTT 5 user properties, content type and message expiry that a v5 subscriber sees', async () => {
    sub = await subscribe(broker.url, 'plant/#', 5);
    await load(
      [brokerNode, publishNode],
      [
        { id: 'b', type: 'plantwire-mqtt-broker', url: broker.url, protocolVersion: '5' },
        pub({ messageExpiry: '3600', userProperties: '{"site":"north","line":"1"}' }),
      ],
    );
    helper.getNode('p').receive({ topic: 'v5/pressure', payload: 3.2, userProperties: { batch: 'B-17' } });
    await until(() => sub!.got.length === 1, 'the MQTT 5 message');
    const props = sub.got[0].properties!;
    expect(props.contentType).toBe('application/json');
    expect(props.userProperties).toEqual({ site: 'north', line: '1', batch: 'B-17' });
    expect(props.messageExpiryInterval).toBeGreaterThan(3590);
    expect(props.messageExpiryInterval).toBeLessThanOrEqual(3600);
  });
});
