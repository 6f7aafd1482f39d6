/**
 * plantwire-modbus-read and -write inside Node-RED against a real Modbus TCP peer: Debian's
 * pymodbus, which encodes its register map with Python's struct module (an encoder independent
 * of Plantwire's codec). Every type in every byte order, scaled values, strings, register bits,
 * coils and discrete inputs must read exactly; writes must land where the peer expects them.
 */
import { helper, load, nextMessages, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { startPymodbus, type PymodbusPeer } from './lib/peers';
import { bitMap, merge, typedMap } from './lib/modbus-values';
import { lastStatus, until } from './lib/red-status';
import connectionNode = require('../../nodes/modbus/modbus-connection');
import readNode = require('../../nodes/modbus/modbus-read');
import writeNode = require('../../nodes/modbus/modbus-write');

const nodes = [connectionNode, readNode, writeNode];
const get = (id: string): TestNode => helper.getNode(id);

const holding = typedMap('holding', 0, 0);
const input = typedMap('input', 100, 3);
const coils = bitMap('coil', 5, 40);
const discrete = bitMap('discrete', 1000, 25);
const all = merge(holding, input, coils, discrete);
// Write targets, away from the read map, in the peer's own encoding.
const writeTags = [
  { name: 'w.i16', area: 'holding', address: 5000, type: 'int16' },
  { name: 'w.f32', area: 'holding', address: 5001, type: 'float32', order: 'CDAB' },
  { name: 'w.u32', area: 'holding', address: 5003, type: 'uint32', order: 'DCBA' },
  { name: 'w.f64', area: 'holding', address: 5005, type: 'float64' },
  { name: 'w.scaled', area: 'holding', address: 5009, type: 'int16', scale: 0.1 },
  { name: 'w.text', area: 'holding', address: 5010, type: 'string', length: 3 },
  { name: 'w.coil', area: 'coil', address: 3000, type: 'bool' },
  { name: 'w.bit3', area: 'holding', address: 5020, type: 'bool', bit: 3 },
];

let peer: PymodbusPeer;

beforeAll(async () => {
  peer = await startPymodbus({ units: [1], values: [...all.peer, { area: 'holding', address: 5020, type: 'uint16', raw: 0x8001 }] });
  await startServer();
});

afterAll(async () => {
  await stop();
  await peer?.stop();
});

afterEach(async () => {
  await helper.unload();
});

function flow(conn: Partial<FlowNode> = {}): FlowNode[] {
  return [
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port: peer.port, timeout: 3000, ...conn },
    { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 0, output: 'batch', tags: all.tags, wires: [['out']] },
    { id: 'write', type: 'plantwire-modbus-write', connection: 'conn', unitId: 1, tags: writeTags, wires: [['wrote']] },
    { id: 'out', type: 'helper' },
    { id: 'wrote', type: 'helper' },
  ];
}

async function readOnce(): Promise<Msg> {
  const got = nextMessages(get('out'), 1, 30000);
  get('read').receive({ topic: 'poll' });
  return (await got)[0];
}

