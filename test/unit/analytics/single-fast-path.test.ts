/**
 * The single-form fast path of handleSamples (SampleInput.pushOne) against the general path
 * (samplesFromMessage, checkEventTimes, push, sendResults): for any sequence of single-form
 * messages, good or bad, both give the same messages out, the same errors and the same state.
 */
import fc from 'fast-check';
import { CounterRate } from '../../../nodes/analytics/counter-rate';
import { DeadbandFilter } from '../../../nodes/analytics/deadband-filter';
import { handleSamples, type Result, type SampleInput } from '../../../nodes/analytics/sample-output';
import { StatsEngine, STAT_NAMES, type StatName } from '../../../nodes/analytics/window';
import type { Quality, Sample, SampleMessage } from '../../../nodes/shared/sample';

const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
/** More than a day ahead of this host's clock: refused. */
const FUTURE = Date.now() + 2 * DAY;

/** The arrival clock both paths read for a message without a timestamp. */
let clock = NOW;
/** The wall clock the deadband heartbeat reads. */
let wall = 0;

/** An engine seen through SampleInput, with or without the fast path. */
interface Engine {
  push(samples: Sample[]): readonly Result[];
  pushOne(tag: string, value: number, quality: Quality, ts: number, unit: string | undefined): Result | undefined;
  reset(tag: string | undefined): void;
  /** What the engine keeps, for comparing the two after a run. */
  state(): unknown;
}

function inputOf(engine: Engine, fast: boolean): SampleInput<Result> {
  return {
    read: { defaultTag: 'dflt', now: () => clock },
    reset: (tag) => engine.reset(tag),
    push: (samples) => engine.push(samples),
    pushOne: fast ? (tag, value, quality, ts, unit) => engine.pushOne(tag, value, quality, ts, unit) : undefined,
    rejected: () => undefined,
    clone: (m) => ({ ...m }),
  };
}

const statsEngine = (o: ConstructorParameters<typeof StatsEngine>[0]): Engine => {
  const e = new StatsEngine(o);
  return {
    push: (samples) => e.push(samples, 0),
    pushOne: (tag, value, quality, ts, unit) => e.pushOne(tag, value, quality, ts, unit, 0),
    reset: (tag) => e.reset(tag),
    state: () => e.tagCount,
  };
};

const rateEngine = (o: ConstructorParameters<typeof CounterRate>[0]): Engine => {
  const e = new CounterRate(o);
  return {
    push: (samples) => e.push(samples),
    pushOne: (tag, value, quality, ts, unit) => e.pushOne(tag, value, quality, ts, unit),
    reset: (tag) => e.reset(tag),
    state: () => ({ tags: JSON.parse(JSON.stringify(e.state.tags)), count: e.tagCount, resets: e.resets }),
  };
};

const deadbandEngine = (o: ConstructorParameters<typeof DeadbandFilter>[0]): Engine => {
  const e = new DeadbandFilter(o);
  return {
    push: (samples) => e.push(samples, wall),
    pushOne: (tag, value, quality, ts, unit) => e.pushOne(tag, value, quality, ts, unit, wall),
    reset: (tag) => e.reset(tag),
    state: () => ({ count: e.tagCount, heartbeats: e.heartbeats(wall + 10_000) }),
  };
};

/** A message as it arrives, with the clocks it arrives at. */
interface Arrival {
  msg: SampleMessage;
  clockStep: number;
  wallStep: number;
}

/** One single-form message: mostly plain numbers in time order, and every kind of wrong input. */
const message: fc.Arbitrary<Arrival> = fc.record({
  msg: fc.record(
    {
      topic: fc.oneof(fc.constantFrom('a', 'b', 'c', ''), fc.constant(7)),
      payload: fc.oneof(
        { weight: 8, arbitrary: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 70_000 })) },
        { weight: 2, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 'high', '', true, false, null, -0) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>([1, 2], {}, { a: 1, b: 2 }, Buffer.from('x')) },
      ),
      quality: fc.oneof({ weight: 6, arbitrary: fc.constantFrom<unknown>(undefined, 'good', 'uncertain', 'bad', null) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('excellent', 2, {}) }),
      timestamp: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: -5, max: 20 }).map((d) => NOW + d) },
        { weight: 2, arbitrary: fc.constantFrom<unknown>(undefined, null) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<unknown>(NaN, Infinity, 1e16, -1e16, FUTURE, new Date(NOW + 3), new Date(NaN), '2026-06-01T00:00:00.010Z', 'yesterday', true),
        },
      ),
      unit: fc.constantFrom<unknown>(undefined, 'bar', '', 5),
      reset: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false) }),
      keep: fc.integer(),
    },
    { requiredKeys: ['payload', 'keep'] },
  ) as fc.Arbitrary<SampleMessage>,
  clockStep: fc.integer({ min: 0, max: 5 }),
  wallStep: fc.integer({ min: 0, max: 1500 }),
});

