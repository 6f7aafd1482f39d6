import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, InputError } from '../../../nodes/shared/errors';
import type { Sample } from '../../../nodes/shared/sample';
import {
  EdgeNodeSession,
  FileBdSeqStore,
  MAX_DEVICE_METRICS,
  MAX_UNSENT_PUBLISHES,
  type EdgeSessionOptions,
  type SessionState,
} from '../../../nodes/publish/sparkplug-session';
import { MemoryQueue } from '../../../nodes/publish/queue';
import { QueueHistoryBuffer } from '../../../nodes/publish/sparkplug-buffer';
import { decode, encodeCommand, fakeClock, FakeTransport, flush, MemoryBdSeqStore } from './sparkplug-fakes';

const T0 = 1_700_000_000_000;

function setup<T extends FakeTransport = FakeTransport>(extra: Partial<EdgeSessionOptions> = {}, transport: T = new FakeTransport() as T) {
  const store = new MemoryBdSeqStore();
  const clock = fakeClock(T0);
  const errors: Error[] = [];
  const states: SessionState[] = [];
  const session = new EdgeNodeSession({
    groupId: 'Plant1',
    edgeNodeId: 'Gateway1',
    transport,
    bdSeqStore: store,
    now: clock.now,
    onError: (e) => errors.push(e),
    onStateChange: (s) => states.push(s),
    ...extra,
  });
  return { transport, store, clock, errors, states, session };
}

const s = (tag: string, value: Sample['value'], extra: Partial<Sample> = {}): Sample => ({ tag, value, quality: 'good', ts: T0, ...extra });

async function online(extra: Partial<EdgeSessionOptions> = {}) {
  const ctx = setup(extra);
  ctx.session.nextWill();
  await ctx.session.connected();
  return ctx;
}

