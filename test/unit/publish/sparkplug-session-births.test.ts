/**
 * How often the session births: one birth sequence per NCMD rebirth however it is repeated, and
 * one DBIRTH for metrics that appear one per message in a turn, without losing or reordering data.
 */
import type { Sample } from '../../../nodes/shared/sample';
import { EdgeNodeSession, type EdgeSessionOptions } from '../../../nodes/publish/sparkplug-session';
import { MemoryQueue } from '../../../nodes/publish/queue';
import { QueueHistoryBuffer } from '../../../nodes/publish/sparkplug-buffer';
import { encodeCommand, fakeClock, FakeTransport, flush, MemoryBdSeqStore, type Published } from './sparkplug-fakes';

const T0 = 1_700_000_000_000;
const NCMD = 'spBv1.0/Plant1/NCMD/Gateway1';
const REBIRTH = { name: 'Node Control/Rebirth', type: 'Boolean', value: true };

async function online(extra: Partial<EdgeSessionOptions> = {}) {
  const transport = new FakeTransport();
  const errors: Error[] = [];
  const session = new EdgeNodeSession({
    groupId: 'Plant1',
    edgeNodeId: 'Gateway1',
    transport,
    bdSeqStore: new MemoryBdSeqStore(),
    now: fakeClock(T0).now,
    onError: (e) => errors.push(e),
    ...extra,
  });
  session.nextWill();
  await session.connected();
  return { transport, session, errors };
}

const s = (tag: string, value: Sample['value'], extra: Partial<Sample> = {}): Sample => ({ tag, value, quality: 'good', ts: T0, ...extra });

/** Every value the host can read for `name`, in arrival order, resolving DDATA aliases through the births. */
function valuesOf(sent: Published[], name: string): unknown[] {
  const out: unknown[] = [];
  let alias: number | undefined;
  for (const p of sent) {
    for (const m of p.metrics) {
      if (p.type === 'DBIRTH' && m.name === name) {
        alias = m.alias;
        out.push(m.value);
      } else if (p.type === 'DDATA' && alias !== undefined && m.alias === alias) out.push(m.value);
    }
  }
  return out;
}

describe('NCMD rebirth coalescing', () => {
  it('answers one NCMD that repeats Node Control/Rebirth 50 times with one NBIRTH and one DBIRTH per device', async () => {
    const { transport, session } = await online();
    session.addDevice('A').update([s('x', 1)]);
    session.addDevice('B').update([s('y', 2)]);
    await flush();
    transport.clear();
    await session.handleMessage(NCMD, encodeCommand(Array.from({ length: 50 }, () => REBIRTH)));
    await flush();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:A', 'DBIRTH:B']);
    expect(transport.sent.map((p) => p.seq)).toEqual([0, 1, 2]);
    expect(transport.sent[0].metrics[0]).toMatchObject({ name: 'bdSeq', value: 0 });
  });

  it('answers rebirth requests of one turn with one birth sequence, and a request of a later turn with another', async () => {
    const { transport, session } = await online();
    session.addDevice('A').update([s('x', 1)]);
    await flush();
    transport.clear();
    for (let i = 0; i < 20; i++) await session.handleMessage(NCMD, encodeCommand([REBIRTH]));
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:A']);
    await flush();
    await session.handleMessage(NCMD, encodeCommand([REBIRTH]));
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:A', 'NBIRTH', 'DBIRTH:A']);
    expect(transport.sent.map((p) => p.seq)).toEqual([0, 1, 0, 1]);
  });

  it('answers a rebirth request on a new MQTT session even in the same turn as the last one', async () => {
    const { transport, session } = await online();
    await session.handleMessage(NCMD, encodeCommand([REBIRTH]));
    session.connectionLost();
    session.nextWill();
    await session.connected();
    transport.clear();
    await session.handleMessage(NCMD, encodeCommand([REBIRTH]));
    expect(transport.sent.map((p) => [p.type, p.metrics[0].value])).toEqual([['NBIRTH', 1]]);
  });
});