/** What a message gave: the messages sent (as they were then) or the error, host clock left out. */
function handle(input: SampleInput<Result>, msg: SampleMessage): unknown {
  const sent: unknown[] = [];
  try {
    handleSamples(msg, (m) => sent.push(structuredClone(m)), input);
  } catch (err) {
    return { error: (err as Error).message.replace(/this host's clock \([^)]*\)/, "this host's clock") };
  }
  return { sent };
}

/** Runs the messages through both paths, checking them message by message and the state after. */
function samePaths(make: () => Engine, arrivals: Arrival[]): void {
  const general = make();
  const fast = make();
  const generalIn = inputOf(general, false);
  const fastIn = inputOf(fast, true);
  clock = NOW;
  wall = 0;
  for (const { msg, clockStep, wallStep } of arrivals) {
    clock += clockStep;
    wall += wallStep;
    // Shallow copies: the handlers write the message's own properties, never inside its values.
    expect(handle(fastIn, { ...msg })).toEqual(handle(generalIn, { ...msg }));
  }
  expect(fast.state()).toEqual(general.state());
}

const RUNS = { numRuns: 150 };
const messages = fc.array(message, { minLength: 1, maxLength: 40 });

describe('single-form fast path = general path', () => {
  it('stats, every window and emit mode, any statistics', () => {
    const options = fc.record({
      window: fc.constantFrom('count' as const, 'time' as const),
      emit: fc.constantFrom('sample' as const, 'window' as const),
      count: fc.integer({ min: 1, max: 4 }),
      stats: fc.subarray([...STAT_NAMES] as StatName[], { minLength: 1 }),
      maxTags: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(options, messages, (o, arrivals) =>
        samePaths(
          () => statsEngine({ window: o.window, size: o.window === 'count' ? o.count : o.count * 0.004, emit: o.emit, stats: o.stats, maxTags: o.maxTags }),
          arrivals,
        ),
      ),
      RUNS,
    );
  });

  it('rate and total, with and without rollover', () => {
    const options = fc.record({
      mode: fc.constantFrom('rate' as const, 'total' as const),
      per: fc.constantFrom('s' as const, 'min' as const, 'h' as const),
      rollover: fc.constantFrom(0, 65536),
      maxTags: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(fc.property(options, messages, (o, arrivals) => samePaths(() => rateEngine(o), arrivals)), RUNS);
  });

  it('deadband, absolute and percent, with and without heartbeat', () => {
    const options = fc.record({
      mode: fc.constantFrom('absolute' as const, 'percent' as const),
      deadband: fc.constantFrom(0, 1, 500),
      heartbeat: fc.constantFrom(0, 1),
      maxTags: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(options, messages, (o, arrivals) =>
        samePaths(() => deadbandEngine({ ...o, deviation: 0, rangeLow: 0, rangeHigh: 1000 }), arrivals),
      ),
      RUNS,
    );
  });
});

describe('the fast path', () => {
  it('writes the result onto the message it came in, keeping the other properties', () => {
    const input = inputOf(statsEngine({ window: 'count', size: 2, emit: 'sample', stats: ['mean', 'count'] }), true);
    const sent: SampleMessage[] = [];
    const first = { topic: 'p', payload: 1, timestamp: NOW, unit: 'bar', _msgid: 'm1', keep: 'x' };
    handleSamples(first, (m) => sent.push(m as SampleMessage), input);
    handleSamples({ payload: 3, quality: 'uncertain', timestamp: NOW + 1 }, (m) => sent.push(m as SampleMessage), input);
    expect(sent[0]).toBe(first);
    expect(sent[0]).toEqual({ topic: 'p', payload: { mean: 1, count: 1 }, quality: 'good', timestamp: NOW, unit: 'bar', _msgid: 'm1', keep: 'x' });
    // No topic: the default tag, a window of its own; the results are separate objects.
    expect(sent[1]).toEqual({ topic: 'dflt', payload: { mean: 3, count: 1 }, quality: 'uncertain', timestamp: NOW + 1 });
    expect(sent[1].payload).not.toBe(sent[0].payload);
  });

  it('refuses out-of-order and far-future timestamps and leaves the tag as it was', () => {
    const input = inputOf(rateEngine({ mode: 'rate', per: 's', rollover: 0 }), true);
    const sent: SampleMessage[] = [];
    const send = (m: unknown) => sent.push(m as SampleMessage);
    handleSamples({ topic: 'c', payload: 10, timestamp: NOW }, send, input);
    expect(() => handleSamples({ topic: 'c', payload: 20, timestamp: NOW - 1 }, send, input)).toThrow(/older than the previous reading/);
    expect(() => handleSamples({ topic: 'c', payload: 20, timestamp: FUTURE }, send, input)).toThrow(/more than 24 h ahead/);
    handleSamples({ topic: 'c', payload: 20, timestamp: NOW + 1000 }, send, input);
    expect(sent).toEqual([{ topic: 'c', payload: 10, quality: 'good', timestamp: NOW + 1000 }]);
  });

  it('is not offered in swinging-door mode, which may archive two points for one sample', () => {
    const door = new DeadbandFilter({ mode: 'swinging-door', deadband: 0, deviation: 1, rangeLow: 0, rangeHigh: 100, heartbeat: 0 });
    expect(door.passesOneByOne).toBe(false);
    expect(() => door.pushOne('a', 1, 'good', NOW, undefined, 0)).toThrow(/absolute and percent/);
    expect(door.tagCount).toBe(0);
    expect(new DeadbandFilter({ mode: 'absolute', deadband: 1, deviation: 0, rangeLow: 0, rangeHigh: 100, heartbeat: 0 }).passesOneByOne).toBe(true);
  });
});