describe('bdSeq and NDEATH will', () => {
  it('registers an NDEATH will with QoS 1, not retained, bdSeq (Int64) and no seq', () => {
    const { session } = setup();
    const will = session.nextWill();
    expect(will.topic).toBe('spBv1.0/Plant1/NDEATH/Gateway1');
    expect(will.qos).toBe(1);
    expect(will.retain).toBe(false);
    const p = decode(will.topic, will.payload);
    expect(p.seq).toBeUndefined();
    expect(p.metrics).toEqual([expect.objectContaining({ name: 'bdSeq', type: 'Int64', value: 0 })]);
  });

  it('increments bdSeq for every new session, saves it before use, and wraps 255 to 0', async () => {
    const { session, store } = setup();
    store.value = 254;
    const values: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const w = session.nextWill();
      values.push(decode(w.topic, w.payload).metrics[0].value);
      await session.connected();
      session.connectionLost();
    }
    expect(values).toEqual([255, 0, 1]);
    expect(store.value).toBe(1);
    expect(store.saves).toBe(3);
  });

  it('keeps the bdSeq of a CONNECT that got no session (broker down) for the next attempt', async () => {
    const { session, store, transport } = setup();
    const attempts = [session.nextWill(), session.nextWill(), session.nextWill()];
    expect(attempts.map((w) => decode(w.topic, w.payload).metrics[0].value)).toEqual([0, 0, 0]);
    await session.connected();
    expect(transport.sent[0].metrics[0].value).toBe(0);
    session.connectionLost();
    expect(decode(session.nextWill().topic, session.nextWill().payload).metrics[0].value).toBe(1);
    expect(store.saves).toBe(2);
  });

  it('continues from the stored bdSeq after a restart (a new session object)', async () => {
    const a = setup();
    a.session.nextWill();
    await a.session.connected();
    a.session.connectionLost();
    a.session.nextWill();
    const b = new EdgeNodeSession({ groupId: 'Plant1', edgeNodeId: 'Gateway1', transport: new FakeTransport(), bdSeqStore: a.store });
    const w = b.nextWill();
    expect(decode(w.topic, w.payload).metrics[0].value).toBe(2);
  });

  it('keeps bdSeq in a JSON file across instances, one file per edge node', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-bdseq-'));
    const folder = path.join(dir, 'plantwire');
    const one = new FileBdSeqStore(folder, 'Plant 1', 'GW/x');
    expect(one.load()).toBeUndefined();
    one.save(7);
    expect(new FileBdSeqStore(folder, 'Plant 1', 'GW/x').load()).toBe(7);
    expect(new FileBdSeqStore(folder, 'Plant 1', 'other').load()).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(one.file, 'utf8'))).toEqual({ bdSeq: 7 });
    fs.writeFileSync(one.file, '{torn');
    expect(one.load()).toBeUndefined();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('birth sequence', () => {
  it('subscribes NCMD and DCMD, then publishes NBIRTH with seq 0, bdSeq and Node Control/Rebirth=false', async () => {
    const { transport, session, store } = setup();
    store.value = 41;
    session.nextWill();
    await session.connected();
    expect(transport.subscriptions).toEqual(['spBv1.0/Plant1/NCMD/Gateway1', 'spBv1.0/Plant1/DCMD/Gateway1/+']);
    const [nbirth] = transport.sent;
    expect(nbirth.topic).toBe('spBv1.0/Plant1/NBIRTH/Gateway1');
    expect(nbirth.qos).toBe(0);
    expect(nbirth.seq).toBe(0);
    expect(nbirth.timestamp).toBe(T0);
    expect(nbirth.metrics).toEqual([
      expect.objectContaining({ name: 'bdSeq', type: 'Int64', value: 42 }),
      expect.objectContaining({ name: 'Node Control/Rebirth', type: 'Boolean', value: false }),
    ]);
    expect(session.state).toBe('online');
  });

  it('births a device from its first batch with every metric, datatype and alias, then DDATA by exception', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('Press1');
    expect(transport.types()).toEqual(['NBIRTH']);
    const r = dev.update([s('temperature', 21.5), s('running', true), s('recipe', 'A7')]);
    expect(r.outcome).toBe('DBIRTH');
    const dbirth = transport.sent[1];
    expect(dbirth.topic).toBe('spBv1.0/Plant1/DBIRTH/Gateway1/Press1');
    expect(dbirth.seq).toBe(1);
    expect(dbirth.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['temperature', 'Double', 21.5],
      ['running', 'Boolean', true],
      ['recipe', 'String', 'A7'],
    ]);
    const aliases = dbirth.metrics.map((m) => m.alias);
    expect(new Set(aliases).size).toBe(3);
    expect(dbirth.metrics.every((m) => m.timestamp === T0)).toBe(true);

    expect(dev.update([s('temperature', 21.5), s('running', false), s('recipe', 'A7')]).outcome).toBe('DDATA');
    const ddata = transport.sent[2];
    expect(ddata.topic).toBe('spBv1.0/Plant1/DDATA/Gateway1/Press1');
    expect(ddata.seq).toBe(2);
    expect(ddata.metrics).toEqual([expect.objectContaining({ alias: aliases[1], type: 'Boolean', value: false })]);
    expect(ddata.metrics[0].name).toBeUndefined();

    expect(dev.update([s('temperature', 21.5)]).outcome).toBe('unchanged');
    expect(transport.sent).toHaveLength(3);
  });

  it('uses the datatypes of the editor metric list and births listed metrics at once with null values', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('Pump', { metrics: [{ name: 'speed', datatype: 'Int32' }, { name: 'flow', datatype: 'Float' }] });
    const dbirth = transport.sent[1];
    expect(dbirth.type).toBe('DBIRTH');
    expect(dbirth.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['speed', 'Int32', null],
      ['flow', 'Float', null],
    ]);
    dev.update([s('speed', 1450), s('flow', 3.5)]);
    expect(transport.sent[2].metrics.map((m) => [m.type, m.value])).toEqual([
      ['Int32', 1450],
      ['Float', 3.5],
    ]);
    expect(() => dev.update([s('speed', 1.5)])).toThrow(/speed.*Int32.*not an integer/);
    expect(() => dev.update([s('pressure', 2)])).toThrow(/not in the metric list/);
  });

  it('gives aliases that are unique across all devices of the edge node', async () => {
    const { transport, session } = await online();
    session.addDevice('A').update([s('x', 1), s('y', 2)]);
    session.addDevice('B').update([s('x', 1), s('y', 2)]);
    const aliases = transport.sent.flatMap((p) => p.metrics.map((m) => m.alias));
    expect(new Set(aliases).size).toBe(aliases.length);
  });

  it('rebirths a device when a new metric appears after its birth', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('Press1');
    dev.update([s('a', 1)]);
    expect(dev.update([s('a', 1), s('b', 2)]).outcome).toBe('DBIRTH');
    const last = transport.sent[transport.sent.length - 1];
    expect(last.type).toBe('DBIRTH');
    expect(last.metrics.map((m) => m.name)).toEqual(['a', 'b']);
    expect(last.seq).toBe(2);
  });

  it('counts seq 0..255 across DBIRTH, DDATA and DDEATH, then wraps to 0', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('v', 0)]);
    for (let i = 1; i <= 300; i++) dev.update([s('v', i)]);
    dev.update([s('v', null, { quality: 'bad' })]);
    const seqs = transport.sent.map((p) => p.seq);
    expect(seqs.slice(0, 3)).toEqual([0, 1, 2]);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1]! + 1) % 256);
    expect(seqs).toContain(255);
    expect(transport.sent[256].seq).toBe(0);
    expect(transport.sent[transport.sent.length - 1].type).toBe('DDEATH');
  });
});

