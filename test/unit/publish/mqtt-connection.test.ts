import { EventEmitter } from 'events';
import type { MqttClient } from 'mqtt';
import { DeviceError } from '../../../nodes/shared/errors';
import { SharedMqttConnection, NotConnectedError, parseBrokerUrl, messageSpec, type ConnectionState } from '../../../nodes/publish/mqtt-connection';
import { TestBroker, waitFor } from './broker-fixture';

describe('parseBrokerUrl', () => {
  it.each(['mqtt://h:1883', 'mqtts://h', 'ws://h:8080/mqtt', 'wss://h/mqtt'])('accepts %s', (u) => {
    expect(parseBrokerUrl(u).url).toBe(u);
  });
  it('drops credentials from the display form', () => {
    expect(parseBrokerUrl('mqtt://bob:secret@h:1883').display).toBe('mqtt://h:1883');
  });
  it.each([[''], ['http://h'], ['not a url'], [undefined], [42]])('refuses %p with a clear error', (u) => {
    expect(() => parseBrokerUrl(u)).toThrow(/broker URL/);
  });
  it('refuses wildcards in birth and will topics', () => {
    expect(() => messageSpec('a/#', 'x', '1', false)).toThrow(/must not contain/);
    expect(messageSpec('', 'x', '1', false)).toBeUndefined();
  });
});

describe('SharedMqttConnection', () => {
  const broker = new TestBroker();
  let conn: SharedMqttConnection | undefined;
  beforeEach(async () => {
    broker.port = 0;
    broker.published.length = 0;
    await broker.start();
  });
  afterEach(async () => {
    await conn?.close();
    conn = undefined;
    await broker.stop();
  });

  function make(extra: Partial<ConstructorParameters<typeof SharedMqttConnection>[0]> = {}) {
    const states: ConnectionState[] = [];
    const c = new SharedMqttConnection({
      url: broker.url,
      options: { clientId: `t_${Math.random().toString(16).slice(2)}`, protocolVersion: 4 },
      backoff: { initial: 20, max: 50, jitter: 0 },
      ...extra,
    });
    c.on('state', (s: ConnectionState) => states.push(s));
    conn = c;
    return { c, states };
  }

  it('connects with the first user and ends with the last', async () => {
    const { c, states } = make();
    expect(c.state).toBe('idle');
    c.register('a');
    c.register('b');
    await waitFor(() => c.connected, 5000, 'connect');
    await c.deregister('a');
    expect(c.connected).toBe(true);
    await c.deregister('b');
    expect(c.state).toBe('closed');
    expect(states).toEqual(['connecting', 'connected', 'closed']);
  });

  it('publishes and resolves on PUBACK; the birth message goes out on connect', async () => {
    const { c } = make({ birth: { topic: 'gw/state', payload: 'online', qos: 1, retain: true } });
    c.register('a');
    await waitFor(() => c.connected);
    await c.publish({ topic: 'x/y', payload: Buffer.from('1'), qos: 1 });
    await waitFor(() => broker.published.length >= 2);
    expect(broker.published.map((p) => [p.topic, p.payload.toString(), p.qos])).toEqual([
      ['gw/state', 'online', 1],
      ['x/y', '1', 1],
    ]);
  });

  it('rejects at once when not connected', async () => {
    const { c } = make();
    await expect(c.publish({ topic: 'x', payload: 'y', qos: 1 })).rejects.toBeInstanceOf(NotConnectedError);
  });

  it('reconnects with backoff after the broker goes away, and says so', async () => {
    const { c, states } = make();
    c.register('a');
    await waitFor(() => c.connected);
    await broker.stop();
    await waitFor(() => c.state === 'disconnected' || c.state === 'connecting');
    await expect(c.publish({ topic: 'x', payload: 'y', qos: 1 })).rejects.toBeInstanceOf(NotConnectedError);
    await broker.start(); // same port
    await waitFor(() => c.connected, 5000, 'reconnect');
    await c.publish({ topic: 'x', payload: 'after', qos: 1 });
    expect(states.filter((s) => s === 'connected')).toHaveLength(2);
    expect(states).toContain('disconnected');
    expect(broker.published.map((p) => p.payload.toString())).toEqual(['after']);
  });

  it('reconnectNow skips the backoff wait', async () => {
    const { c } = make({ backoff: { initial: 60_000, max: 60_000, jitter: 0 } });
    c.register('a');
    await waitFor(() => c.connected);
    await broker.stop();
    await waitFor(() => c.state === 'disconnected');
    await broker.start();
    c.reconnectNow();
    await waitFor(() => c.connected, 5000, 'reconnect now');
  });

  it('sends credentials and reports a refused login in its state detail', async () => {
    broker.auth = { user: 'u', password: 'right' };
    const { c } = make({ options: { clientId: 'cred', protocolVersion: 4, username: 'u', password: 'wrong' } });
    const details: Array<string | undefined> = [];
    c.on('state', (_s: ConnectionState, d?: string) => details.push(d));
    c.register('a');
    await waitFor(() => details.some((d) => d !== undefined), 5000, 'refusal');
    expect(c.connected).toBe(false);
    expect(broker.connects.find((k) => k.clientId === 'cred')).toMatchObject({ clientId: 'cred', username: 'u', password: 'wrong' });
    expect(details.find((d) => d)).toMatch(/Not authorized|Bad username|refused|authori/i);
    broker.auth = undefined;
  });
});

describe('SharedMqttConnection and the broker Maximum Packet Size (MQTT 5 CONNACK)', () => {
  /** An mqtt.js stand-in whose CONNACK announces a Maximum Packet Size (aedes speaks only 3.1.1). */
  function fakeClient(maximumPacketSize: number | undefined) {
    const sent: string[] = [];
    const client = Object.assign(new EventEmitter(), {
      connected: true,
      stream: { setMaxListeners: () => undefined },
      publish: (topic: string, _p: unknown, _o: unknown, cb: (err?: Error) => void) => {
        sent.push(topic);
        process.nextTick(cb);
      },
      end: (_force: boolean, cb?: () => void) => cb?.(),
    });
    const factory = () => {
      process.nextTick(() => client.emit('connect', { properties: maximumPacketSize ? { maximumPacketSize } : {} }));
      return client as unknown as MqttClient;
    };
    return { sent, factory };
  }

  it('refuses a message whose packet is over the limit, naming size and limit, and sends the rest', async () => {
    const { sent, factory } = fakeClient(100);
    const c = new SharedMqttConnection({ url: 'mqtt://fake', options: { protocolVersion: 5 }, connect: factory });
    c.register('a');
    await waitFor(() => c.connected);
    expect(c.maximumPacketSize).toBe(100);
    await c.publish({ topic: 'small', payload: Buffer.alloc(10), qos: 1 });
    const err = await c.publish({ topic: 'big', payload: Buffer.alloc(200), qos: 1 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as Error).message).toMatch(/"big" is a 211-byte packet, more than the broker's maximum packet size of 100 bytes/);
    expect(sent).toEqual(['small']);
    await c.close();
  });

  it('sends anything when the broker announces no limit', async () => {
    const { sent, factory } = fakeClient(undefined);
    const c = new SharedMqttConnection({ url: 'mqtt://fake', options: { protocolVersion: 5 }, connect: factory });
    c.register('a');
    await waitFor(() => c.connected);
    await c.publish({ topic: 'big', payload: Buffer.alloc(200), qos: 1 });
    expect(sent).toEqual(['big']);
    await c.close();
  });
});
