import fc from 'fast-check';
import type { Timers } from '../../../nodes/analytics/event-clock';
import { lineOf, MAX_LINES, nextShiftStart, OeeEngine, parseShiftTimes, type OeeOptions, type OeeReport } from '../../../nodes/analytics/oee-calc';
import type { Quality, SampleValue } from '../../../nodes/shared/sample';


const DAY = Date.UTC(2026, 2, 10);
const H = 3_600_000;
const at = (hours: number) => DAY + hours * H;
// Shift times are wall-clock times in a zone: pin it, so the tests do not depend on the host's zone.
const base: OeeOptions = { idealCycleTime: 1, period: 0, resetAt: ['06:00', '14:00', '22:00'], countMode: 'increment', rollover: 0, timeZone: 'UTC' };
/** A clock that does not move: reports are for the last sample's time exactly. */
const frozen: Timers = { now: () => Date.UTC(2030, 0, 1), setTimeout: () => 0, clearTimeout: () => undefined };
/** Engines arm a timer for the next shift end: every engine made here is disposed after its test. */
const made: OeeEngine[] = [];
function mk(o: OeeOptions, timers: Timers = frozen): OeeEngine {
  const e = new OeeEngine(o, timers);
  made.push(e);
  return e;
}
afterEach(() => made.splice(0).forEach((e) => e.dispose()));
const fakeTimers = (): Timers => ({ now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as never) });

function feed(e: OeeEngine, tag: string, value: SampleValue, ts: number, quality: Quality = 'good'): OeeReport[] {
  return e.process({ tag, value, quality, ts });
}

/** The worked example: 8 h shift from 06:00, one hour stopped, 18848 good and 423 rejects. */
function workedShift(e: OeeEngine): void {
  feed(e, 'state', 'running', at(6));
  for (let h = 0; h < 7; h++) {
    feed(e, 'good', 2692, at(6.5 + h));
    feed(e, 'reject', 60, at(6.5 + h));
  }
  feed(e, 'good', 4, at(13.9));
  feed(e, 'reject', 3, at(13.9));
  feed(e, 'state', 'stopped', at(9));
  feed(e, 'state', 'running', at(10));
}