describe('commands', () => {
  it('answers NCMD Node Control/Rebirth=true with NBIRTH (seq 0, same bdSeq) and every DBIRTH', async () => {
    const { transport, session } = await online();
    session.addDevice('A').update([s('x', 1)]);
    session.addDevice('B').update([s('y', 2)]);
    session.addDevice('Empty');
    transport.clear();
    await session.handleMessage('spBv1.0/Plant1/NCMD/Gateway1', encodeCommand([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]));
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:A', 'DBIRTH:B']);
    expect(transport.sent.map((p) => p.seq)).toEqual([0, 1, 2]);
    expect(transport.sent[0].metrics[0]).toMatchObject({ name: 'bdSeq', value: 0 });
    expect(transport.sent[1].metrics).toEqual([expect.objectContaining({ name: 'x', value: 1 })]);
  });

  it('ignores Rebirth=false and other node metrics, and reports a payload that is not Sparkplug', async () => {
    const { transport, session, errors } = await online();
    transport.clear();
    await session.handleMessage('spBv1.0/Plant1/NCMD/Gateway1', encodeCommand([{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }]));
    await session.handleMessage('spBv1.0/Plant1/NCMD/Gateway1', encodeCommand([{ name: 'Other', type: 'Boolean', value: true }]));
    expect(transport.sent).toHaveLength(0);
    await session.handleMessage('spBv1.0/Plant1/NCMD/Gateway1', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(errors.map((e) => e.message).join()).toMatch(/NCMD.*not a Sparkplug B payload/);
  });

  it('hands a DCMD to its device as samples, resolving aliases to names', async () => {
    const { session, transport, errors } = await online();
    const got: Sample[][] = [];
    const dev = session.addDevice('Press1', { onCommand: (samples) => got.push(samples) });
    dev.update([s('setpoint', 10), s('enable', false)]);
    const aliasOfEnable = transport.sent[1].metrics[1].alias!;
    await session.handleMessage(
      'spBv1.0/Plant1/DCMD/Gateway1/Press1',
      encodeCommand([
        { name: 'setpoint', type: 'Double', value: 12.5 },
        { alias: aliasOfEnable, type: 'Boolean', value: true },
      ]),
    );
    expect(got).toHaveLength(1);
    expect(got[0].map((x) => [x.tag, x.value, x.quality])).toEqual([
      ['setpoint', 12.5, 'good'],
      ['enable', true, 'good'],
    ]);
    await session.handleMessage('spBv1.0/Plant1/DCMD/Gateway1/Press1', encodeCommand([{ alias: 9999, type: 'Int32', value: 1 }]));
    expect(got).toHaveLength(1);
    expect(errors[0].message).toMatch(/alias 9999/);
    await session.handleMessage('spBv1.0/Plant1/DCMD/Gateway1/Nobody', encodeCommand([{ name: 'x', type: 'Int32', value: 1 }]));
    expect(got).toHaveLength(1);
  });

  it('converts 64-bit command values to numbers', async () => {
    const { session } = await online();
    const got: Sample[] = [];
    session.addDevice('D', { onCommand: (x) => got.push(...x) }).update([s('count', 1)]);
    await session.handleMessage('spBv1.0/Plant1/DCMD/Gateway1/D', encodeCommand([{ name: 'count', type: 'UInt64', value: 1234567890123 }]));
    expect(got[0].value).toBe(1234567890123);
  });
});

describe('deaths', () => {
  it('publishes DDEATH when a device is removed, and nothing when it was never born', async () => {
    const { transport, session } = await online();
    const a = session.addDevice('A');
    a.update([s('x', 1)]);
    await a.remove();
    const b = session.addDevice('B');
    await b.remove();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:A', 'DDEATH:A']);
    expect(transport.sent[2].seq).toBe(2);
    expect(() => a.update([s('x', 2)])).toThrow(InputError);
    // the id is free again (a redeployed node)
    expect(() => session.addDevice('A')).not.toThrow();
  });

  it('publishes DDEATH when every metric goes bad, and DBIRTH when the source answers again', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('a', 1), s('b', 2)]);
    expect(dev.update([s('a', null, { quality: 'bad' })]).outcome).toBe('DDATA');
    expect(transport.sent[2].metrics[0]).toMatchObject({ value: null, properties: { Quality: { type: 'Int32', value: 0 } } });
    expect(dev.update([s('a', 1, { quality: 'bad' }), s('b', 2, { quality: 'bad' })]).outcome).toBe('DDEATH');
    expect(dev.update([s('a', 1, { quality: 'bad' }), s('b', 2, { quality: 'bad' })]).outcome).toBe('unchanged');
    expect(dev.update([s('a', 3), s('b', 4)]).outcome).toBe('DBIRTH');
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DDATA:D', 'DDEATH:D', 'DBIRTH:D']);
    expect(transport.sent[4].metrics.map((m) => m.value)).toEqual([3, 4]);
  });

  it('publishes NDEATH with the session bdSeq before an intentional disconnect', async () => {
    const { transport, session, store } = setup();
    store.value = 9;
    session.nextWill();
    await session.connected();
    await session.stop();
    const last = transport.sent[transport.sent.length - 1];
    expect(last.type).toBe('NDEATH');
    expect(last.qos).toBe(1);
    expect(last.seq).toBeUndefined();
    expect(last.metrics[0]).toMatchObject({ name: 'bdSeq', value: 10 });
    expect(session.state).toBe('stopped');
  });
});

