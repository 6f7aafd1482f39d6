/**
 * Session and poller over real sockets against the in-process simulator, with modbus-serial as the
 * client. Real timers with short timeouts; conditions are awaited, durations never asserted.
 */
import { ModbusPoller } from '../../../nodes/modbus/poller';
import { createModbusSession, type ModbusClientSession, type SessionDeps } from '../../../nodes/modbus/session';
import { ModbusSimulator, type SimSignal } from '../../../nodes/modbus/simulator';
import type { ConnectionOptions, PollResult, TagDef, UnitHealth } from '../../../nodes/modbus/types';
import type { DeviceError } from '../../../nodes/shared/errors';

const limits = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };

async function waitFor(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function connect(port: number, o: Partial<ConnectionOptions> = {}, deps: SessionDeps = {}): ModbusClientSession {
  const s = createModbusSession(
    { transport: 'tcp', host: '127.0.0.1', port, timeout: 500, maxInFlight: 1, limits, ...o },
    { reconnect: { initial: 20, max: 100 }, breaker: { initial: 60_000, max: 60_000 }, ...deps },
  );
  open.push(s);
  return s;
}

function simulator(...args: ConstructorParameters<typeof ModbusSimulator>): ModbusSimulator {
  const sim = new ModbusSimulator(...args);
  open.push({ close: () => sim.stop() });
  return sim;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  // A failed assertion must not leave sockets or timers behind.
  for (const r of open.splice(0).reverse()) await r.close();
});

const session = (s: ModbusClientSession) => waitFor(() => s.state === 'connected', 'the connection');

/** One signal and one tag per type and order, at distinct addresses. */
function everyType(): { signals: SimSignal[]; tags: TagDef[]; expected: Record<string, unknown> } {
  const cases: [Omit<TagDef, 'name' | 'address' | 'area'> & { area?: TagDef['area'] }, unknown][] = [
    [{ type: 'int16', order: 'AB' }, -1234],
    [{ type: 'int16', order: 'BA' }, -2],
    [{ type: 'uint16' }, 65535],
    [{ type: 'int32', order: 'ABCD' }, -2],
    [{ type: 'int32', order: 'CDAB' }, -123456789],
    [{ type: 'uint32', order: 'BADC' }, 0x12345678],
    [{ type: 'float32', order: 'DCBA' }, Math.fround(123.456)],
    [{ type: 'float32', order: 'ABCD', scale: 0.5, offset: 10 }, 60],
    [{ type: 'int64', order: 'GHEFCDAB' }, -9007199254740991],
    [{ type: 'uint64', order: 'HGFEDCBA' }, 2 ** 60],
    [{ type: 'float64', order: 'BADCFEHG' }, Math.PI],
    [{ type: 'int16', scale: 0.1, offset: -40 }, 23.5],
    [{ type: 'string', length: 5 }, 'Plantwire'],
    [{ type: 'bool', bit: 9 }, true],
    [{ type: 'bool', area: 'coil' }, true],
    [{ type: 'bool', area: 'discrete' }, true],
    [{ type: 'uint16', area: 'input' }, 4321],
  ];
  const signals: SimSignal[] = [];
  const tags: TagDef[] = [];
  const expected: Record<string, unknown> = {};
  let address = 0;
  cases.forEach(([def, value], i) => {
    const name = `t${i}_${def.type}_${def.order ?? ''}`;
    const area = def.area ?? 'holding';
    const tag: TagDef = { ...def, name, area, address };
    tags.push(tag);
    signals.push({ ...tag, signal: 'constant', value: value as SimSignal['value'] });
    expected[name] = value;
    address += 8;
  });
  return { signals, tags, expected };
}