describe('OeeEngine: worked example', () => {
  it('480 min planned, 420 run, 1.0 s ideal, 19271 total, 18848 good: A 0.875, P 0.765, Q 0.978, OEE 0.654', () => {
    const e = mk(base, frozen);
    // Feed in time order: counts interleaved with the stop at 09:00 and the restart at 10:00.
    feed(e, 'state', true, at(6));
    feed(e, 'good', 2692, at(6.5));
    feed(e, 'reject', 60, at(6.5));
    feed(e, 'good', 2692, at(7.5));
    feed(e, 'reject', 60, at(7.5));
    feed(e, 'good', 2692, at(8.5));
    feed(e, 'reject', 60, at(8.5));
    feed(e, 'state', false, at(9));
    feed(e, 'state', true, at(10));
    for (let h = 10.5; h < 14; h += 1) {
      feed(e, 'good', 2692, at(h));
      feed(e, 'reject', 60, at(h));
    }
    feed(e, 'good', 4, at(13.9));
    feed(e, 'reject', 3, at(13.9));
    const [closing, ...more] = feed(e, 'state', true, at(14) + 1000);
    expect(more).toEqual([]);
    expect(closing).toMatchObject({ line: '', closing: true, ts: at(14), shiftStart: at(6), quality: 'good' });
    const f = closing.figures;
    expect(f.plannedTime).toBe(480 * 60);
    expect(f.runTime).toBe(420 * 60);
    expect(f.total).toBe(19271);
    expect(f.good).toBe(18848);
    expect(f.availability).toBeCloseTo(0.875, 12);
    expect(f.performance).toBeCloseTo(19271 / 25200, 12);
    expect(f.performance).toBeCloseTo(0.765, 3);
    expect(f.quality).toBeCloseTo(18848 / 19271, 12);
    expect(f.quality).toBeCloseTo(0.978, 3);
    expect(f.oee).toBeCloseTo(0.875 * (19271 / 25200) * (18848 / 19271), 12);
    expect(f.oee).toBeCloseTo(0.654, 3);
    // The next shift starts at 14:00, running, with nothing counted yet.
    const [now] = e.report();
    expect(now).toMatchObject({ closing: false, shiftStart: at(14), figures: { good: 0, total: 0, runTime: 1, plannedTime: 1 } });
    expect(now.ts).toBe(at(14) + 1000);
  });

  it('refuses a sample older than the line\'s previous one (workedShift feeds out of order)', () => {
    const e = mk(base);
    expect(() => workedShift(e)).toThrow(/earlier than line ""'s previous sample/);
  });
});

describe('OeeEngine: timers', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(at(6));
  });
  afterEach(() => jest.useRealTimers());

  it('reports every period and closes a shift by timer when no sample comes', () => {
    const e = mk({ ...base, period: 3600 }, fakeTimers());
    const reports: OeeReport[] = [];
    e.onReport = (r) => reports.push(...r);
    e.start();
    feed(e, 'state', 'running', at(6));
    feed(e, 'good', 3000, at(6));
    jest.advanceTimersByTime(H);
    expect(reports.map((r) => [r.closing, r.figures.plannedTime, r.figures.runTime, r.figures.performance])).toEqual([[false, 3600, 3600, 3000 / 3600]]);
    jest.advanceTimersByTime(7 * H);
    const closing = reports.filter((r) => r.closing);
    expect(closing).toHaveLength(1);
    expect(closing[0]).toMatchObject({ ts: at(14), figures: { plannedTime: 8 * 3600, runTime: 8 * 3600, good: 3000, availability: 1 } });
    e.dispose();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('takes a sample stamped before a periodic report that came after the previous sample (a poll in flight)', () => {
    const e = mk({ ...base, resetAt: [], period: 60 }, fakeTimers());
    const reports: OeeReport[] = [];
    e.onReport = (r) => reports.push(...r);
    e.start();
    feed(e, 'state', 'running', at(6));
    jest.advanceTimersByTime(59_990);
    // The poll started at 59.99 s; the report fires at 60 s; the sample arrives after it.
    jest.advanceTimersByTime(10);
    expect(reports).toHaveLength(1);
    expect(() => feed(e, 'good', 5, at(6) + 59_990)).not.toThrow();
    expect(e.report()[0].figures.good).toBe(5);
    // A sample older than the previous sample is still refused.
    expect(() => feed(e, 'good', 1, at(6) + 59_000)).toThrow(/earlier than/);
    e.dispose();
  });

  it('event time keeps the device clock offset between samples', () => {
    const e = mk({ ...base, resetAt: [] }, fakeTimers());
    // The PLC clock runs 10 minutes behind the host.
    feed(e, 'state', 'running', at(6) - 600_000);
    jest.advanceTimersByTime(30 * 60_000);
    const [r] = e.report();
    expect(r.ts).toBe(at(6.5) - 600_000);
    expect(r.figures.runTime).toBe(1800);
    e.dispose();
  });
});