describe('store and forward', () => {
  it('buffers changes while offline and replays them with is_historical after the birth sequence', async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const { transport, session, clock } = setup({ buffer });
    session.nextWill();
    await session.connected();
    const dev = session.addDevice('D');
    dev.update([s('v', 1)]);
    session.connectionLost();
    expect(session.state).toBe('disconnected');
    for (let i = 2; i <= 4; i++) expect(dev.update([s('v', i, { ts: T0 + i * 1000 })]).outcome).toBe('buffered');
    expect(session.bufferedCount).toBe(3);
    transport.clear();
    clock.advance(60_000);
    session.nextWill();
    await session.connected();
    await session.idle();
    // The latest value (4) goes out in the DBIRTH with its timestamp; only the older ones are replayed.
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DDATA:D', 'DDATA:D']);
    expect(transport.sent[1].metrics[0]).toMatchObject({ name: 'v', value: 4, timestamp: T0 + 4000 });
    expect(transport.sent[0].metrics[0].value).toBe(1);
    const history = transport.sent.slice(2);
    expect(history.map((p) => p.metrics[0].value)).toEqual([2, 3]);
    expect(history.map((p) => p.metrics[0].timestamp)).toEqual([T0 + 2000, T0 + 3000]);
    expect(history.every((p) => p.metrics[0].isHistorical === true && p.metrics[0].name === undefined)).toBe(true);
    expect(transport.sent.map((p) => p.seq)).toEqual([0, 1, 2, 3]);
    expect(session.bufferedCount).toBe(0);
    // live data after the replay is not historical
    dev.update([s('v', 5)]);
    expect(transport.sent[4].metrics[0].isHistorical).toBeUndefined();
  });

  it('drops (and counts) offline data when buffering is off', async () => {
    const { session } = setup();
    const dev = session.addDevice('D');
    expect(dev.update([s('v', 1)]).outcome).toBe('dropped');
    expect(session.droppedRecords).toBe(1);
  });

  it('reads buffered records back through the shared queue in order, skipping a damaged item', async () => {
    const queue = new MemoryQueue();
    const b = new QueueHistoryBuffer(queue);
    await b.append({ device: 'D', metrics: [{ name: 'v', value: 1, quality: 'good', ts: 1 }] });
    await queue.append([{ topic: 'D', payload: Buffer.from('{not json'), qos: 0, retain: false, ts: 2 }]);
    await b.append({ device: 'E', metrics: [{ name: 'w', value: null, quality: 'bad', ts: 3 }] });
    const got = await b.peek(10);
    expect(got).toEqual([
      { device: 'D', metrics: [{ name: 'v', value: 1, quality: 'good', ts: 1 }] },
      { device: 'D', metrics: [] },
      { device: 'E', metrics: [{ name: 'w', value: null, quality: 'bad', ts: 3 }] },
    ]);
    expect(b.skipped).toBe(1);
    await b.drop(2);
    expect(b.size()).toBe(1);
    expect((await b.peek(10))[0].device).toBe('E');
  });
});

