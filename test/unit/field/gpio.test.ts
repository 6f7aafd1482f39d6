import { GpioInput, type CountEvent, type GpioInputOptions, type StateEvent } from '../../../nodes/field/gpio-input';
import { GpioOutput, parseCommand, parsePulse } from '../../../nodes/field/gpio-output';
import { OnoffGpioChip, SimulatedGpioChip, openGpioChip, type Level } from '../../../nodes/field/gpio-bus';

const base: GpioInputOptions = { edge: 'both', debounce: 0, activeLow: false, mode: 'state', reportInterval: 1000 };

function wire(o: Partial<GpioInputOptions>, pin = 5) {
  const chip = new SimulatedGpioChip();
  const line = chip.openInput(pin);
  const input = new GpioInput({ ...base, ...o });
  const states: StateEvent[] = [];
  const counts: CountEvent[] = [];
  input.on('state', (s) => states.push(s));
  input.on('count', (c) => counts.push(c));
  line.watch((l) => input.level(l), (e) => { throw e; });
  input.start(line.read());
  return { chip, input, states, counts, line };
}

describe('GpioInput', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('reports the level at start, then every change (edge both)', () => {
    const { chip, states } = wire({});
    chip.set(5, 1);
    chip.set(5, 0);
    expect(states.map((s) => s.active)).toEqual([false, true, false]);
  });

  it('inverts with activeLow: a contact pulling the pin low is active', () => {
    const { chip, states } = wire({ activeLow: true });
    chip.set(5, 1);
    chip.set(5, 0);
    expect(states.map((s) => s.active)).toEqual([true, false, true]);
  });

  it('filters edges: rising reports only becoming active, falling only becoming inactive', () => {
    const r = wire({ edge: 'rising' });
    r.chip.set(5, 1);
    r.chip.set(5, 0);
    r.chip.set(5, 1);
    expect(r.states.map((s) => s.active)).toEqual([false, true, true]);
    const f = wire({ edge: 'falling' });
    f.chip.set(5, 1);
    f.chip.set(5, 0);
    expect(f.states.map((s) => s.active)).toEqual([false, false]);
  });

  it('debounces: contact bounce shorter than the debounce time is ignored', () => {
    const { chip, states } = wire({ debounce: 20 });
    // A bouncing contact closing: 1,0,1,0,1 within 8 ms, then held.
    for (const [t, l] of [[0, 1], [2, 0], [4, 1], [6, 0], [8, 1]] as [number, Level][]) {
      jest.setSystemTime(1_000_000 + t);
      chip.set(5, l);
      jest.advanceTimersByTime(2);
    }
    expect(states).toHaveLength(1); // only the start state so far
    jest.advanceTimersByTime(19);
    expect(states.map((s) => s.active)).toEqual([false, true]);
    // A glitch to 0 for 5 ms does not count either.
    chip.set(5, 0);
    jest.advanceTimersByTime(5);
    chip.set(5, 1);
    jest.advanceTimersByTime(50);
    expect(states.map((s) => s.active)).toEqual([false, true]);
  });

  it('counts pulses and reports a rate per second every report interval', () => {
    const { chip, counts } = wire({ mode: 'count', edge: 'rising', reportInterval: 1000 });
    // 25 pulses in the first second.
    for (let i = 0; i < 25; i++) {
      chip.set(5, 1);
      jest.advanceTimersByTime(20);
      chip.set(5, 0);
      jest.advanceTimersByTime(20);
    }
    expect(counts).toHaveLength(1);
    expect(counts[0]).toMatchObject({ total: 25, rate: 25 });
    // 10 pulses in the next two seconds: the rate is per report period.
    for (let i = 0; i < 5; i++) {
      chip.set(5, 1);
      chip.set(5, 0);
      jest.advanceTimersByTime(200);
    }
    jest.advanceTimersByTime(1000);
    expect(counts[1]).toMatchObject({ total: 30, rate: 5 });
    expect(counts[2]).toMatchObject({ total: 30, rate: 0 });
  });

  it('an on-demand report neither spikes the rate nor restarts the periodic window', () => {
    const { chip, input, counts } = wire({ mode: 'count', edge: 'rising', reportInterval: 1000 });
    const pulse = () => {
      chip.set(5, 1);
      chip.set(5, 0);
    };
    // Before the first period ends: the running rate since it began (4 pulses in 0.5 s).
    for (let i = 0; i < 4; i++) {
      jest.advanceTimersByTime(125);
      pulse();
    }
    expect(input.report()).toMatchObject({ total: 4, rate: 8 });
    // 10 Hz on; the periodic report still comes at 1000 ms (it fires before the pulse at 1000 ms).
    for (let i = 0; i < 5; i++) {
      jest.advanceTimersByTime(100);
      pulse();
    }
    expect(counts.map((c) => c.ts - 1_000_000)).toEqual([500, 1000]);
    expect(counts[1]).toMatchObject({ total: 8, rate: 8 });
    // A pulse then a poll 10 ms later: the rate of the last completed period, no spike.
    jest.advanceTimersByTime(5);
    pulse();
    jest.advanceTimersByTime(5);
    expect(input.report()).toMatchObject({ total: 10, rate: 8 });
    // The periodic window keeps its full length and holds the two pulses seen before the poll.
    jest.advanceTimersByTime(990);
    expect(counts).toHaveLength(4);
    expect(counts[3]).toMatchObject({ total: 10, rate: 2, ts: 1_000_000 + 2000 });
  });

  it('counts both edges when asked, continues from a saved total and can be reset', () => {
    const { chip, input } = wire({ mode: 'count', edge: 'both', initialTotal: 1000 });
    chip.set(5, 1);
    chip.set(5, 0);
    expect(input.total).toBe(1002);
    input.resetTotal();
    chip.set(5, 1);
    expect(input.report().total).toBe(1);
  });

  it('takes a saved total read back later (a whole number >= 0 only) and counts on from it', () => {
    const { chip, input } = wire({ mode: 'count', edge: 'rising' });
    for (const bad of [-1, 2.5, NaN, Infinity, '12', null, undefined, 2 ** 53]) expect([bad, input.restoreTotal(bad)]).toEqual([bad, false]);
    expect(input.total).toBe(0);
    expect(input.restoreTotal(41)).toBe(true);
    chip.set(5, 1);
    expect(input.total).toBe(42);
  });

  it('counts debounced pulses only', () => {
    const { chip, input } = wire({ mode: 'count', edge: 'rising', debounce: 5 });
    for (let i = 0; i < 10; i++) {
      chip.set(5, 1);
      jest.advanceTimersByTime(1); // bounce: not held for 5 ms
      chip.set(5, 0);
      jest.advanceTimersByTime(1);
    }
    jest.advanceTimersByTime(10);
    expect(input.total).toBe(0);
    chip.set(5, 1);
    jest.advanceTimersByTime(10);
    expect(input.total).toBe(1);
  });

  it('the simulated generator makes pulses at the set frequency', () => {
    const { chip, input } = wire({ mode: 'count', edge: 'rising' });
    const stopGen = chip.pulses(5, 10);
    jest.advanceTimersByTime(3000);
    stopGen();
    expect(input.total).toBe(30);
    jest.advanceTimersByTime(3000);
    expect(input.total).toBe(30);
  });

  it('stops its timers', () => {
    const { input, counts } = wire({ mode: 'count' });
    input.stop();
    jest.advanceTimersByTime(5000);
    expect(counts).toHaveLength(0);
  });

  it('refuses impossible settings', () => {
    expect(() => new GpioInput({ ...base, edge: 'up' as never })).toThrow(/edge/);
    expect(() => new GpioInput({ ...base, debounce: -1 })).toThrow(/debounce/);
    expect(() => new GpioInput({ ...base, mode: 'count', reportInterval: 0 })).toThrow(/report interval/);
  });
});