describe('OeeEngine: counts, lines, quality', () => {
  it('absolute counters: the first value is the reference; rollover and resets are handled', () => {
    const e = mk({ ...base, countMode: 'counter', rollover: 65536 });
    feed(e, 'state', 1, at(6));
    feed(e, 'good', 65_000, at(6.1));
    feed(e, 'good', 65_530, at(6.2));
    feed(e, 'good', 4, at(6.3)); // wrapped: 6 + 4
    feed(e, 'reject', 10, at(6.3));
    feed(e, 'reject', 15, at(6.4));
    expect(e.report()[0].figures).toMatchObject({ good: 540, total: 545 });
    const r = mk({ ...base, countMode: 'counter' });
    feed(r, 'good', 100, at(6));
    feed(r, 'good', 150, at(6.1));
    feed(r, 'good', 20, at(6.2)); // reset to zero by the PLC, then 20 parts
    expect(r.report()[0].figures.good).toBe(70);
    expect(() => feed(e, 'good', 70_000, at(7))).toThrow(/not below rollover/);
  });

  it('increment mode takes true as one part (a pulse) and refuses negative counts', () => {
    const e = mk(base);
    feed(e, 'state', 'running', at(6));
    feed(e, 'good', true, at(6.1));
    feed(e, 'good', false, at(6.2));
    feed(e, 'good', 5, at(6.3));
    expect(e.report()[0].figures.good).toBe(6);
    expect(() => feed(e, 'reject', -1, at(6.4))).toThrow(/negative/);
    expect(() => feed(e, 'reject', 'many', at(6.4))).toThrow(/a count must be a number/);
  });

  it('keeps each line apart by tag prefix', () => {
    const e = mk(base);
    feed(e, 'line1/state', 'running', at(6));
    feed(e, 'line2/state', 'stopped', at(6));
    feed(e, 'line1/good', 100, at(7));
    feed(e, 'line2/good', 5, at(7));
    const [l1, l2] = e.report();
    expect([l1.line, l1.figures.availability, l1.figures.good]).toEqual(['line1', 1, 100]);
    expect([l2.line, l2.figures.availability, l2.figures.performance, l2.figures.good]).toEqual(['line2', 0, null, 5]);
    e.reset('line1');
    expect(e.lineNames).toEqual(['line2']);
  });

  it('bad input is not used, and marks the shift bad until the next shift', () => {
    const e = mk(base);
    feed(e, 'state', 'running', at(6));
    feed(e, 'state', 'stopped', at(7), 'bad');
    feed(e, 'good', 1000, at(7), 'bad');
    feed(e, 'good', null, at(7.5));
    feed(e, 'good', 10, at(8), 'uncertain');
    const [r] = e.report();
    expect(r.quality).toBe('bad');
    expect(r.figures).toMatchObject({ runTime: 2 * 3600, good: 10 });
    const [closing] = feed(e, 'good', 1, at(14.5));
    expect(closing.quality).toBe('bad');
    expect(e.report()[0].quality).toBe('good');
  });

  it('undefined ratios are null, not 0 or NaN', () => {
    const e = mk(base);
    feed(e, 'state', 'stopped', at(6));
    const [r] = e.report();
    expect(r.figures).toEqual({ availability: null, performance: null, quality: null, oee: null, runTime: 0, plannedTime: 0, good: 0, total: 0 });
  });

  it('refuses unknown signals, states and settings', () => {
    const e = mk(base);
    expect(() => feed(e, 'line1/speed', 1, at(6))).toThrow(/state, good or reject/);
    expect(() => feed(e, 'state', 'maybe', at(6))).toThrow(/"running"\/"stopped"/);
    expect(e.lineNames).toEqual([]);
    expect(() => e.report('nope')).toThrow(/no OEE data/);
    expect(() => new OeeEngine({ ...base, idealCycleTime: 0 })).toThrow(/idealCycleTime/);
    expect(() => new OeeEngine({ ...base, period: 0.5 })).toThrow(/period/);
    expect(() => new OeeEngine({ ...base, resetAt: ['25:00'] })).toThrow(/not a time of day/);
    expect(() => new OeeEngine({ ...base, rollover: -2 })).toThrow(/rollover/);
  });

  it('refuses new lines beyond MAX_LINES', () => {
    const e = mk(base);
    for (let i = 0; i < MAX_LINES; i++) feed(e, `l${i}/state`, true, at(6));
    expect(() => feed(e, 'extra/state', true, at(6))).toThrow(/more than 1000 lines/);
    expect(feed(e, 'l3/good', 1, at(7))).toEqual([]);
  });

  it('snapshot and restore continue the shift after a restart', () => {
    const e = mk(base);
    feed(e, 'state', 'running', at(6));
    feed(e, 'good', 100, at(7));
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    const r = mk(base);
    expect(r.restore({ ...saved, broken: { shiftStart: 'x' } })).toEqual(['broken']);
    feed(r, 'good', 50, at(8));
    const [rep] = r.report();
    expect(rep.figures).toMatchObject({ good: 150, runTime: 7200, plannedTime: 7200 });
    expect(() => feed(r, 'good', 1, at(7.5))).toThrow(/earlier/);
  });
});