describe('a connection that stalls (data does not leave, the keepalive has not noticed yet)', () => {
  /** Values 1..n of metric v, one DDATA each, 1 s apart. */
  const feed = (dev: ReturnType<EdgeNodeSession['addDevice']>, from: number, to: number) => {
    const outcomes: string[] = [];
    for (let i = from; i <= to; i++) outcomes.push(dev.update([s('v', i, { ts: T0 + i * 1000 })]).outcome);
    return outcomes;
  };
  /** Every value of v that reached the broker, in order, with whether it came as historical. */
  const delivered = (t: FakeTransport) =>
    t.sent.filter((p) => p.type === 'DDATA').map((p) => ({ v: p.metrics[0].value, historical: p.metrics[0].isHistorical === true }));
  const extra = 300;

  it(`holds at most ${MAX_UNSENT_PUBLISHES} publishes; later values go to the buffer and are replayed as historical once it drains`, async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const backlog: boolean[] = [];
    const { transport, session, errors } = await online({ buffer, onBacklog: (b) => backlog.push(b) });
    const dev = session.addDevice('D');
    dev.update([s('v', 0)]);
    await flush();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D']);
    transport.stalled = true;
    const outcomes = feed(dev, 1, MAX_UNSENT_PUBLISHES + extra);
    expect(outcomes.filter((o) => o === 'DDATA')).toHaveLength(MAX_UNSENT_PUBLISHES);
    expect(outcomes.slice(MAX_UNSENT_PUBLISHES).every((o) => o === 'buffered')).toBe(true);
    expect(transport.held).toHaveLength(MAX_UNSENT_PUBLISHES);
    expect(session.unsentCount).toBe(MAX_UNSENT_PUBLISHES);
    expect(session.backedUp).toBe(true);
    expect(backlog).toEqual([true]);
    await flush();
    expect(session.bufferedCount).toBe(extra);

    transport.release();
    await flush();
    await session.idle();
    const got = delivered(transport);
    const last = MAX_UNSENT_PUBLISHES + extra;
    // Every value exactly once, in order: the first ones live, the kept ones as historical, and the
    // newest (the metric's current value, which no birth carried) live after them.
    expect(got.map((d) => d.v)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(got.slice(0, MAX_UNSENT_PUBLISHES).every((d) => !d.historical)).toBe(true);
    expect(got.slice(MAX_UNSENT_PUBLISHES, last - 1).every((d) => d.historical)).toBe(true);
    expect(got[last - 1]).toEqual({ v: last, historical: false });
    expect(session.bufferedCount).toBe(0);
    expect(session.unsentCount).toBe(0);
    expect(backlog).toEqual([true, false]);
    // Drained: live again.
    expect(dev.update([s('v', -1)]).outcome).toBe('DDATA');
    expect(errors).toEqual([]);
  });

  it('without a buffer drops (and counts) what the backed-up connection cannot take, instead of holding it', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('v', 0)]);
    await flush();
    transport.stalled = true;
    const outcomes = feed(dev, 1, MAX_UNSENT_PUBLISHES + extra);
    expect(outcomes.filter((o) => o === 'dropped')).toHaveLength(extra);
    expect(session.droppedRecords).toBe(extra);
    expect(transport.held).toHaveLength(MAX_UNSENT_PUBLISHES);
    // Once it drains, the current value (dropped while backed up) goes out live: the host is not left
    // with a stale one.
    transport.release();
    await flush();
    const after = delivered(transport);
    expect(after).toHaveLength(MAX_UNSENT_PUBLISHES + 1);
    expect(after[MAX_UNSENT_PUBLISHES]).toEqual({ v: MAX_UNSENT_PUBLISHES + extra, historical: false });
  });

  it('after the stalled connection is lost, the next one publishes live again and replays what was buffered', async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const { transport, session } = await online({ buffer });
    const dev = session.addDevice('D');
    dev.update([s('v', 0)]);
    await flush();
    transport.stalled = true;
    feed(dev, 1, MAX_UNSENT_PUBLISHES + 10);
    // The keepalive notices: the connection goes, with the publishes it held.
    transport.abandon();
    session.connectionLost();
    expect(session.unsentCount).toBe(0);
    feed(dev, MAX_UNSENT_PUBLISHES + 11, MAX_UNSENT_PUBLISHES + 20);
    await flush();
    transport.clear();
    session.nextWill();
    await session.connected();
    await session.idle();
    // The newest value rides in the DBIRTH. Replayed, in the order they were buffered: the 10 kept
    // while backed up, the 500 the lost connection never let leave (buffered when it was lost), the
    // 9 offline. Every value reaches the host, the late ones as historical with their own timestamps.
    expect(transport.types().slice(0, 2)).toEqual(['NBIRTH', 'DBIRTH:D']);
    expect(transport.sent[1].metrics[0].value).toBe(MAX_UNSENT_PUBLISHES + 20);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(delivered(transport).map((d) => d.v)).toEqual([
      ...range(MAX_UNSENT_PUBLISHES + 1, MAX_UNSENT_PUBLISHES + 10),
      ...range(1, MAX_UNSENT_PUBLISHES),
      ...range(MAX_UNSENT_PUBLISHES + 11, MAX_UNSENT_PUBLISHES + 19),
    ]);
    expect(delivered(transport).every((d) => d.historical)).toBe(true);
    expect(session.bufferedCount).toBe(0);
    expect(dev.update([s('v', -1)]).outcome).toBe('DDATA');
  });

  it('a DDATA the lost connection never let leave is buffered as it was sent (value and timestamp)', async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const { transport, session } = await online({ buffer });
    const dev = session.addDevice('D');
    dev.update([s('v', 1, { ts: T0 + 1000 })]);
    await flush();
    transport.stalled = true;
    expect(dev.update([s('v', 5, { ts: T0 + 2000 })]).outcome).toBe('DDATA');
    // The same value again: no DDATA, the metric's time moves on.
    expect(dev.update([s('v', 5, { ts: T0 + 3000 })]).outcome).toBe('unchanged');
    transport.abandon();
    session.connectionLost();
    await flush();
    expect(session.bufferedCount).toBe(1);
    transport.clear();
    session.nextWill();
    await session.connected();
    await session.idle();
    // The birth has the current value (5 at 3000); the DDATA that never left comes as historical, at 2000.
    expect(transport.sent[1].metrics[0]).toMatchObject({ value: 5, timestamp: T0 + 3000 });
    expect(delivered(transport)).toEqual([{ v: 5, historical: true }]);
    expect(transport.sent[2].metrics[0].timestamp).toBe(T0 + 2000);
  });

  it('a replay whose publish never leaves (the connection stalled, then was lost) resumes in the next session', async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const { transport, session } = await online({ buffer });
    const dev = session.addDevice('D');
    dev.update([s('v', 0)]);
    session.connectionLost();
    feed(dev, 1, 5);
    await flush();
    // The next session stalls during its replay.
    transport.stalled = true;
    session.nextWill();
    await session.connected();
    await flush();
    expect(transport.held.map((h) => h.published.type)).toEqual(['NBIRTH', 'DBIRTH', 'DDATA']);
    transport.abandon();
    session.connectionLost();
    transport.clear();
    session.nextWill();
    await session.connected();
    // Bounded: a replay still waiting for the lost publish would never end.
    await Promise.race([session.idle(), new Promise((r) => setTimeout(r, 2000))]);
    expect(session.bufferedCount).toBe(0);
    expect(delivered(transport).map((d) => d.v)).toEqual([1, 2, 3, 4]);
  });
});

