/**
 * The connection's life cycle and the device going away, against the engine's simulator directly
 * (so the test can stop and restart the "device" without a redeploy), and the editor's test-read
 * endpoint.
 */
import { helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode, type Msg, type TestNode } from '../../helpers/red';
import { ModbusSimulator } from '../../../nodes/modbus/simulator';
import { freePort, lastStatus, statusesOf, until, withParams } from './ports';
import connectionNode = require('../../../nodes/modbus/modbus-connection');
import readNode = require('../../../nodes/modbus/modbus-read');
import writeNode = require('../../../nodes/modbus/modbus-write');

const nodes = [connectionNode, withParams(readNode), writeNode];
const get = (id: string): TestNode => helper.getNode(id);

const tags = [
  { name: 'temp', area: 'holding', address: 0, type: 'float32', unit: '°C' },
  { name: 'count', area: 'holding', address: 2, type: 'uint32', order: 'CDAB' },
  { name: 'run', area: 'coil', address: 0, type: 'bool' },
];

function simulator(port: number, extra: Partial<ConstructorParameters<typeof ModbusSimulator>[0]> = {}): ModbusSimulator {
  return new ModbusSimulator({
    port,
    tickMs: 0,
    signals: [
      { name: 'temp', area: 'holding', address: 0, type: 'float32', signal: 'constant', value: 20.5 },
      { name: 'count', area: 'holding', address: 2, type: 'uint32', order: 'CDAB', signal: 'constant', value: 70000 },
      { name: 'run', area: 'coil', address: 0, type: 'bool', signal: 'constant', value: true },
    ],
    ...extra,
  });
}

function flow(port: number, read: Partial<FlowNode> = {}): FlowNode[] {
  return [
    { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 300 },
    { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, output: 'batch', tags, wires: [['out']], ...read },
    { id: 'out', type: 'helper' },
  ];
}

