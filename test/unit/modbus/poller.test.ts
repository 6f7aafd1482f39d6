/** The poller against a scripted session with fake timers (poller-sim.test.ts uses the simulator). */
import { encodeTag } from '../../../nodes/modbus/codec';
import { ModbusPoller } from '../../../nodes/modbus/poller';
import type { Area, ModbusSession, PollResult, TagDef } from '../../../nodes/modbus/types';
import { ConfigError, DeviceError } from '../../../nodes/shared/errors';

const limits = { maxRegisters: 125, maxBits: 2000, maxGap: 10 };
const flush = () => jest.advanceTimersByTimeAsync(0);

interface Req {
  unitId: number;
  area: Area;
  start: number;
  count: number;
  resolve: (v: number[] | boolean[]) => void;
  reject: (e: Error) => void;
}

function scriptedSession() {
  const reqs: Req[] = [];
  const session: Pick<ModbusSession, 'read'> = {
    read: (unitId, area, start, count) => new Promise((resolve, reject) => reqs.push({ unitId, area, start, count, resolve, reject })),
  };
  return { session, reqs };
}

const tags: TagDef[] = [
  { name: 'temp', area: 'holding', address: 0, type: 'float32', unit: '°C' },
  { name: 'level', area: 'holding', address: 2, type: 'int16', scale: 0.1 },
  { name: 'far', area: 'holding', address: 100, type: 'uint16' },
  { name: 'run', area: 'coil', address: 5, type: 'bool' },
];