describe('primary host STATE', () => {
  const state = (online: boolean, timestamp: number) => Buffer.from(JSON.stringify({ online, timestamp }));

  it('waits for online=true before the birth, re-births when the host comes online again, ignores stale STATE', async () => {
    const { transport, session } = setup({ primaryHostId: 'SCADA', buffer: new QueueHistoryBuffer(new MemoryQueue()) });
    session.nextWill();
    await session.connected();
    expect(transport.subscriptions).toContain('spBv1.0/STATE/SCADA');
    expect(session.state).toBe('waiting-host');
    const dev = session.addDevice('D');
    expect(dev.update([s('v', 1)]).outcome).toBe('buffered');
    expect(dev.update([s('v', 2, { ts: T0 + 1 })]).outcome).toBe('buffered');
    await session.handleMessage('spBv1.0/STATE/SCADA', state(false, 100));
    expect(transport.sent).toHaveLength(0);
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 200));
    await session.idle();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DDATA:D']);
    expect(transport.sent[1].metrics[0].value).toBe(2);
    expect(transport.sent[2].metrics[0]).toMatchObject({ value: 1, isHistorical: true });
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 150));
    expect(transport.sent).toHaveLength(3);
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 300));
    expect(transport.types().slice(3)).toEqual(['NBIRTH', 'DBIRTH:D']);
    // The same STATE again (a retained copy and the live one, or a burst of them): no more births.
    for (let i = 0; i < 20; i++) await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 300));
    expect(transport.types().slice(3)).toEqual(['NBIRTH', 'DBIRTH:D']);
  });

  it('on online=false while born: NDEATH, then a new MQTT session', async () => {
    const { transport, session } = setup({ primaryHostId: 'SCADA' });
    session.nextWill();
    await session.connected();
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 1));
    await session.handleMessage('spBv1.0/STATE/SCADA', state(false, 2));
    expect(transport.types()).toEqual(['NBIRTH', 'NDEATH']);
    expect(transport.restarts).toBe(1);
    expect(session.state).toBe('disconnected');
  });

  it('on online=false: nothing after the NDEATH; data that comes while it is acknowledged is kept and replayed as historical', async () => {
    /** A broker slow to acknowledge QoS 1 (the NDEATH): each such publish waits for acknowledge(). */
    class SlowAckTransport extends FakeTransport {
      private waiting: Array<() => void> = [];
      override async publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void> {
        await super.publish(topic, payload, qos);
        if (qos === 1) await new Promise<void>((r) => this.waiting.push(r));
      }
      acknowledge(): void {
        for (const r of this.waiting.splice(0)) r();
      }
    }
    const { transport, session } = setup({ primaryHostId: 'SCADA', buffer: new QueueHistoryBuffer(new MemoryQueue()) }, new SlowAckTransport());
    session.nextWill();
    await session.connected();
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 1));
    const dev = session.addDevice('D');
    expect(dev.update([s('v', 1)]).outcome).toBe('DBIRTH');
    const offline = session.handleMessage('spBv1.0/STATE/SCADA', state(false, 2));
    await flush();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'NDEATH']);
    // The NDEATH is out, its PUBACK not yet in: a value now must not follow it as live DDATA.
    expect(dev.update([s('v', 2, { ts: T0 + 1 })]).outcome).toBe('buffered');
    expect(dev.update([s('v', 3, { ts: T0 + 2 })]).outcome).toBe('buffered');
    transport.acknowledge();
    await offline;
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'NDEATH']);
    expect(session.state).toBe('disconnected');
    // The next session, once the host is back: the newest value in the DBIRTH, the one before it
    // replayed as historical.
    session.nextWill();
    await session.connected();
    await session.handleMessage('spBv1.0/STATE/SCADA', state(true, 3));
    await session.idle();
    expect(transport.types().slice(3)).toEqual(['NBIRTH', 'DBIRTH:D', 'DDATA:D']);
    expect(transport.sent[4].metrics[0]).toMatchObject({ name: 'v', value: 3 });
    expect(transport.sent[5].metrics[0]).toMatchObject({ value: 2, isHistorical: true });
  });

  it('reports a STATE that is not the 3.0 JSON form and keeps waiting', async () => {
    const { transport, session, errors } = setup({ primaryHostId: 'SCADA' });
    session.nextWill();
    await session.connected();
    await session.handleMessage('spBv1.0/STATE/SCADA', Buffer.from('ONLINE'));
    await session.handleMessage('spBv1.0/STATE/SCADA', Buffer.from('{"timestamp":1}'));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/not JSON/), expect.stringMatching(/no boolean "online"/)]);
    expect(transport.sent).toHaveLength(0);
    expect(session.state).toBe('waiting-host');
  });
});

