import { Forwarder, type ForwardTransport } from '../../../nodes/publish/forwarder';
import { BrokerRejectedError, NotConnectedError, publishPacketSize, type MqttMessageSpec } from '../../../nodes/publish/mqtt-connection';
import { MemoryQueue, type QueueItem } from '../../../nodes/publish/queue';

/** A transport whose publishes stay outstanding until the test answers them. */
class FakeTransport implements ForwardTransport {
  connected = true;
  receiveMaximum: number | undefined;
  maximumPacketSize: number | undefined;
  protocolVersion = 5;
  readonly outstanding: Array<{ msg: MqttMessageSpec; resolve: () => void; reject: (e: Error) => void }> = [];
  readonly log: string[] = [];
  maxOutstanding = 0;
  deliver(msg: MqttMessageSpec, cb: (err?: Error) => void): void {
    this.log.push(msg.payload.toString());
    this.outstanding.push({ msg, resolve: () => cb(), reject: (e) => cb(e) });
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding.length);
  }
  /** Acknowledges the oldest `n` outstanding publishes. */
  async ackOldest(n = Infinity): Promise<void> {
    const batch = this.outstanding.splice(0, Math.min(n, this.outstanding.length));
    batch.forEach((p) => p.resolve());
    await flushMicrotasks();
  }
  async drop(): Promise<void> {
    this.connected = false;
    const batch = this.outstanding.splice(0);
    batch.forEach((p) => p.reject(new NotConnectedError('connection lost')));
    await flushMicrotasks();
  }
}

/** Lets acknowledgements settle and the window refill, which runs once per event-loop turn. */
const flushMicrotasks = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function item(n: number, ts = 0, properties?: Record<string, unknown>): QueueItem {
  return { topic: 'p/t', payload: Buffer.from(String(n)), qos: 1, retain: false, ts, properties };
}