describe('shift times', () => {
  it('parses lists, JSON and comma text; finds the next start', () => {
    expect(parseShiftTimes('["06:00","14:00"]')).toEqual([[6, 0], [14, 0]]);
    expect(parseShiftTimes('6:30, 18:30')).toEqual([[6, 30], [18, 30]]);
    expect(parseShiftTimes('')).toEqual([]);
    expect(nextShiftStart(at(23), [[6, 0], [22, 0]], 'UTC')).toBe(at(30));
    expect(nextShiftStart(at(6), [[6, 0]], 'UTC')).toBe(at(30));
    expect(nextShiftStart(at(6), [], 'UTC')).toBe(Infinity);
  });

  it('uses the wall clock of the time zone: 06:00 in Shanghai is 22:00 UTC the day before', () => {
    expect(nextShiftStart(at(12), [[6, 0]], 'Asia/Shanghai')).toBe(at(22));
    expect(nextShiftStart(at(12), [[6, 0], [14, 0]], 'Asia/Shanghai')).toBe(at(22));
  });

  it('follows daylight saving: 06:00 Berlin is 05:00 UTC in winter, 04:00 UTC in summer', () => {
    const before = Date.UTC(2026, 2, 28, 12); // Saturday; clocks go forward on Sunday 29 March
    expect(nextShiftStart(before, [[6, 0]], 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 4));
    expect(nextShiftStart(Date.UTC(2026, 2, 27, 12), [[6, 0]], 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 28, 5));
    // A shift start inside the skipped hour (02:30 does not exist that night) still comes once.
    const t = nextShiftStart(before, [[2, 30]], 'Europe/Berlin');
    expect(t).toBeGreaterThan(before);
    expect(t).toBeLessThan(Date.UTC(2026, 2, 29, 3));
  });

  it('refuses a time zone that does not exist', () => {
    expect(() => new OeeEngine({ ...base, timeZone: 'Mars/Olympus' })).toThrow(/not an IANA time zone/);
  });

  it('splits tags into line and signal', () => {
    expect(lineOf('good')).toEqual(['', 'good']);
    expect(lineOf('plant/line1/state')).toEqual(['plant/line1', 'state']);
  });
});

describe('OeeEngine: properties', () => {
  it('any time-ordered sequence gives ratios in range and run time within planned time', () => {
    const event = fc.record({
      dt: fc.integer({ min: 0, max: 3 * H }),
      tag: fc.constantFrom('state', 'good', 'reject'),
      v: fc.oneof(fc.boolean(), fc.integer({ min: 0, max: 500 })),
      q: fc.constantFrom<Quality>('good', 'uncertain', 'bad'),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 60 }), (events) => {
        const e = mk({ ...base, idealCycleTime: 0.1 }, frozen);
        let t = at(5);
        const reports: OeeReport[] = [];
        for (const ev of events) {
          t += ev.dt;
          reports.push(...feed(e, ev.tag, ev.v, t, ev.q));
        }
        reports.push(...e.report());
        for (const r of reports) {
          const f = r.figures;
          expect(f.runTime).toBeLessThanOrEqual(f.plannedTime + 1e-9);
          if (f.availability !== null) expect(f.availability >= 0 && f.availability <= 1 + 1e-12).toBe(true);
          if (f.quality !== null) expect(f.quality >= 0 && f.quality <= 1).toBe(true);
          expect(f.good).toBeLessThanOrEqual(f.total);
          for (const v of [f.availability, f.performance, f.quality, f.oee]) expect(v === null || Number.isFinite(v)).toBe(true);
          if (r.closing) expect(f.plannedTime).toBeLessThanOrEqual(8 * 3600);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses counts beyond exact integers', () => {
    const e = mk(base);
    expect(() => feed(e, 'good', 2 ** 60, at(6))).toThrow(/larger than/);
  });
});