describe('GpioOutput', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes levels with activeLow applied', () => {
    const writes: Level[] = [];
    const out = new GpioOutput((l) => writes.push(l), true);
    out.set(true);
    out.set(false);
    expect(writes).toEqual([0, 1]);
  });

  it('pulses for N ms, and a new command cancels a pulse', () => {
    const chip = new SimulatedGpioChip();
    const line = chip.openOutput(22, 0);
    const out = new GpioOutput((l) => line.write(l), false);
    let ended = 0;
    out.pulse(500, () => ended++);
    expect(chip.get(22)).toBe(1);
    jest.advanceTimersByTime(499);
    expect(chip.get(22)).toBe(1);
    jest.advanceTimersByTime(1);
    expect(chip.get(22)).toBe(0);
    expect(ended).toBe(1);
    out.pulse(500);
    jest.advanceTimersByTime(100);
    out.set(true);
    jest.advanceTimersByTime(1000);
    expect(chip.get(22)).toBe(1);
  });

  it('ends a pulse in progress when stopped', () => {
    const chip = new SimulatedGpioChip();
    const line = chip.openOutput(23, 0);
    const out = new GpioOutput((l) => line.write(l), false);
    out.pulse(10_000);
    out.stop();
    expect(chip.get(23)).toBe(0);
  });

  it.each([
    [true, true], ['on', true], ['OFF', false], [0, false], ['1', true], ['low', false],
  ])('reads command %p', (raw, want) => expect(parseCommand(raw)).toBe(want));

  it.each([['banana'], [2], [NaN], [null], [{}], [[1]], [undefined]])('refuses command %p', (raw) => {
    expect(() => parseCommand(raw)).toThrow(/must be true\/false/);
  });

  it('validates pulse durations', () => {
    expect(parsePulse('250')).toBe(250);
    expect(() => parsePulse(-5)).toThrow(/duration in ms/);
    expect(() => parsePulse(Infinity)).toThrow(/duration in ms/);
    expect(() => parsePulse(1e9)).toThrow(/duration in ms/);
    expect(() => parsePulse('x')).toThrow(/"x"/);
  });
});

describe('GPIO chips', () => {
  it('loops a simulated output back to an input on the same pin', () => {
    const chip = new SimulatedGpioChip();
    const seen: Level[] = [];
    const input = chip.openInput(17);
    input.watch((l) => seen.push(l), () => undefined);
    const out = chip.openOutput(17, 1);
    out.write(0);
    input.close();
    out.write(1);
    expect(seen).toEqual([1, 0]);
  });

  it('hardware backend on this machine (no /sys/class/gpio) says so clearly', () => {
    expect(() => openGpioChip('hardware')).toThrow(/no GPIO on this machine: \/sys\/class\/gpio does not exist/);
  });

  it('reports a missing onoff module and an inaccessible sysfs', () => {
    expect(() => new OnoffGpioChip({ exists: () => true, load: () => { throw new Error('Cannot find module'); } })).toThrow(/optional onoff module/);
    const mod = { Gpio: Object.assign(function () { return undefined; }, { accessible: false }) };
    expect(() => new OnoffGpioChip({ exists: () => true, load: () => mod as never })).toThrow(/not accessible/);
  });

  it('refuses pin numbers outside Linux GPIO numbering', () => {
    const chip = new SimulatedGpioChip();
    expect(() => chip.openInput(-1)).toThrow(/pin must be/);
    expect(() => chip.openInput(1.5)).toThrow(/pin must be/);
  });
});
