/**
 * Session faults found in review, reproduced against the in-process simulator and the real
 * modbus-serial client (real timers, short timeouts): a dead unit's burst of timeouts, a long poll
 * on a slow device, and a simulator write to one unit leaking into the others.
 */
import { ModbusPoller } from '../../../nodes/modbus/poller';
import { createModbusSession, type ModbusClientSession } from '../../../nodes/modbus/session';
import { ModbusSimulator } from '../../../nodes/modbus/simulator';
import type { ConnectionOptions, PollResult, SessionState, TagDef, UnitHealth } from '../../../nodes/modbus/types';

const limits = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tags = (n: number): TagDef[] => Array.from({ length: n }, (_, i) => ({ name: `t${i}`, area: 'holding', address: i * 100, type: 'uint16' }));

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('Modbus session faults (simulator, real timers)', () => {
  let sim: ModbusSimulator | undefined;
  let session: ModbusClientSession | undefined;
  const pollers: ModbusPoller[] = [];

  afterEach(async () => {
    for (const p of pollers.splice(0)) p.stop();
    await session?.close();
    await sim?.stop();
    session = undefined;
    sim = undefined;
  });

  async function connect(simOptions: ConstructorParameters<typeof ModbusSimulator>[0], o: Partial<ConnectionOptions>, breakerJitter = 0.5) {
    sim = new ModbusSimulator(simOptions);
    const port = await sim.start();
    session = createModbusSession(
      { transport: 'tcp', host: '127.0.0.1', port, timeout: 500, maxInFlight: 1, limits, ...o },
      { breaker: { initial: 2000, max: 60_000, jitter: breakerJitter } },
    );
    const s = session;
    await waitFor(() => s.state === 'connected');
    return s;
  }

  it('a dead unit with all its blocks in flight (maxInFlight 8) neither drops the link nor fails its neighbour, and opens its breaker once', async () => {
    const s = await connect({ port: 0, unitIds: [1], tickMs: 0 }, { timeout: 200, maxInFlight: 8 }, 0);
    const states: SessionState[] = [];
    const opened: Array<{ at: number; h: UnitHealth }> = [];
    s.on('state', (st: SessionState) => states.push(st));
    s.on('unit', (h: UnitHealth) => {
      if (h.state === 'open') opened.push({ at: Date.now(), h });
    });
    const good = new ModbusPoller({ session: s, unitId: 1, tags: tags(2), limits });
    const dead = new ModbusPoller({ session: s, unitId: 2, tags: tags(6), limits });
    pollers.push(good, dead);
    const bad: PollResult[] = [];
    good.on('poll', (r: PollResult) => {
      if (r.bad) bad.push(r);
    });
    good.start(50);
    dead.start(300);
    await sleep(1500);
    expect(bad).toEqual([]);
    expect(states).not.toContain('backoff');
    expect(s.stats.reconnects).toBe(0);
    expect(s.state).toBe('connected');
    // The burst opened the breaker once, for the initial window, not 4-8 s or 60 s.
    expect(opened).toHaveLength(1);
    expect((opened[0].h.retryAt as number) - opened[0].at).toBeLessThanOrEqual(2100);
    expect(s.unitHealth(2).state).toBe('open');
  });

  it('a slow but healthy device gets every request of a poll longer than queueTimeout (maxInFlight 1)', async () => {
    const s = await connect({ port: 0, tickMs: 0, delayMs: 40 }, { timeout: 400, maxInFlight: 1 });
    const poller = new ModbusPoller({ session: s, unitId: 1, tags: tags(35), limits });
    pollers.push(poller);
    // 35 blocks x 40 ms = 1.4 s, past queueTimeout (3 x 400 ms).
    const r = await poller.pollOnce();
    expect(r.requests).toBe(35);
    expect(r.errors).toEqual([]);
    expect(r.failedRequests).toBe(0);
    expect(r.bad).toBe(0);
    expect(sim?.stats.requests).toBe(35);
    expect(s.unitHealth(1).state).toBe('closed');
  });

  it('simulator: a write to one unit stays in that unit across ticks (a constant without unitId)', async () => {
    const s = await connect(
      {
        port: 0,
        unitIds: [1, 2],
        tickMs: 0,
        signals: [
          { name: 'sp', area: 'holding', address: 0, type: 'int16', signal: 'constant', value: 10 },
          { name: 'c', area: 'coil', address: 0, type: 'bool', signal: 'constant', value: false },
        ],
      },
      {},
    );
    await s.writeRegisters(1, 0, [99]);
    await s.writeCoils(2, 0, [true]);
    sim?.tick();
    expect(await s.read(1, 'holding', 0, 1)).toEqual([99]);
    expect(await s.read(2, 'holding', 0, 1)).toEqual([10]);
    expect(await s.read(1, 'coil', 0, 1)).toEqual([false]);
    expect(await s.read(2, 'coil', 0, 1)).toEqual([true]);
    expect(sim?.getValue('sp', 1)).toBe(99);
    expect(sim?.getValue('sp', 2)).toBe(10);
    // setValue still sets every unit.
    sim?.setValue('sp', 5);
    sim?.tick();
    expect(await s.read(1, 'holding', 0, 1)).toEqual([5]);
    expect(await s.read(2, 'holding', 0, 1)).toEqual([5]);
  });
});
