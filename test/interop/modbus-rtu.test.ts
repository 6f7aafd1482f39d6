/**
 * Modbus RTU: the Plantwire RTU connection (modbus-serial over serialport) on one end of a socat
 * pseudo-terminal pair, Debian's pymodbus serial server (ModbusRtuFramer) on the other. Reads
 * every type and byte order exactly, writes registers and coils where the peer expects them.
 */
import { helper, load, nextMessages, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { ptyPair, startPymodbus, type PymodbusPeer } from './lib/peers';
import { bitMap, merge, typedMap } from './lib/modbus-values';
import { lastStatus, until } from './lib/red-status';
import connectionNode = require('../../nodes/modbus/modbus-connection');
import readNode = require('../../nodes/modbus/modbus-read');
import writeNode = require('../../nodes/modbus/modbus-write');

const nodes = [connectionNode, readNode, writeNode];
const get = (id: string): TestNode => helper.getNode(id);

const UNIT = 7;
const map = merge(typedMap('holding', 10, 1, UNIT), bitMap('coil', 0, 20, UNIT), bitMap('discrete', 50, 10, UNIT));
const writeTags = [
  { name: 'sp.i32', area: 'holding', address: 4000, type: 'int32', order: 'CDAB' },
  { name: 'sp.f32', area: 'holding', address: 4002, type: 'float32' },
  { name: 'sp.u16', area: 'holding', address: 4004, type: 'uint16' },
  { name: 'sp.run', area: 'coil', address: 400, type: 'bool' },
];

let pty: Awaited<ReturnType<typeof ptyPair>>;
let peer: PymodbusPeer;

beforeAll(async () => {
  pty = await ptyPair();
  peer = await startPymodbus({ units: [UNIT], values: map.peer }, { rtuDevice: pty.b, baud: 38400 });
  await startServer();
});

afterAll(async () => {
  await stop();
  await peer?.stop();
  await pty?.stop();
});

function flow(): FlowNode[] {
  return [
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'rtu', serialPort: pty.a, baudRate: 38400, parity: 'none', dataBits: 8, stopBits: 1, timeout: 2000 },
    { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: UNIT, interval: 0, output: 'batch', tags: [...map.tags, ...writeTags], wires: [['out']] },
    { id: 'write', type: 'plantwire-modbus-write', connection: 'conn', unitId: UNIT, tags: writeTags, wires: [['wrote']] },
    { id: 'out', type: 'helper' },
    { id: 'wrote', type: 'helper' },
  ];
}

async function readOnce(): Promise<Msg> {
  const got = nextMessages(get('out'), 1, 60000);
  get('read').receive({});
  return (await got)[0];
}

describe('Modbus RTU over a socat pseudo-terminal to pymodbus', () => {
  it(`reads ${map.tags.length} tags of every type and byte order exactly, then writes and reads back`, async () => {
    await load(nodes, flow());
    const msg = await readOnce();
    const wrong = Object.entries(map.expected).filter(([tag, want]) => !Object.is(msg.payload[tag], want));
    expect(wrong.map(([tag, want]) => `${tag}: read ${JSON.stringify(msg.payload[tag])}, expected ${JSON.stringify(want)}`)).toEqual([]);
    expect(Object.values(msg.quality).filter((q) => q !== 'good')).toEqual([]);
    await until(() => lastStatus(get('read'))?.fill === 'green', 'a green status');

    const before = peer.writes().length;
    const wrote = nextMessages(get('wrote'), 1, 60000);
    get('write').receive({ payload: { 'sp.i32': -100000, 'sp.f32': -2.5, 'sp.u16': 65000, 'sp.run': true } });
    await wrote;
    const writes = peer.writes().slice(before);
    const holding = writes.filter((w) => w.area === 'holding' && w.unit === UNIT);
    const words = new Map<number, number>();
    for (const w of holding) w.values.forEach((v, i) => words.set(w.address + i, v));
    // -100000 = 0xFFFE7960, CDAB: low word first; -2.5 = 0xC0200000
    expect([4000, 4001, 4002, 4003, 4004].map((a) => words.get(a))).toEqual([0x7960, 0xfffe, 0xc020, 0x0000, 65000]);
    expect(writes.some((w) => w.area === 'coil' && w.address === 400 && w.values[0] === 1)).toBe(true);

    const back = await readOnce();
    expect({ i32: back.payload['sp.i32'], f32: back.payload['sp.f32'], u16: back.payload['sp.u16'], run: back.payload['sp.run'] }).toEqual({ i32: -100000, f32: -2.5, u16: 65000, run: true });
  });
});
