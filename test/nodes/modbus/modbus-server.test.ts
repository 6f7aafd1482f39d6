import ModbusRTU from 'modbus-serial';
import { helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode, type TestNode } from '../../helpers/red';
import { freePort, lastStatus, statusesOf, until, withParams } from './ports';
import serverNode = require('../../../nodes/modbus/modbus-server');

const signals = [
  { name: 'temp', area: 'holding', address: 0, type: 'float32', signal: 'constant', value: '21.5' },
  { name: 'level', area: 'holding', address: 2, type: 'int16', signal: 'constant', value: '-7' },
  { name: 'run', area: 'coil', address: 0, type: 'bool', signal: 'constant', value: 'true' },
  { name: 'unit3', area: 'input', address: 0, type: 'uint16', unitId: '3', signal: 'constant', value: '33' },
];

function flow(port: number, extra: Partial<FlowNode> = {}): FlowNode[] {
  return [
    { id: 'srv', type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: [['out']], ...extra },
    { id: 'out', type: 'helper' },
  ];
}

async function client(port: number, unit = 1): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(unit);
  c.setTimeout(1000);
  return c;
}

const get = (id: string): TestNode => helper.getNode(id);

function statusTexts(node: TestNode): string[] {
  return statusesOf(node).map((st) => String(st.text));
}

describe('plantwire-modbus-server node', () => {
  let port: number;
  let c: ModbusRTU | undefined;

  /**
   * Loads a server flow and waits until the server listens. freePort's port was free a moment ago,
   * but a test running in parallel can take it before the server binds (an outgoing connection
   * gets its local port from the same range): the server then says it cannot listen (red), and
   * the flow is loaded again on another free port, at most three times.
   */
  async function loadListening(mod: unknown, make: (port: number) => FlowNode[]): Promise<TestNode> {
    for (let attempt = 1; ; attempt++) {
      await load(mod, make(port));
      const srv = get('srv');
      const fills = () => statusesOf(srv).map((st) => st.fill);
      await until(() => fills().includes('green') || fills().includes('red'), 'the server to listen or fail');
      if (!fills().includes('red')) return srv;
      if (attempt === 3) throw new Error(`the server could not listen on three free ports: ${statusTexts(srv).join(', ')}`);
      await helper.unload();
      port = await freePort();
    }
  }

  beforeEach(async () => {
    port = await freePort();
    await startServer();
  });
  afterEach(async () => {
    if (c) await new Promise((r) => c!.close(r));
    c = undefined;
    await stop();
  });

  it('serves its signals with their types, per unit', async () => {
    const srv = await loadListening(serverNode, (p) => flow(p));
    await until(() => statusTexts(srv).includes('modbus-server.status.listening'), 'listening status');
    c = await client(port);
    const regs = await c.readHoldingRegisters(0, 3);
    expect(Buffer.from(regs.buffer).readFloatBE(0)).toBe(21.5);
    expect(Buffer.from(regs.buffer).readInt16BE(4)).toBe(-7);
    expect((await c.readCoils(0, 1)).data[0]).toBe(true);
    c.setID(3);
    expect((await c.readInputRegisters(0, 1)).data[0]).toBe(33);
  });

  it('emits a client write as topic = signal, payload = value', async () => {
    await loadListening(serverNode, (p) => flow(p));
    const out = get('out');
    c = await client(port);
    const got = nextMessages(out, 2);
    await c.writeRegister(2, 0xfffe);
    await c.writeCoil(0, false);
    const msgs = await got;
    expect(msgs.map((m) => [m.topic, m.payload, m.unitId])).toEqual([
      ['level', -2, 1],
      ['run', false, 1],
    ]);
  });

  it('emits a write outside every signal as area:address with the raw values', async () => {
    await loadListening(serverNode, (p) => flow(p));
    c = await client(port);
    const got = nextMessages(get('out'));
    await c.writeRegisters(500, [1, 2]);
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'holding:500', payload: [1, 2] });
  });

  it('sets a signal from an input message and refuses bad ones through done(err)', async () => {
    const srv = await loadListening(serverNode, (p) => flow(p));
    c = await client(port);
    for (const [topic, payload, pattern] of [
      ['level', 70000, /outside the range of int16/],
      ['level', NaN, /finite number/],
      ['level', null, /must be a number, boolean or string, not null/],
      ['nope', 1, /unknown signal "nope"/],
      [undefined, {}, /empty object/],
    ] as const) {
      const err = nextError(srv);
      srv.receive({ topic, payload });
      expect(String((await err).error)).toMatch(pattern);
    }
    srv.receive({ topic: 'level', payload: 1234 });
    srv.receive({ payload: { temp: -3.25 } });
    await sleep(20);
    const regs = await c.readHoldingRegisters(0, 3);
    expect(Buffer.from(regs.buffer).readFloatBE(0)).toBe(-3.25);
    expect(Buffer.from(regs.buffer).readInt16BE(4)).toBe(1234);
  });

  it('reports the port and the clients connected in its status', async () => {
    const srv = await loadListening(withParams(serverNode), (p) => flow(p));
    await until(() => statusTexts(srv).includes(`listening ${port} 0`), 'status with no clients');
    c = await client(port);
    await until(() => statusTexts(srv).includes(`listeningOne ${port} 1`), 'status with one client', 4000);
    expect(lastStatus(srv)).toMatchObject({ fill: 'green', shape: 'dot' });
  });

  it.each([
    [[{ name: 'a', area: 'holding', address: 0, type: 'int16', signal: 'sine' }, { name: 'a', area: 'holding', address: 1, type: 'int16', signal: 'sine' }], /"a" is used twice/],
    [[{ name: 'a', area: 'coil', address: 0, type: 'int16', signal: 'sine' }], /must be bool/],
    [[{ name: 'a', area: 'holding', address: 70000, type: 'int16', signal: 'sine' }], /address must be an integer 0-65535/],
    [[{ name: 'a', area: 'holding', address: 0, type: 'int16', signal: 'wobble' }], /signal must be one of/],
  ])('refuses impossible signals with one clear error (%#)', async (bad, pattern) => {
    await load(serverNode, flow(port, { signals: bad }));
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(pattern);
    expect(lastStatus(get('srv'))).toMatchObject({ fill: 'red', shape: 'ring' });
  });

  it('says so when the port is taken, and the flow runs on', async () => {
    await load(serverNode, [
      { id: 'srv', type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: [] },
      { id: 'srv2', type: 'plantwire-modbus-server', host: '127.0.0.1', port, signals, wires: [] },
    ]);
    await until(
      () => ['srv', 'srv2'].some((id) => statusesOf(get(id)).some((st) => st.fill === 'red')),
      'red status on one server',
    );
    const texts = [...statusTexts(get('srv')), ...statusTexts(get('srv2'))];
    expect(texts).toContain('modbus-server.status.failed');
    c = await client(port);
    expect((await c.readHoldingRegisters(2, 1)).data[0]).toBe(0xfff9);
  });
});