describe('ModbusPoller', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('plans once, decodes every tag, and keeps tag order and units', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 3, tags, limits, now: () => 1000 });
    expect(p.blocks.map((b) => [b.area, b.start, b.count])).toEqual([
      ['holding', 0, 3],
      ['holding', 100, 1],
      ['coil', 5, 1],
    ]);
    const poll = p.pollOnce();
    await flush();
    expect(reqs.map((r) => [r.unitId, r.area, r.start, r.count])).toEqual([
      [3, 'holding', 0, 3],
      [3, 'holding', 100, 1],
      [3, 'coil', 5, 1],
    ]);
    reqs[0].resolve([...encodeTag(tags[0], 21.5), 235]);
    reqs[1].resolve([7]);
    reqs[2].resolve([true]);
    const r = await poll;
    expect(r).toEqual({
      samples: [
        { tag: 'temp', value: 21.5, quality: 'good', unit: '°C' },
        { tag: 'level', value: 23.5, quality: 'good' },
        { tag: 'far', value: 7, quality: 'good' },
        { tag: 'run', value: true, quality: 'good' },
      ],
      tags,
      values: [21.5, 23.5, 7, true],
      good: [true, true, true, true],
      bad: 0,
      ts: 1000,
      requests: 3,
      failedRequests: 0,
      durationMs: 0,
      errors: [],
    });
  });

  it('reports tags of a failed block as bad with their last value (null before any)', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 1, tags, limits });
    let poll = p.pollOnce();
    await flush();
    reqs[0].reject(new DeviceError('unit 1: no answer'));
    reqs[1].resolve([7]);
    reqs[2].resolve([false]);
    let r = await poll;
    expect(r.samples.map((s) => [s.tag, s.value, s.quality])).toEqual([
      ['temp', null, 'bad'],
      ['level', null, 'bad'],
      ['far', 7, 'good'],
      ['run', false, 'good'],
    ]);
    expect(r.failedRequests).toBe(1);
    expect(r.errors).toEqual(['holding 0+3: unit 1: no answer']);
    reqs.length = 0;
    poll = p.pollOnce();
    await flush();
    reqs[0].resolve([...encodeTag(tags[0], 1.5), 10]);
    reqs[1].reject(new Error('boom'));
    reqs[2].reject(new Error('boom'));
    r = await poll;
    expect(r.samples.map((s) => [s.value, s.quality])).toEqual([
      [1.5, 'good'],
      [1, 'good'],
      [7, 'bad'],
      [false, 'bad'],
    ]);
    expect(p.lastValues()).toEqual({ temp: 1.5, level: 1, far: 7, run: false });
  });

  it('marks a NaN float and a short answer bad without losing the other tags', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 1, tags: tags.slice(0, 2), limits });
    const poll = p.pollOnce();
    await flush();
    reqs[0].resolve([0x7fc0, 0, 5]);
    const r = await poll;
    expect(r.samples).toEqual([
      { tag: 'temp', value: null, quality: 'bad', unit: '°C' },
      { tag: 'level', value: 0.5, quality: 'good' },
    ]);
    expect(r.errors[0]).toMatch(/"temp": the device sent NaN/);
    const poll2 = p.pollOnce();
    await flush();
    reqs[1].resolve([1]);
    const r2 = await poll2;
    expect(r2.samples.map((s) => s.quality)).toEqual(['bad', 'bad']);
    expect(r2.samples[1].value).toBe(0.5);
    expect(r2.errors.join()).toMatch(/needs/);
  });

  it('skips a poll that is due while one runs, counts it, and never queues it', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 1, tags: [tags[2]], limits });
    const results: PollResult[] = [];
    const overruns: number[] = [];
    p.on('poll', (r: PollResult) => results.push(r));
    p.on('overrun', (n: number) => overruns.push(n));
    p.start(100);
    await flush();
    expect(reqs).toHaveLength(1); // polls at once
    await jest.advanceTimersByTimeAsync(350); // due at 100, 200, 300: all skipped
    expect(reqs).toHaveLength(1);
    expect(overruns).toEqual([1, 2, 3]);
    reqs[0].resolve([42]);
    await jest.advanceTimersByTimeAsync(0);
    expect(results).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(50); // due at 400: runs
    expect(reqs).toHaveLength(2);
    reqs[1].resolve([43]);
    await jest.advanceTimersByTimeAsync(0);
    expect(results.map((r) => r.samples[0].value)).toEqual([42, 43]);
    expect(p.overruns).toBe(3);
    p.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(reqs).toHaveLength(2);
    expect(p.started).toBe(false);
  });

  it('pollOnce during a running poll shares it', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 1, tags: [tags[2]], limits });
    const a = p.pollOnce();
    const b = p.pollOnce();
    expect(a).toBe(b);
    await flush();
    expect(reqs).toHaveLength(1);
    reqs[0].resolve([1]);
    await a;
    void p.pollOnce();
    await flush();
    expect(reqs).toHaveLength(2);
  });

  it('a listener that throws does not stop the loop', async () => {
    const { session, reqs } = scriptedSession();
    const p = new ModbusPoller({ session, unitId: 1, tags: [tags[2]], limits });
    const seen: unknown[] = [];
    p.on('poll', () => {
      throw new Error('listener bug');
    });
    p.on('error', (e: Error) => seen.push(e.message));
    p.start(100);
    await flush();
    reqs[0].resolve([1]);
    await jest.advanceTimersByTimeAsync(100);
    expect(reqs).toHaveLength(2);
    expect(seen).toEqual(['listener bug']);
    p.stop();
  });

  it('a session that throws instead of rejecting still gives a result', async () => {
    const session: Pick<ModbusSession, 'read'> = {
      read: () => {
        throw new Error('not a promise');
      },
    };
    const p = new ModbusPoller({ session, unitId: 1, tags: [tags[2]], limits });
    const r = await p.pollOnce();
    expect(r.samples[0]).toMatchObject({ value: null, quality: 'bad' });
    expect(r.errors).toEqual(['holding 100+1: not a promise']);
  });

  it('refuses settings that cannot work', () => {
    const { session } = scriptedSession();
    expect(() => new ModbusPoller({ session, unitId: 1, tags: [], limits })).toThrow(/no tags/);
    expect(() => new ModbusPoller({ session, unitId: 300, tags, limits })).toThrow(/unit id/);
    expect(() => new ModbusPoller({ session, unitId: 1, tags: [tags[0], { ...tags[1], name: 'temp' }], limits })).toThrow(/unique/);
    expect(() => new ModbusPoller({ session, unitId: 1, tags: [{ ...tags[0], type: 'float128' as never }], limits })).toThrow(ConfigError);
    expect(() => new ModbusPoller({ session: {} as never, unitId: 1, tags, limits })).toThrow(/session/);
    const p = new ModbusPoller({ session, unitId: 1, tags, limits });
    expect(() => p.start(0)).toThrow(/interval/);
    expect(() => p.start(NaN)).toThrow(/interval/);
  });
});