describe('new metrics arriving one per message', () => {
  it('births 500 metrics sent one per message in one turn with a bounded number of DBIRTHs, before their data, losing nothing', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    const N = 500;
    const results = [];
    for (let i = 0; i < N; i++) results.push(dev.update([s(`reg${i}`, i)]));
    expect(results.every((r) => r.outcome === 'DBIRTH')).toBe(true);
    await Promise.all(results.map((r) => r.sent));
    // The first birth and the first rebirth go out at once; everything after them waits for one
    // DBIRTH at the end of the turn (before the fix: one DBIRTH per message, 500 of growing size).
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DBIRTH:D']);
    const last = transport.sent[3];
    expect(last.metrics.map((m) => [m.name, m.value])).toEqual(Array.from({ length: N }, (_, i) => [`reg${i}`, i]));
    expect(transport.sent.map((p) => p.seq)).toEqual([0, 1, 2, 3]);

    // The next poll: DDATA by alias, for metrics every host has seen in a birth.
    for (let i = 0; i < N; i++) expect(dev.update([s(`reg${i}`, i + 1000)]).outcome).toBe('DDATA');
    for (const name of ['reg0', 'reg1', 'reg250', `reg${N - 1}`]) {
      const i = Number(name.slice(3));
      expect(valuesOf(transport.sent, name).slice(-1)).toEqual([i + 1000]);
    }
  });

  it('gives a device born in an earlier turn one immediate and one end-of-turn DBIRTH for a burst of new metrics', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('a', 0)]);
    await flush();
    await flush();
    transport.clear();
    for (let i = 0; i < 100; i++) dev.update([s(`t${i}`, i)]);
    expect(transport.types()).toEqual(['DBIRTH:D']);
    await flush();
    expect(transport.types()).toEqual(['DBIRTH:D', 'DBIRTH:D']);
    expect(transport.sent[1].metrics).toHaveLength(101);
    // A burst in the turn of that end-of-turn DBIRTH waits for the turn after it.
    dev.update([s('late', 1)]);
    expect(transport.sent).toHaveLength(2);
    await flush();
    expect(transport.types()).toEqual(['DBIRTH:D', 'DBIRTH:D', 'DBIRTH:D']);
    expect(transport.sent[2].metrics.map((m) => m.name)).toContain('late');
  });

  it('sends the waiting DBIRTH first when one of its values changes again in the same turn, so every value arrives in order', async () => {
    const { transport, session } = await online();
    const dev = session.addDevice('D');
    dev.update([s('a', 1)]);
    dev.update([s('b', 1)]); // the immediate rebirth of this turn
    dev.update([s('c', 1)]); // waits for the end of the turn
    dev.update([s('d', 1), s('a', 2)]); // waits too, and a=2 rides in that DBIRTH
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D']);
    expect(dev.update([s('b', 2)]).outcome).toBe('DDATA'); // b is born: no need to wait
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DDATA:D']);
    // c=1 only exists in the waiting DBIRTH: that goes out before c=2 replaces it.
    expect(dev.update([s('c', 2)]).outcome).toBe('DDATA');
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DDATA:D', 'DBIRTH:D', 'DDATA:D']);
    expect(dev.update([s('a', 3)]).outcome).toBe('DDATA');
    await flush();
    expect(transport.sent).toHaveLength(7);
    expect(valuesOf(transport.sent, 'a')).toEqual([1, 1, 2, 3]);
    expect(valuesOf(transport.sent, 'b')).toEqual([1, 2, 2]);
    expect(valuesOf(transport.sent, 'c')).toEqual([1, 2]);
    expect(valuesOf(transport.sent, 'd')).toEqual([1]);
    const seqs = transport.sent.map((p) => p.seq);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('announces metrics of a waiting DBIRTH before a DDEATH, a removal and an NDEATH on stop', async () => {
    const bad = await online();
    const d1 = bad.session.addDevice('D');
    d1.update([s('a', 1)]);
    d1.update([s('b', 1)]);
    d1.update([s('c', null, { quality: 'bad' })]);
    expect(d1.update([s('a', null, { quality: 'bad' }), s('b', null, { quality: 'bad' })]).outcome).toBe('DDEATH');
    expect(bad.transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DBIRTH:D', 'DDEATH:D']);
    expect(bad.transport.sent[3].metrics.map((m) => m.name)).toEqual(['a', 'b', 'c']);

    const rm = await online();
    const d2 = rm.session.addDevice('D');
    d2.update([s('a', 1)]);
    d2.update([s('b', 1)]);
    const waiting = d2.update([s('c', 1)]);
    await d2.remove();
    await waiting.sent;
    expect(rm.transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DBIRTH:D', 'DDEATH:D']);
    await flush();
    expect(rm.transport.sent).toHaveLength(5);

    const st = await online();
    const d3 = st.session.addDevice('D');
    d3.update([s('a', 1)]);
    d3.update([s('b', 1)]);
    d3.update([s('c', 1)]);
    await st.session.stop();
    await flush();
    expect(st.transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D', 'DBIRTH:D', 'NDEATH']);
  });

  it('keeps values of a waiting DBIRTH for replay when the connection drops, and settles their promise', async () => {
    const buffer = new QueueHistoryBuffer(new MemoryQueue());
    const { transport, session } = await online({ buffer });
    const dev = session.addDevice('D');
    dev.update([s('a', 1)]);
    dev.update([s('b', 1)]);
    const waiting = dev.update([s('c', 1, { ts: T0 + 1 })]);
    session.connectionLost();
    await waiting.sent;
    await flush();
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DBIRTH:D']);
    expect(session.bufferedCount).toBe(1);
    expect(dev.update([s('c', 2, { ts: T0 + 2 })]).outcome).toBe('buffered');
    transport.clear();
    session.nextWill();
    await session.connected();
    await session.idle();
    // c=2 (latest) in the DBIRTH, c=1 replayed as historical: nothing lost.
    expect(transport.types()).toEqual(['NBIRTH', 'DBIRTH:D', 'DDATA:D']);
    expect(transport.sent[1].metrics.find((m) => m.name === 'c')).toMatchObject({ value: 2 });
    expect(transport.sent[2].metrics).toEqual([expect.objectContaining({ value: 1, timestamp: T0 + 1, isHistorical: true })]);
  });

  it('resolves the promise of a waiting DBIRTH once it is sent, and rejects it when the publish fails', async () => {
    const { transport, session, errors } = await online();
    const dev = session.addDevice('D');
    dev.update([s('a', 1)]);
    dev.update([s('b', 1)]);
    const r = dev.update([s('c', 1)]);
    expect(r.outcome).toBe('DBIRTH');
    let settled = false;
    void r.sent!.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await r.sent;
    expect(transport.types().slice(-1)).toEqual(['DBIRTH:D']);

    await flush();
    await flush();
    dev.update([s('d', 1)]);
    transport.failNext = new Error('socket closed');
    const f = dev.update([s('e', 1)]);
    await expect(f.sent).rejects.toThrow('socket closed');
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/DBIRTH D: socket closed/)]);
  });
});

describe('a publish that fails during a birth', () => {
  it('is reported through onError and leaves no unhandled rejection (Node would end the process)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { transport, session, errors } = await online();
      session.addDevice('A').update([s('x', 1)]);
      await flush();
      // The NBIRTH of a rebirth fails (the client went down under it); the DBIRTH after it goes out.
      transport.failNext = new Error('client disconnecting');
      await session.handleMessage(NCMD, encodeCommand([REBIRTH]));
      await flush();
      await new Promise((r) => setTimeout(r, 20));
      expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/NBIRTH Gateway1: client disconnecting/)]);
      expect(transport.types()).toContain('DBIRTH:A');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