describe('Forwarder', () => {
  it('sends in FIFO order with no more than maxInFlight outstanding, and acks leave the queue', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 10 });
    await f.enqueue(Array.from({ length: 35 }, (_, n) => item(n)));
    while (t.outstanding.length) await t.ackOldest(3);
    expect(t.maxOutstanding).toBe(10);
    expect(t.log).toEqual(Array.from({ length: 35 }, (_, n) => String(n)));
    expect(queue.size).toBe(0);
    expect(f.stats()).toMatchObject({ sent: 35, queued: 0, inFlight: 0 });
  });

  it('bounds the payload bytes in flight as well, in order, and always lets one message out', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 1000, maxInFlightBytes: 250 });
    const sized = (n: number, bytes: number): QueueItem => ({ ...item(n), payload: Buffer.from(String(n).padEnd(bytes, '.')) });
    // 100-byte messages: two fit in 250 bytes, the third waits; then one of 1,000 bytes, alone.
    await f.enqueue([sized(0, 100), sized(1, 100), sized(2, 100), sized(3, 1000), sized(4, 100)]);
    expect(t.outstanding.map((o) => o.msg.payload.length)).toEqual([100, 100]);
    let most = 0;
    while (t.outstanding.length) {
      most = Math.max(most, t.outstanding.reduce((sum, o) => sum + o.msg.payload.length, 0));
      if (t.outstanding.some((o) => o.msg.payload.length === 1000)) expect(t.outstanding).toHaveLength(1);
      await t.ackOldest(1);
    }
    expect(most).toBe(1000);
    expect(t.log.map((p) => p.split('.')[0])).toEqual(['0', '1', '2', '3', '4']);
    expect(queue.size).toBe(0);
    expect(f.stats()).toMatchObject({ sent: 5, inFlight: 0 });
  });

  it('has a window of a hundred messages by default', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t });
    await f.enqueue(Array.from({ length: 250 }, (_, n) => item(n)));
    expect(t.outstanding).toHaveLength(100);
    while (t.outstanding.length) await t.ackOldest();
    expect(t.log).toHaveLength(250);
  });

  it('refills the window once for all the PUBACKs of one event-loop turn, never beyond maxInFlight', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const deferred: Array<() => void> = [];
    const f = new Forwarder({ queue, transport: t, maxInFlight: 10, defer: (fn) => deferred.push(fn) });
    await f.enqueue(Array.from({ length: 30 }, (_, n) => item(n)));
    expect(t.outstanding).toHaveLength(10);
    // Six PUBACKs arrive together: each leaves the queue at once, the refill waits for the turn's end.
    t.outstanding.splice(0, 6).forEach((p) => p.resolve());
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(queue.size).toBe(24);
    expect(t.outstanding).toHaveLength(4);
    expect(deferred).toHaveLength(1); // one refill for the six
    deferred.shift()!();
    expect(t.outstanding).toHaveLength(10);
    expect(t.log).toEqual(Array.from({ length: 16 }, (_, n) => String(n)));
    // After close a refill that was already scheduled sends nothing.
    t.outstanding.splice(0, 3).forEach((p) => p.resolve());
    for (let i = 0; i < 5; i++) await Promise.resolve();
    f.close();
    deferred.splice(0).forEach((fn) => fn());
    expect(t.log).toHaveLength(16);
    expect(t.maxOutstanding).toBe(10);
  });

  it('honours the broker Receive Maximum when smaller than the window', async () => {
    const t = new FakeTransport();
    t.receiveMaximum = 4;
    const f = new Forwarder({ queue: new MemoryQueue(), transport: t, maxInFlight: 100 });
    await f.enqueue(Array.from({ length: 20 }, (_, n) => item(n)));
    expect(t.outstanding).toHaveLength(4);
  });

  it('after a dropped connection resends from the oldest unacknowledged item, in order', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 5 });
    await f.enqueue(Array.from({ length: 12 }, (_, n) => item(n)));
    await t.ackOldest(2); // 0,1 acknowledged; 2..6 outstanding
    await t.drop();
    f.connectionChanged(false);
    await f.enqueue([item(12)]); // new messages queue behind the backlog
    expect(t.outstanding).toHaveLength(0);
    t.connected = true;
    f.connectionChanged(true);
    while (t.outstanding.length) await t.ackOldest(1);
    const resent = t.log.slice(7); // after the first window (0..6)
    expect(resent).toEqual(['2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
    expect(queue.size).toBe(0);
  });

  it('removes and reports a message the broker refuses, and goes on with the rest', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 1 });
    const rejected: Array<[string, Error]> = [];
    f.on('rejected', (i: { payload: Buffer }, e: Error) => rejected.push([i.payload.toString(), e]));
    await f.enqueue([item(0), item(1), item(2)]);
    t.outstanding.shift()!.resolve();
    await flushMicrotasks();
    t.outstanding.shift()!.reject(new BrokerRejectedError(0x87, 'Not authorized'));
    await flushMicrotasks();
    await t.ackOldest();
    expect(rejected.map(([p]) => p)).toEqual(['1']);
    expect(rejected[0][1].message).toMatch(/0x87/);
    expect(f.stats()).toMatchObject({ sent: 2, rejected: 1, queued: 0 });
  });

  it('limits the rate with a token bucket on the injected clock, and flush overrides it', async () => {
    let now = 0;
    const timers: Array<{ at: number; fn: () => void }> = [];
    const t = new FakeTransport();
    const f = new Forwarder({
      queue: new MemoryQueue(),
      transport: t,
      rate: 10,
      maxInFlight: 1000,
      now: () => now,
      setTimeout: (fn, ms) => timers.push({ at: now + ms, fn }),
      clearTimeout: () => undefined,
    });
    const advance = async (ms: number) => {
      now += ms;
      for (const tm of timers.splice(0).sort((a, b) => a.at - b.at)) {
        if (tm.at <= now) tm.fn();
        else timers.push(tm);
      }
      await flushMicrotasks();
    };
    await f.enqueue(Array.from({ length: 45 }, (_, n) => item(n)));
    expect(t.log).toHaveLength(10);
    await advance(1000);
    expect(t.log).toHaveLength(20);
    await advance(500);
    expect(t.log).toHaveLength(25);
    f.flush();
    expect(t.log).toHaveLength(45);
    expect(t.log).toEqual(Array.from({ length: 45 }, (_, n) => String(n)));
  });

  it('sends the remaining MQTT 5 message expiry and drops expired items as expired', async () => {
    let now = 100_000;
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    t.connected = false;
    const f = new Forwarder({ queue, transport: t, now: () => now });
    await f.enqueue([item(0, 100_000, { messageExpiryInterval: 5 }), item(1, 100_000, { messageExpiryInterval: 60, contentType: 'text/plain' })]);
    now += 20_000;
    t.connected = true;
    f.connectionChanged(true);
    expect(t.log).toEqual(['1']);
    expect(t.outstanding[0].msg.properties).toEqual({ messageExpiryInterval: 40, contentType: 'text/plain' });
    expect(f.stats()).toMatchObject({ expired: 1, queued: 1 });
  });

  it('emits drained once the backlog is acknowledged, and clear drops and counts the rest', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 2 });
    let drained = 0;
    f.on('drained', () => drained++);
    await f.enqueue([item(0), item(1)]);
    await t.ackOldest();
    expect(drained).toBe(1);
    t.connected = false;
    f.connectionChanged(false);
    await f.enqueue([item(2), item(3), item(4)]);
    expect(f.clear()).toBe(3);
    expect(f.stats()).toMatchObject({ queued: 0, cleared: 3, dropped: 3, sent: 2 });
  });

  it('reports progress while buffering with no connection, so the backlog shown grows', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    t.connected = false;
    const f = new Forwarder({ queue, transport: t });
    const seen: number[] = [];
    f.on('progress', () => seen.push(f.stats().queued));
    await f.enqueue([item(0)]);
    await f.enqueue([item(1), item(2)]);
    expect(seen).toEqual([1, 3]);
    expect(t.log).toEqual([]);
  });

  it('ignores answers that arrive after close', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t });
    await f.enqueue([item(0)]);
    f.close();
    await t.ackOldest();
    await expect(f.enqueue([item(1)])).rejects.toThrow(/closed/);
    expect(queue.size).toBe(0); // the broker had acknowledged it: it still leaves the queue
  });
  it('refuses as rejected an item whose PUBLISH packet is over the broker Maximum Packet Size (MQTT 5), and goes on', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    t.maximumPacketSize = 100;
    const f = new Forwarder({ queue, transport: t });
    const rejected: Array<[string, Error]> = [];
    f.on('rejected', (i: { topic: string }, e: Error) => rejected.push([i.topic, e]));
    const big: QueueItem = { topic: 'p/big', payload: Buffer.alloc(200, 65), qos: 1, retain: false, ts: 0 };
    await f.enqueue([item(0), big, item(2)]);
    expect(t.log).toEqual(['0', '2']); // the big one never reaches the transport
    await t.ackOldest();
    expect(rejected).toHaveLength(1);
    expect(rejected[0][0]).toBe('p/big');
    expect(rejected[0][1].message).toMatch(/"p\/big" is a 213-byte packet, more than the broker's maximum packet size of 100 bytes/);
    expect(f.stats()).toMatchObject({ sent: 2, rejected: 1, queued: 0 });
  });

  it('counts the PUBLISH packet size exactly: header, remaining length, topic, packet id, properties, payload', () => {
    // Sizes as mqtt-packet encodes them.
    expect(publishPacketSize({ topic: 'a/b', payload: Buffer.alloc(10), qos: 0 }, false)).toBe(17);
    expect(publishPacketSize({ topic: 'a/b', payload: Buffer.alloc(10), qos: 1 }, true)).toBe(20);
    expect(publishPacketSize({ topic: 'x', payload: Buffer.alloc(20000), qos: 2 }, true)).toBe(20010);
    const props = { contentType: 'application/json', messageExpiryInterval: 60, userProperties: { site: 'p1', multi: ['a', 'bb'] } };
    expect(publishPacketSize({ topic: 'plant/ü', payload: Buffer.alloc(200), qos: 1, properties: props }, true)).toBe(274);
  });

  it('MQTT 3.1.1: reports an item as stuck after 3 connection losses in a row with it oldest, and keeps it', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    t.protocolVersion = 4;
    const f = new Forwarder({ queue, transport: t, maxInFlight: 5 });
    const stuck: Array<[string, number, number]> = [];
    let unstuck = 0;
    f.on('stuck', (i: { topic: string; payload: Buffer }, losses: number) => stuck.push([i.topic, i.payload.length, losses]));
    f.on('unstuck', () => unstuck++);
    await f.enqueue([item(0), item(1)]);
    for (let loss = 1; loss <= 4; loss++) {
      await t.drop();
      f.connectionChanged(false);
      expect(stuck).toHaveLength(loss >= 3 ? 1 : 0);
      t.connected = true;
      f.connectionChanged(true);
    }
    expect(stuck).toEqual([['p/t', 1, 3]]); // once, naming the message's topic and size
    expect(queue.size).toBe(2); // nothing dropped
    expect(f.stats().rejected).toBe(0);
    await t.ackOldest();
    expect(unstuck).toBe(1);
    expect(queue.size).toBe(0);
  });

  it('does not report stuck when something was acknowledged between the losses', async () => {
    const queue = new MemoryQueue();
    const t = new FakeTransport();
    const f = new Forwarder({ queue, transport: t, maxInFlight: 2 });
    let stuck = 0;
    f.on('stuck', () => stuck++);
    await f.enqueue(Array.from({ length: 10 }, (_, n) => item(n)));
    for (let loss = 0; loss < 4; loss++) {
      await t.ackOldest(1);
      await t.drop();
      f.connectionChanged(false);
      t.connected = true;
      f.connectionChanged(true);
    }
    expect(stuck).toBe(0);
  });
});