describe('session + poller against the simulator', () => {
  it('reads every type and byte order through the poller', async () => {
    const { signals, tags, expected } = everyType();
    const sim = simulator({ signals, tickMs: 0 });
    const port = await sim.start();
    const s = connect(port);
    await session(s);
    const poller = new ModbusPoller({ session: s, unitId: 1, tags, limits });
    const r = await poller.pollOnce();
    expect(r.errors).toEqual([]);
    const got = Object.fromEntries(r.samples.map((x) => [x.tag, x.value]));
    for (const [name, value] of Object.entries(expected)) {
      if (typeof value === 'number' && !Number.isInteger(value)) expect(got[name]).toBeCloseTo(value, 9);
      else expect(got[name]).toBe(value);
    }
    expect(r.samples.every((x) => x.quality === 'good')).toBe(true);
    // 17 tags 8 registers apart: one holding block per maxGap-respecting run
    expect(r.requests).toBe(poller.blocks.length);
    await s.close();
    await sim.stop();
  });

  it('writes through the session land in the simulator and read back', async () => {
    const sim = simulator({ tickMs: 0 });
    const port = await sim.start();
    const s = connect(port);
    await session(s);
    await s.writeRegisters(1, 10, [1, 2, 3]);
    await s.writeRegisters(1, 20, [0xbeef]);
    await s.writeCoils(1, 5, [true, false, true]);
    await s.writeCoils(1, 9, [true]);
    expect(await s.read(1, 'holding', 10, 3)).toEqual([1, 2, 3]);
    expect(sim.getRaw(1, 'holding', 20, 1)).toEqual([0xbeef]);
    expect(await s.read(1, 'coil', 5, 5)).toEqual([true, false, true, false, true]);
    await expect(s.read(1, 'holding', 65526, 10)).resolves.toHaveLength(10);
    await expect(s.read(1, 'holding', 65530, 10)).rejects.toThrow(/past address 65535/);
    await s.close();
    await sim.stop();
  });

  it('reports exceptions by name', async () => {
    const sim = simulator({ tickMs: 0, areaSize: { holding: 100 } });
    const port = await sim.start();
    const s = connect(port);
    await session(s);
    await expect(s.read(1, 'holding', 99, 2)).rejects.toMatchObject({ exception: 'illegal data address', exceptionCode: 2 });
    // the simulator has no FC22
    await expect(s.maskWriteRegister(1, 0, 0xfffe, 1)).rejects.toMatchObject({ exception: 'illegal function', exceptionCode: 1 });
    expect(s.unitHealth(1).state).toBe('closed');
    await s.close();
    await sim.stop();
  });

  it('a peer that closes and restarts mid-poll: bad quality with last values, then recovery on its own', async () => {
    const sim = simulator({
      tickMs: 0,
      delayMs: 40,
      signals: [{ name: 'speed', area: 'holding', address: 0, type: 'uint16', signal: 'constant', value: 1500 }],
    });
    const port = await sim.start();
    const s = connect(port);
    const states: string[] = [];
    s.on('state', (st: string) => states.push(st));
    await session(s);
    const poller = new ModbusPoller({ session: s, unitId: 1, tags: [{ name: 'speed', area: 'holding', address: 0, type: 'uint16' }], limits });
    expect((await poller.pollOnce()).samples[0]).toEqual({ tag: 'speed', value: 1500, quality: 'good' });

    const midPoll = poller.pollOnce();
    await waitFor(() => sim.stats.pending === 1, 'the request to reach the simulator');
    await sim.stop(); // the answer is never sent
    const r = await midPoll;
    expect(r.samples[0]).toEqual({ tag: 'speed', value: 1500, quality: 'bad' });
    expect(r.failedRequests).toBe(1);
    await waitFor(() => s.state !== 'connected', 'the session to notice');
    const down = await poller.pollOnce();
    expect(down.samples[0]).toMatchObject({ value: 1500, quality: 'bad' });

    sim.setValue('speed', 1600);
    await sim.start();
    await waitFor(() => s.state === 'connected', 'the reconnect');
    const back = await poller.pollOnce();
    expect(back.samples[0]).toEqual({ tag: 'speed', value: 1600, quality: 'good' });
    expect(states).toContain('backoff');
    expect(states[states.length - 1]).toBe('connected');
    await s.close();
    await sim.stop();
  });

  it('a dead unit next to a good one: the good unit keeps answering, the dead unit\'s breaker opens', async () => {
    const sim = simulator({
      unitIds: [1],
      tickMs: 0,
      signals: [{ name: 'v', area: 'holding', address: 0, type: 'uint16', signal: 'constant', value: 7 }],
    });
    const port = await sim.start();
    const s = connect(port, { maxInFlight: 2 });
    const units: UnitHealth[] = [];
    s.on('unit', (u: UnitHealth) => units.push(u));
    await session(s);
    const tag: TagDef[] = [{ name: 'v', area: 'holding', address: 0, type: 'uint16' }];
    const good = new ModbusPoller({ session: s, unitId: 1, tags: tag, limits });
    const dead = new ModbusPoller({ session: s, unitId: 9, tags: tag, limits });

    // While a request to the dead unit is outstanding, the good unit is answered first.
    const order: string[] = [];
    const deadRead = s.read(9, 'holding', 0, 1).catch((e: DeviceError) => order.push(`dead:${e.code}`));
    const goodRead = s.read(1, 'holding', 0, 1).then(() => order.push('good'));
    await Promise.all([deadRead, goodRead]);
    expect(order).toEqual(['good', 'dead:TIMEOUT']);

    const goodResults: PollResult[] = [];
    good.on('poll', (r: PollResult) => goodResults.push(r));
    good.start(20);
    dead.start(20);
    await waitFor(() => s.unitHealth(9).state === 'open', "the dead unit's breaker to open");
    const unansweredAtOpen = sim.stats.unanswered;
    const goodBefore = goodResults.length;
    await waitFor(() => goodResults.length >= goodBefore + 10, 'ten more good polls');
    good.stop();
    dead.stop();
    // open: requests to the dead unit fail at once and never reach the wire
    expect(sim.stats.unanswered).toBe(unansweredAtOpen);
    expect(units.filter((u) => u.unitId === 9).map((u) => u.state)).toEqual(['open']);
    expect(goodResults.every((r) => r.samples[0].quality === 'good' && r.samples[0].value === 7)).toBe(true);
    expect(s.unitHealth(1)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect((await dead.pollOnce()).errors[0]).toMatch(/unit 9 is not answering/);
    expect(s.state).toBe('connected');
    await s.close();
    await sim.stop();
  });

  it.each([1, 3])('never has more than maxInFlight = %i transactions at the simulator', async (maxInFlight) => {
    const sim = simulator({ tickMs: 0, delayMs: 15 });
    const port = await sim.start();
    const s = connect(port, { maxInFlight, timeout: 1000 });
    await session(s);
    // ten tags 50 registers apart: ten blocks in one poll, all issued at once
    const tags: TagDef[] = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, area: 'holding', address: i * 50, type: 'uint16' }));
    const poller = new ModbusPoller({ session: s, unitId: 1, tags, limits });
    expect(poller.blocks).toHaveLength(10);
    const r = await poller.pollOnce();
    expect(r.failedRequests).toBe(0);
    expect(sim.stats.maxPending).toBe(maxInFlight);
    await s.close();
    await sim.stop();
  });

  it('counts overruns when the device is slower than the interval', async () => {
    const sim = simulator({ tickMs: 0, delayMs: 60 });
    const port = await sim.start();
    const s = connect(port, { timeout: 1000 });
    await session(s);
    const poller = new ModbusPoller({ session: s, unitId: 1, tags: [{ name: 'a', area: 'holding', address: 0, type: 'uint16' }], limits });
    const polls: PollResult[] = [];
    poller.on('poll', (r: PollResult) => polls.push(r));
    poller.start(10);
    await waitFor(() => polls.length >= 3 && poller.overruns >= 3, 'overruns');
    poller.stop();
    expect(polls.every((p) => p.failedRequests === 0)).toBe(true);
    // skipped, not queued: never two polls' requests at the device at once
    expect(sim.stats.maxPending).toBe(1);
    await s.close();
    await sim.stop();
  });
});
