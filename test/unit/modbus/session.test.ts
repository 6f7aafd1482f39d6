/**
 * Session logic against a scripted fake client with fake timers: the breaker, the waiting line,
 * reconnects and exception names. (session-sim.test.ts runs the real client against the simulator.)
 */
import { EventEmitter } from 'events';
import {
  ModbusClientSession,
  ModbusExceptionError,
  createModbusSession,
  normaliseConnection,
  type ModbusClientLike,
  type SessionDeps,
} from '../../../nodes/modbus/session';
import type { ConnectionOptions, SessionState, UnitHealth } from '../../../nodes/modbus/types';
import { ConfigError, DeviceError, InputError } from '../../../nodes/shared/errors';

type Cb = (err: unknown, res?: { data?: unknown }) => void;
interface Call {
  fc: number;
  unit: number;
  address: number;
  arg: unknown;
  cb: Cb;
}

class FakeClient extends EventEmitter {
  isOpen = false;
  calls: Call[] = [];
  connect: 'ok' | 'fail' | 'hang' | 'no-serialport' = 'ok';
  connects = 0;
  destroyed = false;
  private push(fc: number, unit: number, address: number, arg: unknown, cb: Cb) {
    this.calls.push({ fc, unit, address, arg, cb });
  }
  connectTCP(): Promise<void> {
    this.connects++;
    if (this.connect === 'fail') return Promise.reject(new Error('connect ECONNREFUSED'));
    if (this.connect === 'hang') return new Promise(() => undefined);
    this.isOpen = true;
    return Promise.resolve();
  }
  connectRTUBuffered(): Promise<void> {
    if (this.connect === 'no-serialport') {
      const e = new Error("Cannot find module 'serialport'") as Error & { code: string };
      e.code = 'MODULE_NOT_FOUND';
      throw e;
    }
    return this.connectTCP();
  }
  writeFC1(u: number, a: number, n: number, cb: Cb) { this.push(1, u, a, n, cb); }
  writeFC2(u: number, a: number, n: number, cb: Cb) { this.push(2, u, a, n, cb); }
  writeFC3(u: number, a: number, n: number, cb: Cb) { this.push(3, u, a, n, cb); }
  writeFC4(u: number, a: number, n: number, cb: Cb) { this.push(4, u, a, n, cb); }
  writeFC5(u: number, a: number, v: boolean, cb: Cb) { this.push(5, u, a, v, cb); }
  writeFC6(u: number, a: number, v: number, cb: Cb) { this.push(6, u, a, v, cb); }
  writeFC15(u: number, a: number, v: boolean[], cb: Cb) { this.push(15, u, a, v, cb); }
  writeFC16(u: number, a: number, v: number[], cb: Cb) { this.push(16, u, a, v, cb); }
  close(cb: () => void) { this.isOpen = false; cb(); }
  destroy(cb: () => void) { this.isOpen = false; this.destroyed = true; cb(); }
  /** The peer went away. */
  drop() { this.isOpen = false; this.emit('close'); }
  /** Answers the oldest unanswered call. */
  answer(data: unknown = [1, 2, 3]) { const c = this.calls.shift() as Call; c.cb(null, { data }); return c; }
  fail(err: unknown) { const c = this.calls.shift() as Call; c.cb(err); return c; }
}

const TCP: ConnectionOptions = {
  transport: 'tcp',
  host: '127.0.0.1',
  port: 5020,
  timeout: 100,
  maxInFlight: 1,
  limits: { maxRegisters: 125, maxBits: 2000, maxGap: 10 },
};

function setup(options: Partial<ConnectionOptions> = {}, deps: SessionDeps = {}) {
  const clients: FakeClient[] = [];
  const states: SessionState[] = [];
  const units: UnitHealth[] = [];
  const session = new ModbusClientSession({ ...TCP, ...options }, {
    createClient: () => {
      const c = new FakeClient();
      if (clients.length && clients[clients.length - 1].connect !== 'ok') c.connect = clients[clients.length - 1].connect;
      clients.push(c);
      return c as unknown as ModbusClientLike;
    },
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    random: () => 0.5,
    reconnect: { initial: 1000, max: 8000, jitter: 0 },
    breaker: { initial: 5000, max: 20000, jitter: 0 },
    ...deps,
  });
  session.on('state', (s: SessionState) => states.push(s));
  session.on('unit', (u: UnitHealth) => units.push(u));
  const client = () => clients[clients.length - 1];
  return { session, clients, client, states, units };
}

