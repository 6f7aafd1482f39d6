/**
 * The Modbus nodes together in one flow: a plantwire-modbus-server on a free port, a connection to
 * it, read and write nodes. Values go over real TCP through the engine's session and codec.
 */
import { helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode, type Msg, type TestNode } from '../../helpers/red';
import { freePort, lastStatus, statusesOf, until, withParams } from './ports';
import connectionNode = require('../../../nodes/modbus/modbus-connection');
import readNode = require('../../../nodes/modbus/modbus-read');
import writeNode = require('../../../nodes/modbus/modbus-write');
import serverNode = require('../../../nodes/modbus/modbus-server');

const nodes = [connectionNode, readNode, writeNode, withParams(serverNode)];
const get = (id: string): TestNode => helper.getNode(id);

/** Constants of every type and area the codec knows, as the server's signal table holds them. */
const signals = [
  { name: 'run', area: 'coil', address: 0, type: 'bool', signal: 'constant', value: 'true' },
  { name: 'door', area: 'discrete', address: 3, type: 'bool', signal: 'constant', value: 'true' },
  { name: 'i16', area: 'holding', address: 0, type: 'int16', signal: 'constant', value: '-1234' },
  { name: 'u16', area: 'holding', address: 1, type: 'uint16', signal: 'constant', value: '54321' },
  { name: 'i32', area: 'holding', address: 2, type: 'int32', signal: 'constant', value: '-70000' },
  { name: 'u32cdab', area: 'holding', address: 4, type: 'uint32', order: 'CDAB', signal: 'constant', value: '3000000000' },
  { name: 'f32', area: 'holding', address: 6, type: 'float32', signal: 'constant', value: '21.5' },
  { name: 'i64', area: 'holding', address: 8, type: 'int64', signal: 'constant', value: '-9007199254740991' },
  { name: 'u64', area: 'holding', address: 12, type: 'uint64', order: 'HGFEDCBA', signal: 'constant', value: '123456789012' },
  { name: 'f64', area: 'holding', address: 16, type: 'float64', signal: 'constant', value: '-0.000123' },
  { name: 'text', area: 'holding', address: 20, type: 'string', length: 4, signal: 'constant', value: 'PW-7' },
  { name: 'pressure', area: 'input', address: 0, type: 'int16', scale: 0.1, signal: 'constant', value: '4.2' },
  { name: 'flags', area: 'holding', address: 30, type: 'uint16', signal: 'constant', value: '5' },
  { name: 'c1', area: 'coil', address: 10, type: 'bool', signal: 'constant', value: 'false' },
  { name: 'c2', area: 'coil', address: 11, type: 'bool', signal: 'constant', value: 'false' },
];

/** The read node's view of the same map (the string's length and the scaled unit given). */
const tags = [
  ...signals.map(({ name, area, address, type, order, length, scale }: Record<string, unknown>) => ({ name, area, address, type, order, length, scale })),
  { name: 'flag0', area: 'holding', address: 30, type: 'bool', bit: 0 },
  { name: 'flag1', area: 'holding', address: 30, type: 'bool', bit: 1 },
].map((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)));
(tags.find((t) => t.name === 'pressure') as Record<string, unknown>).unit = 'bar';

const expected = {
  run: true,
  door: true,
  i16: -1234,
  u16: 54321,
  i32: -70000,
  u32cdab: 3000000000,
  f32: 21.5,
  i64: -9007199254740991,
  u64: 123456789012,
  f64: -0.000123,
  text: 'PW-7',
  pressure: 4.2,
  flags: 5,
  c1: false,
  c2: false,
  flag0: true,
  flag1: false,
};

function flow(port: number, over: { read?: Partial<FlowNode>; write?: Partial<FlowNode>; conn?: Partial<FlowNode> } = {}): FlowNode[] {
  return [
    { id: 'srv', type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: [['written']] },
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 500, maxGap: 10, ...over.conn },
    { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 0, output: 'batch', tags, wires: [['out']], ...over.read },
    { id: 'write', type: 'plantwire-modbus-write', connection: 'conn', unitId: 1, tags: tags.filter((t) => t.area === 'holding' || t.area === 'coil'), wires: [['wrote']], ...over.write },
    { id: 'out', type: 'helper' },
    { id: 'wrote', type: 'helper' },
    { id: 'written', type: 'helper' },
  ];
}