describe('bad input and settings', () => {
  it.each([
    ['junk text on a Double metric', 'abc', /"v" is Double: "abc" is not a number/],
    ['NaN', NaN, /not a finite number/],
    ['Infinity', Infinity, /not a finite number/],
    ['an object', { a: 1 } as unknown as Sample['value'], /not a number/],
  ])('refuses %s with an InputError and changes nothing', async (_label, value, pattern) => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('v', 1), s('w', 1)]);
    transport.clear();
    let err: unknown;
    try {
      dev.update([s('w', 2), s('v', value)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect(String((err as Error).message)).toMatch(pattern);
    expect(transport.sent).toHaveLength(0);
    dev.update([s('w', 3)]);
    expect(transport.sent[0].metrics[0].value).toBe(3);
  });

  it('accepts a numeric string for a Double metric and refuses a bool for a String-less number', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('v', 1)]);
    dev.update([s('v', '2.5')]);
    expect(transport.sent[2].metrics[0].value).toBe(2.5);
    expect(() => dev.update([s('v', true)])).toThrow(/not a number/);
  });

  it('refuses a batch that would give a device more metrics than the limit, and reserved names', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    const huge = Array.from({ length: MAX_DEVICE_METRICS + 1 }, (_, i) => s(`t${i}`, i));
    expect(() => dev.update(huge)).toThrow(/limit is 10000/);
    expect(() => dev.update([s('bdSeq', 1)])).toThrow(/reserved/);
    expect(() => dev.update([s('Node Control/Rebirth', true)])).toThrow(/reserved/);
    expect(transport.types()).toEqual(['NBIRTH']);
    expect(dev.metricCount).toBe(0);
  });

  it('a new metric named twice in one batch is one metric: counted once against the limit, typed by its first value', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    const full = Array.from({ length: MAX_DEVICE_METRICS - 1 }, (_, i) => s(`t${i}`, i));
    dev.update([...full, s('x', 1), s('x', 2)]);
    expect(dev.metricCount).toBe(MAX_DEVICE_METRICS);
    const birth = transport.sent[transport.sent.length - 1];
    expect(birth.type).toBe('DBIRTH');
    expect(birth.metrics.filter((m) => m.name === 'x').map((m) => m.value)).toEqual([2]);
    // Typed by its first value: a text after a number in the same batch is refused, nothing changes.
    const other = session.addDevice('E');
    expect(() => other.update([s('y', 1), s('y', 'text')])).toThrow(/not a number/);
    expect(other.metricCount).toBe(0);
  });

  it('a metric whose first reading is bad or null is typed by its first value: the device is born again, the batch is not refused', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    // The PLC does not answer at start: every tag bad, without a value.
    dev.update([s('coil', null, { quality: 'bad' }), s('text', null), s('temp', null, { quality: 'bad' })]);
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D']);
    expect(dev.describe().map((m) => m.datatype)).toEqual(['Double', 'Double', 'Double']);
    const aliases = dev.describe().map((m) => m.alias);
    // It answers: a Boolean, a String and a number. Nothing refused; a new DBIRTH carries the types.
    dev.update([s('coil', true), s('text', 'abc'), s('temp', 21.5)]);
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D']);
    expect(dev.describe()).toEqual([
      { name: 'coil', datatype: 'Boolean', alias: aliases[0] },
      { name: 'text', datatype: 'String', alias: aliases[1] },
      { name: 'temp', datatype: 'Double', alias: aliases[2] },
    ]);
    const birth = transport.sent[2];
    expect(birth.metrics.filter((m) => m.name !== 'bdSeq').map((m) => [m.name, m.type, m.value])).toEqual([['coil', 'Boolean', true], ['text', 'String', 'abc'], ['temp', 'Double', 21.5]]);
    // Typed now: a number on the Boolean metric is refused as before; a numeric first value was Double already (no rebirth).
    expect(() => dev.update([s('coil', 'not a bool')])).toThrow(InputError);
    dev.update([s('temp', 22)]);
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DDATA:D']);
    // In one batch too: a new tag first without a value, then with one, takes that value's type.
    const other = session.addDevice('E');
    other.update([s('flag', null, { quality: 'bad' }), s('flag', false, { ts: T0 + 1 })]);
    expect(other.describe().map((m) => [m.name, m.datatype])).toEqual([['flag', 'Boolean']]);
    expect(transport.sent[transport.sent.length - 1].metrics.filter((m) => m.name === 'flag').map((m) => [m.type, m.value])).toEqual([['Boolean', false]]);
  });

  it('refuses missing or malformed ids', () => {
    const base = { transport: new FakeTransport(), bdSeqStore: new MemoryBdSeqStore() };
    expect(() => new EdgeNodeSession({ ...base, groupId: '', edgeNodeId: 'x' })).toThrow(ConfigError);
    expect(() => new EdgeNodeSession({ ...base, groupId: 'a/b', edgeNodeId: 'x' })).toThrow(/must not contain/);
    expect(() => new EdgeNodeSession({ ...base, groupId: 'a', edgeNodeId: 'x#' })).toThrow(/must not contain/);
    const ok = new EdgeNodeSession({ ...base, groupId: 'a', edgeNodeId: 'x' });
    expect(() => ok.addDevice('+')).toThrow(ConfigError);
    ok.addDevice('d1');
    expect(() => ok.addDevice('d1')).toThrow(/already used/);
  });

  it('reports a failed publish through onError and keeps going', async () => {
    const { transport, session, errors } = await online();
    const dev = session.addDevice('D');
    transport.failNext = new Error('socket closed');
    const r = dev.update([s('v', 1)]);
    await expect(r.sent).rejects.toThrow('socket closed');
    await flush();
    expect(errors[0].message).toMatch(/DBIRTH D: socket closed/);
    dev.update([s('v', 2)]);
    expect(transport.sent.map((p) => p.type)).toEqual(['NBIRTH', 'DDATA']);
  });
});
