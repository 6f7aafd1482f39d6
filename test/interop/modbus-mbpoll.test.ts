/**
 * mbpoll (a C Modbus master built on libmodbus) against plantwire-modbus-server: reads every
 * table and the 32-bit encodings mbpoll knows, and writes registers and coils that the server
 * then holds and reports out of its output. mbpoll references are 1-based: -r 1 is address 0.
 */
import { helper, load, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { freePort } from './lib/procs';
import { mbpoll, mbpollValues } from './lib/peers';
import { lastStatus, until } from './lib/red-status';
import serverNode = require('../../nodes/modbus/modbus-server');

const get = (id: string): TestNode => helper.getNode(id);
let port: number;

const signals = [
  { name: 'speed', area: 'holding', address: 0, type: 'uint16', signal: 'constant', value: '1500' },
  { name: 'temp', area: 'holding', address: 1, type: 'int16', signal: 'constant', value: '-275' },
  { name: 'flowBE', area: 'holding', address: 10, type: 'float32', order: 'ABCD', signal: 'constant', value: '12.75' },
  { name: 'flowLE', area: 'holding', address: 12, type: 'float32', order: 'CDAB', signal: 'constant', value: '-0.5' },
  { name: 'count', area: 'holding', address: 20, type: 'int32', order: 'ABCD', signal: 'constant', value: '-123456' },
  { name: 'level', area: 'input', address: 5, type: 'uint16', signal: 'constant', value: '4321' },
  { name: 'pump', area: 'coil', address: 2, type: 'bool', signal: 'constant', value: 'true' },
  { name: 'valve', area: 'coil', address: 3, type: 'bool', signal: 'constant', value: 'false' },
  { name: 'door', area: 'discrete', address: 7, type: 'bool', signal: 'constant', value: 'true' },
  { name: 'setpoint', area: 'holding', address: 30, type: 'uint16', signal: 'constant', value: '0' },
];

const written: Msg[] = [];

beforeAll(async () => {
  port = await freePort();
  await startServer();
  const flow: FlowNode[] = [
    { id: 'srv', type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: [['written']] },
    { id: 'written', type: 'helper' },
  ];
  await load([serverNode], flow);
  get('written').on('input', (m: Msg) => written.push(m));
  await until(() => lastStatus(get('srv'))?.fill === 'green', 'the server to listen');
});

afterAll(async () => {
  await stop();
});

const base = () => ['-m', 'tcp', '-p', String(port), '-a', '1', '-1', '-o', '2'];

describe('mbpoll against plantwire-modbus-server', () => {
  it('reads holding registers (16-bit signed and unsigned) at 1-based references', async () => {
    const v = mbpollValues(await mbpoll([...base(), '-t', '4', '-r', '1', '-c', '2', '127.0.0.1']));
    expect(v.get(1)).toBe('1500');
    // -t 4 shows registers as unsigned 16-bit decimals: -275 is 0xFEED = 65261
    expect(v.get(2)).toBe('65261');
    const hex = mbpollValues(await mbpoll([...base(), '-t', '4:hex', '-r', '2', '-c', '1', '127.0.0.1']));
    expect(hex.get(2)).toBe('0xFEED');
  });

  it('reads float32 in both word orders and int32', async () => {
    // mbpoll's default 32-bit word order is little-endian (CDAB); -B asks for big-endian (ABCD).
    const be = mbpollValues(await mbpoll([...base(), '-t', '4:float', '-B', '-r', '11', '-c', '1', '127.0.0.1']));
    expect(Number(be.get(11))).toBe(12.75);
    const le = mbpollValues(await mbpoll([...base(), '-t', '4:float', '-r', '13', '-c', '1', '127.0.0.1']));
    expect(Number(le.get(13))).toBe(-0.5);
    const i32 = mbpollValues(await mbpoll([...base(), '-t', '4:int', '-B', '-r', '21', '-c', '1', '127.0.0.1']));
    expect(Number(i32.get(21))).toBe(-123456);
  });

  it('reads input registers, coils and discrete inputs', async () => {
    expect(mbpollValues(await mbpoll([...base(), '-t', '3', '-r', '6', '-c', '1', '127.0.0.1'])).get(6)).toBe('4321');
    const coils = mbpollValues(await mbpoll([...base(), '-t', '0', '-r', '3', '-c', '2', '127.0.0.1']));
    expect([coils.get(3), coils.get(4)]).toEqual(['1', '0']);
    expect(mbpollValues(await mbpoll([...base(), '-t', '1', '-r', '8', '-c', '1', '127.0.0.1'])).get(8)).toBe('1');
  });

  it('takes a register write and a coil write, holds them, and reports them out of its output', async () => {
    await mbpoll([...base(), '-t', '4', '-r', '31', '127.0.0.1', '777']);
    await mbpoll([...base(), '-t', '0', '-r', '4', '127.0.0.1', '1']);
    await until(() => written.some((m) => m.topic === 'setpoint') && written.some((m) => m.topic === 'valve'), 'the writes out of the server node');
    expect(written.find((m) => m.topic === 'setpoint')?.payload).toBe(777);
    expect(written.filter((m) => m.topic === 'valve').map((m) => m.payload)).toEqual([true]);
    expect(mbpollValues(await mbpoll([...base(), '-t', '4', '-r', '31', '-c', '1', '127.0.0.1'])).get(31)).toBe('777');
    expect(mbpollValues(await mbpoll([...base(), '-t', '0', '-r', '4', '-c', '1', '127.0.0.1'])).get(4)).toBe('1');
  });

  it('answers a read of registers no signal holds with zeros, and refuses a range past address 65535', async () => {
    const v = mbpollValues(await mbpoll([...base(), '-t', '4', '-r', '100', '-c', '3', '127.0.0.1']));
    expect([v.get(100), v.get(101), v.get(102)]).toEqual(['0', '0', '0']);
    // addresses 65535 and 65536: the second does not exist (exception 02, illegal data address)
    await expect(mbpoll([...base(), '-t', '4', '-r', '65536', '-c', '2', '127.0.0.1'])).rejects.toThrow(/Illegal data address|exception|failed/i);
  });
});
