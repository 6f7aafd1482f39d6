import { helper, load, sleep, startServer, stop } from '../../helpers/red';
import brokerNode = require('../../../nodes/publish/mqtt-broker');
import type { MqttBrokerNode } from '../../../nodes/publish/mqtt-broker-api';
import type { ConnectionState } from '../../../nodes/publish/mqtt-connection';
import { TestBroker, waitFor } from '../../unit/publish/broker-fixture';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tlsNode = require('@node-red/nodes/core/network/05-tls.js');

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

describe('plantwire-mqtt-broker', () => {
  const broker = new TestBroker();
  beforeAll(() => broker.start());
  afterAll(() => broker.stop());
  beforeEach(startServer);
  afterEach(stop);

  it('gives connect options with credentials and TLS, without the will, and keeps secrets out of flow and logs', async () => {
    const flow = [
      {
        id: 'b', type: 'plantwire-mqtt-broker', url: 'mqtts://plant.example:8883', clientId: 'gw1', protocolVersion: '5',
        keepalive: '30', tls: 't', willTopic: 'gw1/status', willPayload: 'offline', willQos: '1', willRetain: true,
      },
      { id: 't', type: 'tls-config', cert: '', key: '', ca: '', verifyservercert: true, servername: 'plant.example' },
    ];
    await load([brokerNode, tlsNode], flow, { b: { user: 'op', password: 's3cret!' }, t: { cadata: CA } });
    const b = helper.getNode('b') as MqttBrokerNode;
    const { url, options } = b.connectOptions({ clientIdSuffix: '-sparkplug' });
    expect(url).toBe('mqtts://plant.example:8883');
    expect(options).toMatchObject({
      clientId: 'gw1-sparkplug', protocolVersion: 5, keepalive: 30, username: 'op', password: 's3cret!',
      ca: CA, servername: 'plant.example', rejectUnauthorized: true,
    });
    expect(options.will).toBeUndefined();
    expect(b.connectOptions().options.clientId).toBe('gw1');
    expect(b.protocolVersion).toBe(5);
    expect(b.displayUrl).toBe('mqtts://plant.example:8883');
    expect(JSON.stringify(flow)).not.toMatch(/s3cret/);
    const logged = JSON.stringify(helper.log().args);
    expect(logged).not.toMatch(/s3cret/);
  });

  it('generates a client id when none is set', async () => {
    await load(brokerNode, [{ id: 'b', type: 'plantwire-mqtt-broker', url: broker.url, clientId: '' }]);
    const id = (helper.getNode('b') as MqttBrokerNode).connectOptions().options.clientId;
    expect(id).toMatch(/^plantwire_[0-9a-f]{8}$/);
  });

  it('connects with the first user, publishes, reports state, and ends with the last user', async () => {
    await load(brokerNode, [
      { id: 'b', type: 'plantwire-mqtt-broker', url: broker.url, protocolVersion: '4', birthTopic: 'gw/birth', birthPayload: 'up', birthQos: '1' },
    ]);
    const b = helper.getNode('b') as MqttBrokerNode;
    const states: ConnectionState[] = [];
    const unwatch = b.watchState((s) => states.push(s));
    expect(states).toEqual(['idle']);
    const u1 = { id: 'u1' } as never;
    const u2 = { id: 'u2' } as never;
    b.register(u1);
    b.register(u2);
    await waitFor(() => b.connected);
    await b.publish({ topic: 'line1/t', payload: '21.5', qos: 1 });
    await waitFor(() => broker.published.some((p) => p.topic === 'line1/t'));
    expect(broker.published.slice(-2).map((p) => p.topic)).toEqual(['gw/birth', 'line1/t']);
    await new Promise<void>((r) => b.deregister(u1, r));
    expect(b.connected).toBe(true);
    await new Promise<void>((r) => b.deregister(u2, r));
    expect(b.state).toBe('closed');
    unwatch();
    expect(states).toEqual(['idle', 'connecting', 'connected', 'closed']);
  });

  it('warns once per outage, not on every retry, and reconnects when the broker is back', async () => {
    const down = new TestBroker();
    await down.start();
    const url = down.url;
    await down.stop();
    await load(brokerNode, [{ id: 'b', type: 'plantwire-mqtt-broker', url, protocolVersion: '4' }]);
    const b = helper.getNode('b') as MqttBrokerNode;
    const states: ConnectionState[] = [];
    const unwatch = b.watchState((s) => states.push(s));
    b.register({ id: 'u' } as never);
    await waitFor(() => states.filter((s) => s === 'connecting').length >= 3, 10000, 'three attempts');
    const warnings = () =>
      helper.log().args.filter((a: unknown[]) => (a[0] as { level: number; msg: string }).level === 30 && /cannot reach/.test((a[0] as { msg: string }).msg));
    expect(warnings()).toHaveLength(1);
    await down.start(); // same port
    await waitFor(() => b.connected, 10000, 'reconnect');
    unwatch();
    await new Promise<void>((r) => b.deregister({ id: 'u' } as never, r));
    await down.stop();
  });

  it.each([['ftp://h'], [''], ['mqtt://']])('reports a bad URL %p clearly and refuses to publish', async (url) => {
    await load(brokerNode, [{ id: 'b', type: 'plantwire-mqtt-broker', url }]);
    await sleep(10);
    const b = helper.getNode('b') as MqttBrokerNode;
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(JSON.stringify(errors)).toMatch(/broker URL/);
    await expect(b.publish({ topic: 'x', payload: 'y' })).rejects.toThrow(/broker settings are invalid/);
    expect(() => b.connectOptions()).toThrow(/broker URL/);
  });
});