function statusTexts(node: TestNode): string[] {
  return statusesOf(node).map((st) => String(st.text));
}

async function serverUp(): Promise<void> {
  await until(() => statusTexts(get('srv')).some((t) => t.startsWith('listening')), 'the server to listen');
}

/** Triggers the read node and returns its batch. */
async function readBatch(): Promise<Msg> {
  const got = nextMessages(get('out'));
  get('read').receive({ topic: 'now' });
  return (await got)[0];
}

/** Sends one message to the write node and resolves when it passed the message on. */
async function write(msg: Msg): Promise<Msg> {
  const got = nextMessages(get('wrote'));
  get('write').receive(msg);
  return (await got)[0];
}

describe('plantwire-modbus-read and -write against plantwire-modbus-server', () => {
  let port: number;
  beforeEach(async () => {
    port = await freePort();
    await startServer();
  });
  afterEach(stop);

  it('reads every type and area correctly as one batch', async () => {
    await load(nodes, flow(port));
    await serverUp();
    const msg = await readBatch();
    expect(Object.keys(msg.payload).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) {
      if (typeof v === 'number' && !Number.isInteger(v)) expect(msg.payload[k]).toBeCloseTo(v, 10);
      else expect(msg.payload[k]).toEqual(v);
    }
    expect(Object.values(msg.quality).every((q) => q === 'good')).toBe(true);
    expect(msg.units).toEqual({ pressure: 'bar' });
    expect(typeof msg.timestamp).toBe('number');
    expect(msg.topic).toBe('now');
  });

  it('emits one message per tag in single form', async () => {
    await load(nodes, flow(port, { read: { output: 'single' } }));
    await serverUp();
    const got = nextMessages(get('out'), tags.length);
    // The input's payload is replaced in every message: it is not copied for each tag (a large
    // one copied per tag held the event loop); the user's other properties are, one copy each.
    let payloadReads = 0;
    const payload = {
      get big() {
        payloadReads++;
        return 'x';
      },
    };
    get('read').receive({ payload, keep: 'me', nested: { a: 1 } });
    const msgs = await got;
    expect(payloadReads).toBe(0);
    expect(msgs.map((m) => m.topic)).toEqual(tags.map((t) => t.name));
    expect(msgs.every((m) => m.nested?.a === 1)).toBe(true);
    expect(new Set(msgs.map((m) => m.nested)).size).toBe(msgs.length);
    const pressure = msgs.find((m) => m.topic === 'pressure') as Msg;
    expect(pressure).toMatchObject({ quality: 'good', unit: 'bar', keep: 'me' });
    expect(pressure.payload).toBeCloseTo(4.2, 10);
    expect(msgs.find((m) => m.topic === 'u32cdab')?.payload).toBe(3000000000);
    expect(new Set(msgs.map((m) => m._msgid)).size).toBe(1);
  });

  it('polls on its own at the interval and says how many tags are ok', async () => {
    await load(nodes, flow(port, { read: { interval: 50 } }));
    await serverUp();
    const msgs = await nextMessages(get('out'), 3);
    expect(msgs.every((m) => m.payload.i16 === -1234)).toBe(true);
    await until(() => statusTexts(get('read')).includes(`ok ${tags.length}`), 'the ok status');
    expect(lastStatus(get('read'))).toMatchObject({ fill: 'green', shape: 'dot' });
  });

  it('gives every on-demand batch objects of its own, keys in tag order, made ahead or not', async () => {
    await load(nodes, flow(port));
    await serverUp();
    const names = tags.map((t) => t.name as string);
    const batches: Msg[] = [];
    for (let i = 0; i < 4; i++) batches.push(await readBatch());
    // Mutating one batch downstream must not show in the next (the objects made ahead are never reused).
    batches[1].payload.i16 = 'changed';
    batches[1].quality.i16 = 'bad';
    batches.push(await readBatch());
    for (const [i, msg] of batches.entries()) {
      expect(Object.keys(msg.payload)).toEqual(names);
      expect(Object.keys(msg.quality)).toEqual(names);
      if (i === 1) continue;
      expect(msg.payload.i16).toBe(-1234);
      expect(msg.payload.text).toBe('PW-7');
      expect(Object.values(msg.quality).every((q) => q === 'good')).toBe(true);
      expect(msg.units).toEqual({ pressure: 'bar' });
    }
    for (let i = 1; i < batches.length; i++) {
      expect(batches[i].payload).not.toBe(batches[i - 1].payload);
      expect(batches[i].quality).not.toBe(batches[i - 1].quality);
    }
  });

  it('marks every tag of a failed on-demand read bad, in objects made ahead too', async () => {
    await load(nodes, flow(port, { read: { unitId: 7 }, conn: { timeout: 100 } }));
    await serverUp();
    for (let i = 0; i < 3; i++) {
      const got = nextMessages(get('out'), 1, 5000);
      get('read').receive({ topic: 'now' });
      const [msg] = await got;
      expect(Object.keys(msg.quality)).toEqual(tags.map((t) => t.name));
      expect(Object.values(msg.quality).every((q) => q === 'bad')).toBe(true);
      expect(Object.values(msg.payload).every((v) => v === null)).toBe(true);
    }
  });

  it('with interval 0 reads only when a message arrives', async () => {
    await load(nodes, flow(port));
    await serverUp();
    const received: Msg[] = [];
    get('out').on('input', (m: Msg) => received.push(m));
    await sleep(300);
    expect(received).toHaveLength(0);
    await readBatch();
    expect(received).toHaveLength(1);
  });

  it('writes with FC6, FC16, FC5, FC15 and bit read-modify-write, and the values read back', async () => {
    await load(nodes, flow(port));
    await serverUp();
    await write({ topic: 'i16', payload: -32768 }); // FC6
    await write({ topic: 'f32', payload: -1.25 }); // FC16
    await write({ topic: 'text', payload: 'OK' }); // FC16, NULs after
    await write({ topic: 'run', payload: false }); // FC5
    await write({ payload: { c1: true, c2: true } }); // FC15: adjacent coils in one request
    await write({ topic: 'flag1', payload: true }); // FC3 + FC6 on register 30, bit 1
    await write({ payload: { i64: 9007199254740991, u64: 18446744073709, u32cdab: 1, f64: 1e300, u16: 65535 } });
    const msg = await readBatch();
    expect(msg.payload).toMatchObject({
      i16: -32768,
      f32: -1.25,
      text: 'OK',
      run: false,
      c1: true,
      c2: true,
      flags: 7,
      flag0: true,
      flag1: true,
      i64: 9007199254740991,
      u64: 18446744073709,
      u32cdab: 1,
      f64: 1e300,
      u16: 65535,
    });
  });

  it('passes the message on only after the device acknowledged, and the server emits the writes', async () => {
    await load(nodes, flow(port));
    await serverUp();
    const seen = nextMessages(get('written'), 2);
    const out = await write({ payload: { c1: true, c2: false }, extra: 1 });
    expect(out).toMatchObject({ payload: { c1: true, c2: false }, extra: 1 });
    const writes = await seen;
    expect(writes.map((m) => [m.topic, m.payload])).toEqual([
      ['c1', true],
      ['c2', false],
    ]);
  });

  it.each([
    [{ topic: 'i16', payload: 70000 }, /outside the range of int16/],
    [{ topic: 'u16', payload: -1 }, /outside the range of uint16/],
    [{ topic: 'i16', payload: NaN }, /finite number/],
    [{ topic: 'i16', payload: Infinity }, /finite number/],
    [{ topic: 'i16', payload: '12' }, /needs a number, not a string/],
    [{ topic: 'i16', payload: null }, /not null/],
    [{ topic: 'i16', payload: [1, 2] }, /not an array/],
    [{ topic: 'i16' }, /payload is missing/],
    [{ topic: 'run', payload: 2 }, /true, false, 1 or 0/],
    [{ topic: 'text', payload: 'x'.repeat(1_000_000) }, /has 1000000 characters, the tag holds 8/],
    [{ topic: 'nope', payload: 1 }, /unknown tag "nope"/],
    [{ payload: 5 }, /msg.topic must name the tag/],
    [{ payload: {} }, /empty object/],
    [{ payload: { i16: 1, ghost: 2 } }, /unknown tag "ghost"/],
    [{ payload: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`t${i}`, i])) }, /20000 tags/],
    [{ payload: { i16: 5, u16: 70000 } }, /outside the range of uint16/],
  ])('refuses bad input %# through done(err), writes nothing, and keeps running', async (bad, pattern) => {
    await load(nodes, flow(port));
    await serverUp();
    const w = get('write');
    const err = nextError(w);
    w.receive(bad);
    expect(String((await err).error)).toMatch(pattern);
    const before = await readBatch();
    expect(before.payload.i16).toBe(-1234);
    await write({ topic: 'i16', payload: 42 });
    expect((await readBatch()).payload.i16).toBe(42);
  });

  it('reports bad settings with a red status and one clear error', async () => {
    const bad: [unknown[], RegExp][] = [
      [[{ name: 'a', area: 'holding', address: 0, type: 'int16' }, { name: 'a', area: 'holding', address: 1, type: 'int16' }], /"a" is used twice/],
      [[{ name: 'a', area: 'holding', address: 70000, type: 'int16' }], /address must be an integer 0-65535/],
      [[{ name: 'a', area: 'coil', address: 0, type: 'float32' }], /type must be bool/],
      [[{ name: 's', area: 'holding', address: 0, type: 'string' }], /string needs a length/],
      [[{ name: 'x', area: 'holding', address: 0, type: 'int16', order: 'ABCD' }], /byte order ABCD does not fit int16/],
      [[{ name: 'b', area: 'holding', address: 0, type: 'bool', bit: 16 }], /bit must be an integer 0-15/],
      [[], /tag table is empty/],
    ];
    for (const [t, pattern] of bad) {
      await load(nodes, flow(port, { read: { tags: t } }));
      await sleep(20);
      const errors = helper
        .log()
        .args.filter((a: unknown[]) => (a[0] as { level: number; id?: string }).level === 20 && (a[0] as { id?: string }).id === 'read')
        .map((a: unknown[]) => (a[0] as { msg: string }).msg);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(pattern);
      expect(lastStatus(get('read'))).toMatchObject({ fill: 'red', shape: 'ring', text: 'modbus-read.status.config' });
      await helper.unload();
    }
    for (const [read, pattern] of [
      [{ unitId: 300 }, /unit id must be an integer 0-255/],
      [{ interval: -1 }, /interval must be 0 \(read on input only\) or a whole number of ms from 10/],
      [{ interval: 5 }, /interval must be 0/],
      [{ interval: 'often' }, /interval must be a number/],
      [{ output: 'csv' }, /output must be one of batch, single/],
      [{ connection: 'missing' }, /no Modbus connection is chosen/],
    ] as [Partial<FlowNode>, RegExp][]) {
      await load(nodes, flow(port, { read }));
      await sleep(20);
      const errors = helper
        .log()
        .args.filter((a: unknown[]) => (a[0] as { level: number; id?: string }).level === 20 && (a[0] as { id?: string }).id === 'read')
        .map((a: unknown[]) => (a[0] as { msg: string }).msg);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(pattern);
      expect(lastStatus(get('read'))).toMatchObject({ fill: 'red', shape: 'ring' });
      await helper.unload();
    }
  });

  it('refuses to write input registers and discrete inputs', async () => {
    await load(nodes, flow(port, { write: { tags: [{ name: 'p', area: 'input', address: 0, type: 'int16' }] } }));
    await sleep(20);
    const msgs = helper.log().args.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n');
    expect(msgs).toMatch(/input registers are read-only/);
    expect(lastStatus(get('write'))).toMatchObject({ fill: 'red' });
  });

  it('says which unit fails when a unit does not answer, and the others keep their pace', async () => {
    const f = flow(port, { read: { interval: 100, unitId: 7 }, conn: { timeout: 150 } });
    f.push({ id: 'read1', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, output: 'batch', tags: tags.slice(0, 3), wires: [['out1']] }, { id: 'out1', type: 'helper' });
    await load(nodes, f);
    await serverUp();
    const [bad] = await nextMessages(get('out'), 1, 5000);
    expect(Object.values(bad.quality).every((q) => q === 'bad')).toBe(true);
    expect(Object.values(bad.payload).every((v) => v === null)).toBe(true);
    await until(() => statusTexts(get('read')).includes('unitFailing 7'), 'unit 7 failing', 5000);
    expect(lastStatus(get('read'))).toMatchObject({ fill: 'red', shape: 'ring' });
    const good = await nextMessages(get('out1'), 3, 5000);
    expect(good.every((m) => m.quality.i16 === 'good')).toBe(true);
  });
});