/** Lets promise callbacks run without moving the clock. */
const flush = () => jest.advanceTimersByTimeAsync(0);

describe('ModbusClientSession (fake client, fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('connects, reads registers and bits, and writes with FC5/6/15/16', async () => {
    const { session, client, states } = setup();
    session.open();
    await flush();
    expect(session.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected']);
    const r = session.read(1, 'holding', 10, 3);
    await flush();
    expect(client().calls[0]).toMatchObject({ fc: 3, unit: 1, address: 10, arg: 3 });
    client().answer([1, 2, 3]);
    await expect(r).resolves.toEqual([1, 2, 3]);
    const bits = session.read(2, 'coil', 0, 3);
    await flush();
    expect(client().calls[0]).toMatchObject({ fc: 1, unit: 2 });
    client().answer([true, false, true, false, false, false, false, false]);
    await expect(bits).resolves.toEqual([true, false, true]);
    const writes = [session.writeRegisters(1, 5, [7]), session.writeRegisters(1, 5, [7, 8]), session.writeCoils(1, 2, [true]), session.writeCoils(1, 2, [true, false])];
    for (const fc of [6, 16, 5, 15]) {
      await flush();
      expect(client().answer(undefined).fc).toBe(fc);
    }
    await Promise.all(writes);
    await session.close();
    expect(session.state).toBe('closed');
  });

  it('sends the requests of one event-loop turn in one socket write (TCP: corked until the next tick)', async () => {
    const { session, client } = setup({ maxInFlight: 16 });
    session.open();
    await flush();
    const log: string[] = [];
    const socket = { cork: () => log.push('cork'), uncork: () => log.push('uncork') };
    (client() as unknown as { _port: { _client: typeof socket } })._port = { _client: socket };
    const reads = [0, 10, 20, 30].map((a) => session.read(1, 'holding', a, 2));
    // Every request of the turn is handed to the client while the socket is corked, once.
    expect(client().calls).toHaveLength(4);
    expect(log).toEqual(['cork']);
    jest.runAllTicks(); // (fake timers hold process.nextTick too)
    expect(log).toEqual(['cork', 'uncork']);
    for (let i = 0; i < 4; i++) client().answer([i, i]);
    await expect(Promise.all(reads)).resolves.toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
    await session.close();
  });

  it('refuses bad arguments with an InputError before sending anything', async () => {
    const { session, client } = setup();
    session.open();
    await flush();
    await expect(session.read(1, 'holding', 0, 126)).rejects.toThrow(InputError);
    await expect(session.read(1, 'coil', 0, 2001)).rejects.toThrow(InputError);
    await expect(session.read(256, 'holding', 0, 1)).rejects.toThrow(/unit id/);
    await expect(session.read(1, 'memory' as never, 0, 1)).rejects.toThrow(/area/);
    await expect(session.read(1, 'holding', 65535, 2)).rejects.toThrow(/past address/);
    await expect(session.writeRegisters(1, 0, [70000])).rejects.toThrow(InputError);
    await expect(session.writeRegisters(1, 0, [])).rejects.toThrow(InputError);
    await expect(session.writeCoils(1, 0, [1 as unknown as boolean])).rejects.toThrow(InputError);
    expect(client().calls).toHaveLength(0);
    await session.close();
  });

  it('names Modbus exceptions', async () => {
    const { session, client } = setup();
    session.open();
    await flush();
    const r = session.read(1, 'holding', 9000, 2);
    await flush();
    client().fail(Object.assign(new Error('Modbus exception 2'), { modbusCode: 2 }));
    const err = await r.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusExceptionError);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ exception: 'illegal data address', exceptionCode: 2 });
    expect((err as Error).message).toMatch(/unit 1: illegal data address \(exception 2\) reading holding 9000\+2/);
    // an exception is an answer: the unit is alive
    expect(session.unitHealth(1)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    await session.close();
  });

  it('times out a request that gets no answer', async () => {
    const { session } = setup();
    session.open();
    await flush();
    const r = session.read(1, 'holding', 0, 1);
    const check = expect(r).rejects.toMatchObject({ code: 'TIMEOUT' });
    await jest.advanceTimersByTimeAsync(100);
    await check;
    expect(session.unitHealth(1)).toMatchObject({ state: 'closed', consecutiveFailures: 1, lastError: 'no answer' });
    await session.close();
  });

  it('opens a unit breaker after 3 timeouts, fails fast, probes once per window, closes on an answer', async () => {
    const { session, client, units } = setup({ maxInFlight: 4 });
    session.open();
    await flush();
    const dead = [1, 2, 3].map(() => session.read(9, 'holding', 0, 1).catch((e: DeviceError) => e.code));
    await jest.advanceTimersByTimeAsync(100);
    expect(await Promise.all(dead)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    expect(session.unitHealth(9)).toMatchObject({ state: 'open', consecutiveFailures: 3 });
    expect(units.map((u) => u.state)).toEqual(['open']);
    client().calls.length = 0;
    // while open: refused at once, nothing sent; other units unaffected
    await expect(session.read(9, 'holding', 0, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/unit 9 is not answering/) });
    const good = session.read(1, 'holding', 0, 1);
    await flush();
    expect(client().calls.map((c) => c.unit)).toEqual([1]);
    client().answer([5]);
    await expect(good).resolves.toEqual([5]);
    // after the backoff window: one probe goes out, a second request meanwhile is refused
    await jest.advanceTimersByTimeAsync(5000);
    const probe = session.read(9, 'holding', 0, 1);
    await expect(session.read(9, 'holding', 0, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(session.unitHealth(9).state).toBe('half-open');
    await flush();
    expect(client().calls.map((c) => c.unit)).toEqual([9]);
    // the probe fails: open again, with a longer window (backoff doubled)
    const failedProbe = probe.catch((e: DeviceError) => e.code);
    await jest.advanceTimersByTimeAsync(100);
    expect(await failedProbe).toBe('TIMEOUT');
    client().calls.length = 0;
    const h = session.unitHealth(9);
    expect(h.state).toBe('open');
    expect((h.retryAt as number) - Date.now()).toBe(10000);
    await jest.advanceTimersByTimeAsync(10000);
    const probe2 = session.read(9, 'holding', 0, 1);
    await flush();
    client().answer([1]);
    await expect(probe2).resolves.toEqual([1]);
    expect(session.unitHealth(9)).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(units.map((u) => u.state)).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    await session.close();
  });

  it('counts gateway exceptions 0A/0B as a missing unit', async () => {
    const { session, client } = setup({}, { breakerFailures: 2 });
    session.open();
    await flush();
    for (let i = 0; i < 2; i++) {
      const r = session.read(4, 'holding', 0, 1);
      await flush();
      client().fail(Object.assign(new Error('x'), { modbusCode: 11 }));
      await expect(r).rejects.toMatchObject({ exception: 'gateway target device failed to respond' });
    }
    expect(session.unitHealth(4).state).toBe('open');
    await session.close();
  });

  it('never has more than maxInFlight transactions outstanding, and RTU only one', async () => {
    const { session, client } = setup({ maxInFlight: 3 });
    session.open();
    await flush();
    const reads = Array.from({ length: 7 }, (_, i) => session.read(1, 'holding', i, 1));
    await flush();
    expect(client().calls).toHaveLength(3);
    expect(session.stats).toMatchObject({ inFlight: 3, queued: 4 });
    client().answer([0]);
    await flush();
    expect(client().calls).toHaveLength(3);
    while (client().calls.length) {
      client().answer([0]);
      await flush();
      expect(client().calls.length).toBeLessThanOrEqual(3);
    }
    await Promise.all(reads);
    await session.close();
    expect(normaliseConnection({ ...TCP, transport: 'rtu', serialPort: '/dev/ttyUSB0', maxInFlight: 8 }).maxInFlight).toBe(1);
    expect(normaliseConnection({ ...TCP, maxInFlight: 1000 }).maxInFlight).toBe(128);
  });

  it('serves units round-robin so one unit\'s backlog does not starve another', async () => {
    const { session, client } = setup();
    session.open();
    await flush();
    const reads = [1, 1, 1, 1, 2, 2].map((u) => session.read(u, 'holding', 0, 1));
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      await flush();
      order.push(client().answer([0]).unit);
    }
    await Promise.all(reads);
    expect(order).toEqual([1, 2, 1, 2, 1, 1]);
    await session.close();
  });

  it('bounds the waiting line', async () => {
    const { session } = setup({}, { maxQueue: 2 });
    session.open();
    await flush();
    const a = session.read(1, 'holding', 0, 1); // in flight
    const b = session.read(1, 'holding', 0, 1); // waiting
    const c = session.read(1, 'holding', 0, 1); // waiting
    await expect(session.read(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'OVERFLOW' });
    const all = Promise.allSettled([a, b, c]);
    await session.close();
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  it('fails fast while the link is down and reconnects with exponential backoff', async () => {
    const { session, clients, client, states } = setup();
    session.open();
    await flush();
    const pending = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.code);
    await flush();
    client().connect = 'fail';
    client().drop();
    expect(await pending).toBe('UNAVAILABLE');
    expect(session.state).toBe('backoff');
    await expect(session.read(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/link is down/) });
    // 1 s, then 2 s, then 4 s between attempts (jitter off)
    await jest.advanceTimersByTimeAsync(999);
    expect(clients).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(clients).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1999);
    expect(clients).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(clients).toHaveLength(3);
    expect(session.error).toMatch(/ECONNREFUSED/);
    client().connect = 'ok';
    await jest.advanceTimersByTimeAsync(4000);
    expect(clients).toHaveLength(4);
    expect(session.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected', 'backoff', 'connecting', 'backoff', 'connecting', 'backoff', 'connecting', 'connected']);
    // after a success the backoff starts again from the first delay
    client().connect = 'fail';
    client().drop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(clients).toHaveLength(5);
    await session.close();
  });

  it('gives up on a connect that hangs; requests waiting for it fail when it does', async () => {
    const { session, client } = setup({}, { connectTimeout: 3000, queueTimeout: 10000 });
    session.open();
    await flush();
    client().connect = 'hang'; // the next client inherits it
    client().drop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(session.state).toBe('connecting');
    const waiting = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.code);
    await jest.advanceTimersByTimeAsync(3000);
    expect(session.state).toBe('backoff');
    expect(session.error).toMatch(/no connection within 3000 ms/);
    expect(await waiting).toBe('UNAVAILABLE');
    await session.close();
  });

  it('a request waits at most queueTimeout for a slot', async () => {
    const { session } = setup({}, { queueTimeout: 50 });
    session.open();
    await flush();
    const first = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.message);
    const second = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.message);
    await jest.advanceTimersByTimeAsync(100);
    expect(await second).toMatch(/waited 50 ms for a free slot/);
    expect(await first).toMatch(/no answer within 100 ms/);
    await session.close();
  });

  it('reopens a TCP link when nothing answers any more', async () => {
    const { session, clients } = setup({}, { reconnectAfterTimeouts: 2, breakerFailures: 10 });
    session.open();
    await flush();
    const a = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.code);
    const b = session.read(2, 'holding', 0, 1).catch((e: DeviceError) => e.code);
    await jest.advanceTimersByTimeAsync(200);
    expect(await Promise.all([a, b])).toEqual(['TIMEOUT', 'TIMEOUT']);
    expect(session.state).toBe('backoff');
    expect(session.error).toMatch(/2 requests in a row got no answer/);
    await jest.advanceTimersByTimeAsync(1000);
    expect(clients).toHaveLength(2);
    expect(clients[0].destroyed).toBe(true);
    expect(session.state).toBe('connected');
    await session.close();
  });

  it('a dead unit\'s burst of timeouts does not drop the link while another unit answers, nor push its retry further out', async () => {
    const { session, client, states, units } = setup({ maxInFlight: 8 });
    session.open();
    await flush();
    const dead = Array.from({ length: 6 }, (_, i) => session.read(2, 'holding', i * 100, 1).catch((e: DeviceError) => e.code));
    const alive = session.read(1, 'holding', 0, 1);
    expect(client().calls).toHaveLength(7);
    const c = client().calls.splice(6, 1)[0];
    c.cb(null, { data: [7] });
    expect(await alive).toEqual([7]);
    await jest.advanceTimersByTimeAsync(100);
    expect(await Promise.all(dead)).toEqual(Array(6).fill('TIMEOUT'));
    client().calls.length = 0;
    expect(session.state).toBe('connected');
    expect(states).not.toContain('backoff');
    // One opening, one backoff step: retry after the initial 5 s, not 10 or 20 s.
    expect(units.filter((u) => u.state === 'open')).toHaveLength(1);
    expect((session.unitHealth(2).retryAt as number) - Date.now()).toBe(5000);
    const other = session.read(1, 'holding', 0, 1);
    client().answer([8]);
    expect(await other).toEqual([8]);
    await session.close();
  });

  it('failures sent before a breaker opened do not end the probe that follows', async () => {
    const { session, client, units } = setup({ maxInFlight: 8, timeout: 10_000 }, { breaker: { initial: 100, max: 1000, jitter: 0 } });
    session.open();
    await flush();
    const early = Array.from({ length: 4 }, (_, i) => session.read(2, 'holding', i, 1).catch((e: DeviceError) => e.message));
    for (let i = 0; i < 3; i++) client().fail(new Error('garbled'));
    expect(session.unitHealth(2).state).toBe('open');
    await jest.advanceTimersByTimeAsync(100);
    const probe = session.read(2, 'holding', 9, 1);
    expect(session.unitHealth(2).state).toBe('half-open');
    client().fail(new Error('garbled')); // the 4th early request
    expect(await early[3]).toMatch(/garbled/);
    expect(session.unitHealth(2).state).toBe('half-open');
    client().answer([5]);
    expect(await probe).toEqual([5]);
    expect(session.unitHealth(2).state).toBe('closed');
    expect(units.filter((u) => u.state === 'open')).toHaveLength(1);
    await session.close();
  });

  it('a request waiting behind requests that are being answered outlasts queueTimeout; with no answers it fails', async () => {
    const { session, client } = setup({ timeout: 1000 }, { queueTimeout: 100 });
    session.open();
    await flush();
    const reqs = Array.from({ length: 6 }, (_, i) => session.read(1, 'holding', i, 1));
    for (let i = 0; i < 5; i++) {
      await jest.advanceTimersByTimeAsync(60);
      client().answer([i]);
    }
    await jest.advanceTimersByTimeAsync(60);
    client().answer([5]);
    expect(await Promise.all(reqs)).toEqual([[0], [1], [2], [3], [4], [5]]);
    // Nothing answered: the one waiting fails after one queueTimeout with no answer.
    const first = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.message);
    const second = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.message);
    await jest.advanceTimersByTimeAsync(100);
    expect(await second).toMatch(/waited 100 ms for a free slot/);
    client().answer([1]);
    expect(await first).toEqual([1]);
    await session.close();
  });

  it('RTU: after a timeout the line stays quiet for one more timeout, so a late answer cannot be taken for the next request', async () => {
    const { session, client } = setup({ transport: 'rtu', serialPort: '/dev/ttyUSB0' });
    session.open();
    await flush();
    const a = session.read(1, 'holding', 0, 1).catch((e: DeviceError) => e.code);
    const b = session.read(1, 'holding', 100, 1);
    await jest.advanceTimersByTimeAsync(100);
    expect(await a).toBe('TIMEOUT');
    expect(client().calls).toHaveLength(1);
    client().answer([111]); // late answer to a: dropped
    await jest.advanceTimersByTimeAsync(99);
    expect(client().calls).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(client().calls).toHaveLength(1);
    expect(client().calls[0].address).toBe(100);
    client().answer([222]);
    expect(await b).toEqual([222]);
    await session.close();
  });

  it('explains a missing serialport for RTU', async () => {
    const s3 = new ModbusClientSession({ ...TCP, transport: 'rtu', serialPort: '/dev/ttyUSB0' }, {
      createClient: () => Object.assign(new FakeClient(), { connect: 'no-serialport' }) as unknown as ModbusClientLike,
    });
    const detail: (string | undefined)[] = [];
    s3.on('state', (_s: SessionState, d?: string) => detail.push(d));
    s3.open();
    await flush();
    expect(s3.state).toBe('backoff');
    expect(s3.error).toMatch(/optional package "serialport"/);
    expect(detail.join(' ')).toMatch(/npm install serialport/);
    await s3.close();
  });

  it('a garbled or short answer is a device error that counts against the unit', async () => {
    const { session, client } = setup();
    session.open();
    await flush();
    const garbled = session.read(1, 'holding', 0, 2);
    await flush();
    client().fail(new Error('CRC error'));
    await expect(garbled).rejects.toMatchObject({ code: 'DEVICE', message: expect.stringMatching(/unit 1: CRC error reading holding 0\+2/) });
    const short = session.read(1, 'holding', 0, 2);
    await flush();
    client().answer([1]);
    await expect(short).rejects.toThrow(/short answer/);
    expect(session.unitHealth(1)).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    await session.close();
  });

  it('a port found closed when sending reopens the link', async () => {
    const { session, client, clients } = setup();
    session.open();
    await flush();
    const r = session.read(1, 'holding', 0, 1);
    await flush();
    client().fail(Object.assign(new Error('Port Not Open'), { name: 'PortNotOpenError' }));
    await expect(r).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(session.state).toBe('backoff');
    expect(session.unitHealth(1).consecutiveFailures).toBe(0);
    await jest.advanceTimersByTimeAsync(1000);
    expect(clients).toHaveLength(2);
    expect(session.state).toBe('connected');
    await session.close();
  });

  it('mask-writes a register with FC22', async () => {
    const { session, client } = setup();
    const fake = () => client() as FakeClient & { writeFC22?: unknown };
    session.open();
    await flush();
    fake().writeFC22 = (u: number, a: number, and: number, or: number, cb: Cb) => fake().calls.push({ fc: 22, unit: u, address: a, arg: [and, or], cb });
    const w = session.maskWriteRegister(1, 7, 0xfffe, 0x0001);
    await flush();
    expect(client().calls[0]).toMatchObject({ fc: 22, unit: 1, address: 7, arg: [0xfffe, 1] });
    client().answer(undefined);
    await expect(w).resolves.toBeUndefined();
    await expect(session.maskWriteRegister(1, 7, 70000, 0)).rejects.toThrow(InputError);
    await session.close();
  });

  it('validates connection options', () => {
    expect(() => normaliseConnection({ ...TCP, transport: 'udp' as never })).toThrow(ConfigError);
    expect(() => normaliseConnection({ ...TCP, host: '' })).toThrow(/host/);
    expect(() => normaliseConnection({ ...TCP, timeout: 0 })).toThrow(/timeout/);
    expect(() => normaliseConnection({ ...TCP, maxInFlight: 0 })).toThrow(/maxInFlight/);
    expect(() => normaliseConnection({ ...TCP, port: 70000 })).toThrow(/port/);
    expect(() => normaliseConnection({ ...TCP, transport: 'rtu' })).toThrow(/serialPort/);
    expect(() => normaliseConnection({ ...TCP, transport: 'rtu', serialPort: 'COM3', parity: 'mark' as never })).toThrow(/parity/);
    expect(normaliseConnection({ ...TCP, transport: 'rtu', serialPort: 'COM3' })).toMatchObject({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 });
  });

  it('refuses requests before open and after close', async () => {
    const { session } = setup();
    await expect(session.read(1, 'holding', 0, 1)).rejects.toThrow(/not opened/);
    const s = createModbusSession(TCP, { createClient: () => new FakeClient() as unknown as ModbusClientLike });
    await flush();
    expect(s.state).toBe('connected');
    await s.close();
    await expect(s.read(1, 'holding', 0, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/closed/) });
  });
});