function mismatches(msg: Msg, expected: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [tag, want] of Object.entries(expected)) {
    const got = msg.payload[tag];
    if (!Object.is(got, want)) out.push(`${tag}: read ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    if (msg.quality?.[tag] !== undefined && msg.quality[tag] !== 'good') out.push(`${tag}: quality ${msg.quality[tag]}`);
  }
  return out;
}

describe('plantwire-modbus-read against pymodbus over TCP', () => {
  it(`reads ${all.tags.length} tags of every type and byte order, each value exact, in one batch`, async () => {
    await load(nodes, flow());
    const msg = await readOnce();
    expect(Object.keys(msg.payload).sort()).toEqual(Object.keys(all.expected).sort());
    expect(mismatches(msg, all.expected)).toEqual([]);
    expect(msg.units['h.int16.scaled']).toBe('bar');
    expect(typeof msg.timestamp).toBe('number');
    await until(() => lastStatus(get('read'))?.fill === 'green', 'a green status on the read node');
  });

  it('reads the same values when every tag is its own request (maxGap 0, small requests)', async () => {
    await load(nodes, flow({ maxGap: 0, maxRegisters: 8, maxBits: 3 }));
    const msg = await readOnce();
    expect(mismatches(msg, all.expected)).toEqual([]);
  });

  it('reads the same values with several transactions in flight (maxInFlight 8)', async () => {
    await load(nodes, flow({ maxGap: 0, maxRegisters: 8, maxInFlight: 8 }));
    for (let i = 0; i < 3; i++) expect(mismatches(await readOnce(), all.expected)).toEqual([]);
  });

  it('emits one message per tag in single form', async () => {
    const f = flow();
    (f[1] as Record<string, unknown>).output = 'single';
    (f[1] as Record<string, unknown>).tags = holding.tags.slice(0, 12);
    await load(nodes, f);
    const got = nextMessages(get('out'), 12, 30000);
    get('read').receive({});
    const msgs = await got;
    for (const m of msgs) expect(m.payload).toBe(holding.expected[m.topic]);
    expect(msgs.map((m) => m.topic).sort()).toEqual(holding.tags.slice(0, 12).map((t) => t.name).sort());
  });
});

describe('plantwire-modbus-write against pymodbus over TCP', () => {
  it('writes every type where the peer expects it, and reads it back', async () => {
    const f = flow();
    (f[1] as Record<string, unknown>).tags = writeTags;
    await load(nodes, f);
    const before = peer.writes().length;
    const values = { 'w.i16': -321, 'w.f32': 21.5, 'w.u32': 0xa1b2c3d4, 'w.f64': -0.000123, 'w.scaled': 12.3, 'w.text': 'AB1', 'w.coil': true, 'w.bit3': true };
    const wrote = nextMessages(get('wrote'), 1, 30000);
    get('write').receive({ payload: values });
    await wrote;
    const writes = peer.writes().slice(before);
    const word = (address: number): number | undefined => {
      let v: number | undefined;
      for (const w of writes) if (w.area === 'holding' && address >= w.address && address < w.address + w.values.length) v = w.values[address - w.address];
      return v;
    };
    // The registers the peer received, checked against the Modbus encodings computed by hand.
    expect(word(5000)).toBe(0xfebf); // -321
    expect([word(5001), word(5002)]).toEqual([0x0000, 0x41ac]); // 21.5 = 0x41AC0000, CDAB
    expect([word(5003), word(5004)]).toEqual([0xd4c3, 0xb2a1]); // DCBA
    expect(word(5009)).toBe(123); // 12.3 / 0.1
    expect([word(5010), word(5011), word(5012)]).toEqual([0x4142, 0x3100, 0x0000]);
    expect(word(5020)).toBe(0x8009); // bit 3 set, the other bits of the register kept
    expect(writes.some((w) => w.area === 'coil' && w.address === 3000 && w.values[0] === 1)).toBe(true);

    const msg = await readOnce();
    expect(msg.payload).toEqual({ ...values, 'w.scaled': 123 * 0.1 });
  });

  it('refuses a value out of its type\'s range with done(err), writes nothing, and keeps running', async () => {
    const f = flow();
    (f[1] as Record<string, unknown>).tags = writeTags;
    await load(nodes, f);
    const before = peer.writes().length;
    const errors: unknown[] = [];
    const node = get('write');
    const orig = node.error.bind(node);
    node.error = (err: unknown, m?: Msg) => { errors.push(err); return orig(err, m); };
    node.receive({ topic: 'w.i16', payload: 70000 });
    node.receive({ topic: 'nope', payload: 1 });
    await until(() => errors.length === 2, 'two errors');
    expect(String(errors[0])).toMatch(/70000|range|int16/i);
    expect(String(errors[1])).toMatch(/unknown tag/);
    expect(peer.writes().length).toBe(before);
    const msg = await readOnce();
    expect(typeof msg.payload['w.i16']).toBe('number');
  });
});