describe('plantwire-modbus-connection', () => {
  let port: number;
  let sim: ModbusSimulator | undefined;
  beforeEach(async () => {
    port = await freePort();
    await startServer();
  });
  afterEach(async () => {
    await stop();
    await sim?.stop();
    sim = undefined;
  });

  it('reports bad quality with the last values while the device is away, and good again when it is back, without a redeploy', async () => {
    sim = simulator(port);
    await sim.start();
    await load(nodes, flow(port));
    const out = get('out');
    const [first] = await nextMessages(out);
    expect(first.payload).toEqual({ temp: 20.5, count: 70000, run: true });
    expect(first.quality).toEqual({ temp: 'good', count: 'good', run: 'good' });

    await sim.stop();
    const bad = await new Promise<Msg>((resolve) => {
      out.on('input', function onMsg(m: Msg) {
        if (m.quality.temp === 'bad') {
          out.removeListener('input', onMsg);
          resolve(m);
        }
      });
    });
    expect(bad.payload).toEqual({ temp: 20.5, count: 70000, run: true });
    expect(bad.quality).toEqual({ temp: 'bad', count: 'bad', run: 'bad' });
    await until(() => lastStatus(get('read'))?.fill === 'red', 'a red status');
    expect(lastStatus(get('read'))).toMatchObject({ shape: 'ring' });

    sim = simulator(port);
    sim.setValue('temp', 30.25);
    await sim.start();
    const good = await new Promise<Msg>((resolve) => {
      out.on('input', function onMsg(m: Msg) {
        if (m.quality.temp === 'good') {
          out.removeListener('input', onMsg);
          resolve(m);
        }
      });
    });
    expect(good.payload.temp).toBe(30.25);
    await until(() => lastStatus(get('read'))?.fill === 'green', 'a green status again', 3000);
    // Polls that fell due while the device was away are counted as overruns, and the count stays visible.
    expect(lastStatus(get('read'))?.text).toMatch(/^(ok 3|overrun 3 \d+)$/);
  }, 30000);

  it('shows connecting first, and logs the failure once rather than every poll', async () => {
    sim = simulator(port, { unitIds: [2] });
    await sim.start();
    await load(nodes, flow(port, { interval: 50 }));
    await nextMessages(get('out'), 4, 8000);
    expect(statusesOf(get('read'))[0]).toEqual({ fill: 'yellow', shape: 'ring', text: 'modbus-read.status.connecting' });
    const errors = helper
      .log()
      .args.filter((a: unknown[]) => (a[0] as { level: number; id?: string }).level === 20 && (a[0] as { id?: string }).id === 'read');
    expect(errors).toHaveLength(1);
    expect((errors[0][0] as { msg: string }).msg).toMatch(/unit 1 at 127\.0\.0\.1:\d+: .*(timed out|timeout|no answer|not answer)/i);
  }, 15000);

  it('opens with the first user and closes with the last', async () => {
    sim = simulator(port);
    await sim.start();
    const f = flow(port);
    f.push({ id: 'read2', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, output: 'batch', tags, wires: [['out']] });
    await load(nodes, f);
    await nextMessages(get('out'), 2);
    expect(get('conn').modbus.users).toBe(2);
    expect(sim.stats.connections).toBe(1);

    await get('read').close(true);
    expect(get('conn').modbus.users).toBe(1);
    await sleep(50);
    expect(sim.stats.connections).toBe(1);

    await get('read2').close(true);
    expect(get('conn').modbus.users).toBe(0);
    await until(() => sim!.stats.connections === 0, 'the socket to close');
  });

  it('refuses impossible connection settings with one error, and its users say so', async () => {
    await load(nodes, [
      { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port: 70000 },
      { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, tags, wires: [] },
    ]);
    await sleep(20);
    const msgs = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20).map((a: unknown[]) => (a[0] as { msg: string }).msg);
    expect(msgs.join('\n')).toMatch(/port must be a whole number 1-65535, not 70000/);
    expect(lastStatus(get('read'))).toMatchObject({ fill: 'red', text: 'modbus-read.status.config' });
  });

  it.each([
    [{ transport: 'rtu', serialPort: '' }, /serialPort is required for Modbus RTU/],
    [{ transport: 'rtu', serialPort: '/dev/ttyUSB0', parity: 'mark' }, /parity must be one of none, even, odd/],
    [{ transport: 'rtu', serialPort: '/dev/ttyUSB0', baudRate: 'fast' }, /baudRate must be a number/],
    [{ transport: 'tcp', host: '' }, /host is required for Modbus TCP/],
    [{ transport: 'udp' }, /transport must be one of tcp, rtu/],
    [{ transport: 'tcp', host: 'plc', maxRegisters: 200 }, /maxRegisters must be a whole number 1-125/],
    [{ transport: 'tcp', host: 'plc', timeout: 0 }, /timeout must be a whole number/],
  ])('refuses connection settings %# with one clear error', async (conn, pattern) => {
    await load(nodes, [
      { id: 'conn', type: 'plantwire-modbus-connection', ...conn },
      { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, tags, wires: [] },
    ]);
    await sleep(20);
    const errors = helper
      .log()
      .args.filter((a: unknown[]) => (a[0] as { level: number; id?: string }).level === 20 && (a[0] as { id?: string }).id === 'conn')
      .map((a: unknown[]) => (a[0] as { msg: string }).msg);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(pattern);
    expect(lastStatus(get('read'))).toMatchObject({ fill: 'red', text: 'modbus-read.status.config' });
  });

  it('says so when an RTU serial port does not exist, and polls on with bad quality', async () => {
    await load(nodes, [
      { id: 'conn', type: 'plantwire-modbus-connection', transport: 'rtu', serialPort: '/dev/plantwire-no-such-port', baudRate: 9600, timeout: 200 },
      { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 100, tags, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const [msg] = await nextMessages(get('out'), 1, 8000);
    expect(msg.quality).toEqual({ temp: 'bad', count: 'bad', run: 'bad' });
    await until(() => lastStatus(get('read'))?.fill === 'red', 'a red status', 8000);
    const errors = helper
      .log()
      .args.filter((a: unknown[]) => (a[0] as { level: number; id?: string }).level === 20 && (a[0] as { id?: string }).id === 'read')
      .map((a: unknown[]) => (a[0] as { msg: string }).msg);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/\/dev\/plantwire-no-such-port/);
  }, 15000);

  it('names the Modbus exception a write gets, and the flow runs on', async () => {
    sim = simulator(port, { areaSize: { holding: 100 } });
    await sim.start();
    await load(nodes, [
      ...flow(port, { interval: 0 }),
      {
        id: 'write',
        type: 'plantwire-modbus-write',
        connection: 'conn',
        unitId: 1,
        tags: [
          { name: 'far', area: 'holding', address: 500, type: 'int16' },
          { name: 'temp', area: 'holding', address: 0, type: 'float32' },
        ],
        wires: [['wrote']],
      },
      { id: 'wrote', type: 'helper' },
    ]);
    const w = get('write');
    const err = nextError(w);
    w.receive({ topic: 'far', payload: 1 });
    expect(String((await err).error)).toMatch(/writing far to unit 1 at 127\.0\.0\.1:\d+ failed: .*illegal data address/);
    expect(lastStatus(w)).toMatchObject({ fill: 'red' });
    const ok = nextMessages(get('wrote'));
    w.receive({ topic: 'temp', payload: 99.5 });
    await ok;
    expect(sim.getValue('temp')).toBe(99.5);
  });

  it('fails writes while the device is away through done(err), and writes again once it is back, without a redeploy', async () => {
    sim = simulator(port);
    await sim.start();
    await load(nodes, [
      ...flow(port, { interval: 0 }),
      { id: 'write', type: 'plantwire-modbus-write', connection: 'conn', unitId: 1, tags, wires: [['wrote']] },
      { id: 'wrote', type: 'helper' },
    ]);
    const w = get('write');
    // One collector for the whole test: Node-RED skips an input listener when the one before it is
    // removed during the same delivery, so short-lived listeners would miss messages.
    const wrote: Msg[] = [];
    get('wrote').on('input', (m: Msg) => wrote.push(m));
    w.receive({ topic: 'temp', payload: 1.5 });
    await until(() => wrote.length === 1, 'the first write');
    await sim.stop();
    const err = nextError(w);
    w.receive({ topic: 'temp', payload: 2.5 });
    expect(String((await err).error)).toMatch(/writing temp to unit 1 at 127\.0\.0\.1:\d+ failed/);
    await until(() => lastStatus(w)?.fill === 'red', 'a red status on the write node');
    expect(wrote).toHaveLength(1);

    const input = nextError(get('read'));
    const bad = nextMessages(get('out'));
    get('read').receive({ topic: 'now' });
    expect((await bad)[0].quality).toEqual({ temp: 'bad', count: 'bad', run: 'bad' });
    expect(String((await input).error)).toMatch(/unit 1 at 127\.0\.0\.1:\d+/);

    sim = simulator(port);
    await sim.start();
    // The session reconnects on its own (backoff); retry the write until it lands.
    for (let i = 0; wrote.length === 1; i++) {
      if (i > 20) throw new Error('the write never landed after the device came back');
      w.receive({ topic: 'count', payload: 123456 });
      await until(() => wrote.length > 1, 'a write', 1500).catch(() => undefined);
    }
    expect(wrote[1]).toMatchObject({ topic: 'count', payload: 123456 });
    expect(sim.getValue('count')).toBe(123456);
    expect(lastStatus(w)?.fill).toBe('green');
  }, 40000);

  it('fails a write to a unit that does not answer through done(err), without holding up the next', async () => {
    sim = simulator(port);
    await sim.start();
    await load(nodes, [
      { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 200 },
      { id: 'w9', type: 'plantwire-modbus-write', connection: 'conn', unitId: 9, tags: [{ name: 'temp', area: 'holding', address: 0, type: 'float32' }], wires: [] },
      { id: 'w1', type: 'plantwire-modbus-write', connection: 'conn', unitId: 1, tags: [{ name: 'temp', area: 'holding', address: 0, type: 'float32' }], wires: [['wrote']] },
      { id: 'wrote', type: 'helper' },
    ]);
    const err = nextError(get('w9'));
    get('w9').receive({ topic: 'temp', payload: 1 });
    expect(String((await err).error)).toMatch(/unit 9/);
    const ok = nextMessages(get('wrote'));
    get('w1').receive({ topic: 'temp', payload: 2.5 });
    await ok;
    expect(sim.getValue('temp')).toBe(2.5);
  });
});

describe('POST /plantwire/modbus/test-read', () => {
  let port: number;
  let sim: ModbusSimulator | undefined;
  beforeEach(async () => {
    port = await freePort();
    await startServer();
  });
  afterEach(async () => {
    await stop();
    await sim?.stop();
    sim = undefined;
  });

  const post = (body: unknown) => helper.request().post('/plantwire/modbus/test-read').send(body as object);

  it('reads the posted (unsaved) tags once through the deployed connection', async () => {
    sim = simulator(port);
    await sim.start();
    await load(nodes, flow(port, { interval: 0 }));
    const res = await post({ connection: 'conn', unitId: 1, tags: [...tags, { name: 'lowWord', area: 'holding', address: 2, type: 'uint16' }] });
    expect(res.status).toBe(200);
    expect(res.body.samples).toEqual([
      { tag: 'temp', value: 20.5, quality: 'good', unit: '°C' },
      { tag: 'count', value: 70000, quality: 'good' },
      { tag: 'run', value: true, quality: 'good' },
      { tag: 'lowWord', value: 70000 & 0xffff, quality: 'good' },
    ]);
    expect(res.body.requests).toBe(2);
    expect(get('conn').modbus.users).toBe(1);
  });

  it('opens the connection for the test when no node uses it, and closes it after', async () => {
    sim = simulator(port);
    await sim.start();
    await load(nodes, [{ id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 300 }]);
    const res = await post({ connection: 'conn', unitId: '1', tags: [{ name: 'n', area: 'holding', address: '2', type: 'uint32', order: 'CDAB' }] });
    expect(res.status).toBe(200);
    expect(res.body.samples[0]).toMatchObject({ tag: 'n', value: 70000, quality: 'good' });
    expect(get('conn').modbus.users).toBe(0);
    await until(() => sim!.stats.connections === 0, 'the test connection to close');
  });

  it('says the connection is not deployed when it is not', async () => {
    await load(nodes, flow(port, { interval: 0 }));
    const res = await post({ connection: 'not-deployed', unitId: 1, tags });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/not deployed yet/);
  });

  it.each([
    [{ connection: 'conn', unitId: 1, tags: [] }, /tag table is empty/],
    [{ connection: 'conn', unitId: 1, tags: [{ name: 'a', area: 'coil', address: 0, type: 'int16' }] }, /must be bool/],
    [{ connection: 'conn', unitId: 300, tags }, /unit id must be an integer 0-255/],
    [{ connection: 'conn', unitId: 1, tags: 'temp' }, /tag table is empty/],
  ])('refuses bad settings %# with 400 and the reason', async (body, pattern) => {
    await load(nodes, flow(port, { interval: 0 }));
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(pattern);
  });

  it('says the device failed when it does not answer', async () => {
    await load(nodes, flow(port, { interval: 0 }));
    const res = await post({ connection: 'conn', unitId: 1, tags });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatch(/unit 1 at 127\.0\.0\.1:\d+ did not answer/);
    expect(res.body.samples.every((s: { quality: string }) => s.quality === 'bad')).toBe(true);
  });
});
