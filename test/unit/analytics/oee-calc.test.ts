import fc from 'fast-check';
import type { Timers } from '../../../nodes/analytics/event-clock';
import { CLOSE_BUDGET, lineOf, MAX_LINES, nextShiftStart, OeeEngine, parseShiftTimes, ShiftCalendar, type OeeOptions, type OeeReport } from '../../../nodes/analytics/oee-calc';
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

/** Fake timers, the clock at 06:00 of the test day, for the tests of the describe block it is called in. */
function fakeClockAtSix(): void {
  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(at(6));
  });
  afterEach(() => jest.useRealTimers());
}

describe('OeeEngine: timers', () => {
  fakeClockAtSix();

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

  it('counter mode with rollover: only a drop of more than half the modulus is a wrap, any other drop is a device reset (the rate node\'s rule)', () => {
    const e = mk({ ...base, countMode: 'counter', rollover: 65536 });
    feed(e, 'state', 'running', at(6));
    feed(e, 'good', 12_000, at(6));
    feed(e, 'good', 12_500, at(7)); // +500
    feed(e, 'good', 0, at(7) + 1000); // the operator clears the PLC counter: a reset, not 53,536 parts
    feed(e, 'good', 20, at(8)); // +20
    feed(e, 'reject', 900, at(8));
    feed(e, 'reject', 3, at(8.5)); // a reset of the reject counter: +3
    const [r] = e.report();
    expect(r.figures).toMatchObject({ good: 520, total: 523, runTime: 2.5 * 3600 });
    expect(r.figures.performance).toBeCloseTo(523 / 9000, 12);
    // A real wrap still counts across it; a drop of exactly half the modulus is not more than half: a reset.
    const w = mk({ ...base, countMode: 'counter', rollover: 65536 });
    feed(w, 'good', 65_500, at(6));
    feed(w, 'good', 300, at(7)); // drop of 65,200: wrapped, +336
    feed(w, 'good', 33_068, at(8)); // +32,768
    feed(w, 'good', 300, at(9)); // drop of 32,768: reset, +300
    expect(w.report()[0].figures.good).toBe(336 + 32_768 + 300);
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

  it('OEE is 0, not null, once planned time has passed: a machine down all shift or running without parts (A x P x Q = good x ideal cycle / planned)', () => {
    const down = mk({ ...base, resetAt: ['06:00', '14:00'] });
    feed(down, 'state', 'fault', at(6));
    const [closing] = feed(down, 'state', 'fault', at(14) + 1);
    expect(closing.figures).toEqual({ availability: 0, performance: null, quality: null, oee: 0, runTime: 0, plannedTime: 8 * 3600, good: 0, total: 0 });
    const idle = mk(base);
    feed(idle, 'state', 'running', at(6));
    feed(idle, 'state', 'running', at(7));
    expect(idle.report()[0].figures).toEqual({ availability: 1, performance: 0, quality: null, oee: 0, runTime: 3600, plannedTime: 3600, good: 0, total: 0 });
    // Parts counted while the state says stopped: performance is undefined, OEE is still good x ideal cycle / planned.
    const stopped = mk({ ...base, idealCycleTime: 2 });
    feed(stopped, 'state', 'stopped', at(6));
    feed(stopped, 'good', 10, at(10));
    expect(stopped.report()[0].figures).toMatchObject({ availability: 0, performance: null, quality: 1, oee: 20 / (4 * 3600) });
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

  it('resolves a wall time that daylight saving skips or repeats as Date does for the host zone: the offset from before a gap, the first of a repeat', () => {
    // Worked by hand from the zones' 2026 rules: [zone, shift time, search from, the start, why].
    const cases: Array<[string, [number, number], number, number, string]> = [
      ['America/New_York', [2, 0], Date.UTC(2026, 2, 7, 12), Date.UTC(2026, 2, 8, 7), 'skipped (02:00 EST -> 03:00 EDT): at -5 h, 03:00 EDT'],
      ['America/New_York', [2, 30], Date.UTC(2026, 2, 7, 12), Date.UTC(2026, 2, 8, 7, 30), 'skipped: at -5 h, 03:30 EDT'],
      ['America/New_York', [1, 30], Date.UTC(2026, 9, 31, 12), Date.UTC(2026, 10, 1, 5, 30), 'repeated (02:00 EDT -> 01:00 EST): 01:30 EDT'],
      ['Europe/Berlin', [2, 30], Date.UTC(2026, 2, 28, 12), Date.UTC(2026, 2, 29, 1, 30), 'skipped (02:00 CET -> 03:00 CEST): at +1 h, 03:30 CEST'],
      ['Europe/Berlin', [2, 30], Date.UTC(2026, 9, 24, 12), Date.UTC(2026, 9, 25, 0, 30), 'repeated (03:00 CEST -> 02:00 CET): 02:30 CEST'],
      ['Australia/Lord_Howe', [1, 45], Date.UTC(2026, 3, 4), Date.UTC(2026, 3, 4, 14, 45), 'repeated (02:00 +11 -> 01:30 +10:30): 01:45 +11'],
      ['Australia/Lord_Howe', [2, 0], Date.UTC(2026, 3, 4), Date.UTC(2026, 3, 4, 15, 30), 'comes once, at +10:30'],
      ['Australia/Lord_Howe', [2, 15], Date.UTC(2026, 9, 3), Date.UTC(2026, 9, 3, 15, 45), 'skipped (02:00 +10:30 -> 02:30 +11): at +10:30, 02:45 +11'],
      ['America/Santiago', [0, 0], Date.UTC(2026, 8, 5, 12), Date.UTC(2026, 8, 6, 4), 'skipped (00:00 -04 -> 01:00 -03): at -4 h, 01:00 -03'],
      ['America/Santiago', [23, 30], Date.UTC(2026, 3, 4, 12), Date.UTC(2026, 3, 5, 2, 30), 'repeated (24:00 -03 -> 23:00 -04): 23:30 -03'],
      ['America/Santiago', [0, 0], Date.UTC(2026, 3, 4, 12), Date.UTC(2026, 3, 5, 4), 'comes once, at -4 h'],
    ];
    for (const [zone, time, from, want, why] of cases) {
      expect([zone, time, why, nextShiftStart(from, [time], zone)]).toEqual([zone, time, why, want]);
      const cal = new ShiftCalendar([time], zone);
      expect([zone, time, why, cal.next(from), cal.last(want + 60_000)]).toEqual([zone, time, why, want, want]);
    }
  });

  it('dates shifts right in the years 0-99 and before year 1 (Date.UTC reads 50 as 1950)', () => {
    // The instant of a UTC wall-clock time in any year, without Date.UTC's two-digit rule.
    const utc = (y: number, mo: number, d: number, h: number, mi = 0, s = 0) => {
      const t = new Date(0);
      t.setUTCFullYear(y, mo, d);
      t.setUTCHours(h, mi, s, 0);
      return t.getTime();
    };
    for (const y of [50, 0, -5, 99, 100, 2026]) {
      expect([y, nextShiftStart(utc(y, 5, 1, 12), [[6, 0]], 'UTC')]).toEqual([y, utc(y, 5, 2, 6)]);
      expect([y, nextShiftStart(utc(y, 11, 31, 23), [[6, 0]], 'UTC')]).toEqual([y, utc(y + 1, 0, 1, 6)]);
      // Berlin kept local mean time before 1893: 06:00 there was 05:06:32 UTC.
      if (y < 1893) expect([y, nextShiftStart(utc(y, 5, 1, 12), [[6, 0]], 'Europe/Berlin')]).toEqual([y, utc(y, 5, 2, 5, 6, 32)]);
      // The host's own zone: the shift starts at 06:00 by its clock.
      const local = nextShiftStart(utc(y, 5, 1, 12), [[6, 0]]);
      const d = new Date(local);
      expect([y, d.getFullYear(), d.getMonth(), d.getHours(), d.getMinutes()]).toEqual([y, y, 5, 6, 0]);
      expect(local - utc(y, 5, 1, 12)).toBeLessThanOrEqual(26 * H);
      expect(local).toBeGreaterThan(utc(y, 5, 1, 12));
    }
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

  it('OEE is null exactly when planned time is 0, and A x P x Q whenever all three are defined', () => {
    const event = fc.record({
      dt: fc.integer({ min: 0, max: 3 * H }),
      tag: fc.constantFrom('state', 'good', 'reject'),
      v: fc.oneof(fc.boolean(), fc.integer({ min: 0, max: 500 })),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), (events) => {
        const e = mk({ ...base, idealCycleTime: 0.1 }, frozen);
        let t = at(5);
        const reports: OeeReport[] = [];
        for (const ev of events) {
          t += ev.dt;
          reports.push(...feed(e, ev.tag, ev.v, t));
        }
        reports.push(...e.report());
        for (const { figures: f } of reports) {
          expect(f.oee === null).toBe(f.plannedTime === 0);
          if (f.availability !== null && f.performance !== null && f.quality !== null) {
            expect(f.oee).toBeCloseTo(f.availability * f.performance * f.quality, 9);
          }
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

describe('OeeEngine: long gaps (a budget of shift closes per call)', () => {
  const DAY_MS = 24 * H;
  /**
   * Sums the closing reports of one line, in order, and checks that they tile the time from `from`
   * to `to` with no gap or overlap, each with its run time within its planned time (plain checks
   * gathered into one result: thousands of expect calls would be most of the test's time).
   */
  function tiling(closing: OeeReport[], from: number): { from: number; to: number; tiled: boolean; plannedTime: number; runTime: number; good: number; total: number } {
    let to = from;
    let tiled = true;
    const sum = { plannedTime: 0, runTime: 0, good: 0, total: 0 };
    for (const r of closing) {
      const f = r.figures;
      if (r.shiftStart !== to || r.ts <= r.shiftStart || f.plannedTime !== (r.ts - r.shiftStart) / 1000 || f.runTime > f.plannedTime) tiled = false;
      to = r.ts;
      sum.plannedTime += f.plannedTime;
      sum.runTime += f.runTime;
      sum.good += f.good;
      sum.total += f.total;
    }
    return { from, to, tiled, ...sum };
  }
  /** What tiling() must give for a line that ran (or stood) from `from` to `to` and counted good/total in that time. */
  const tiled = (from: number, to: number, running: boolean, good: number, total: number) => ({
    from, to, tiled: true, plannedTime: (to - from) / 1000, runTime: running ? (to - from) / 1000 : 0, good, total,
  });

  it('one batch of 1,000 lines whose event time jumps a year makes at most CLOSE_BUDGET closing reports, counts and times kept', () => {
    const e = mk(base);
    const lines = Array.from({ length: MAX_LINES }, (_, i) => `l${i}`);
    for (const l of lines) {
      feed(e, `${l}/state`, true, at(6));
      feed(e, `${l}/good`, 5, at(7));
      feed(e, `${l}/reject`, 1, at(7));
    }
    // 2027-03-10 07:00 UTC: the line is one hour into the 06:00 shift; 1,095 shift ends lie between.
    const jump = at(7) + 365 * DAY_MS;
    const current = jump - H;
    const { reports, failure } = e.processBatch(lines.map((l) => ({ tag: `${l}/good`, value: 2, quality: 'good' as Quality, ts: jump })));
    expect(failure).toBeUndefined();
    expect(reports.length).toBeLessThanOrEqual(CLOSE_BUDGET);
    expect(reports.every((r) => r.closing)).toBe(true);
    const byLine = new Map<string, OeeReport[]>();
    for (const r of reports) {
      const mine = byLine.get(r.line);
      if (mine) mine.push(r);
      else byLine.set(r.line, [r]);
    }
    expect(byLine.size).toBe(MAX_LINES);
    const now = new Map(e.report().map((r) => [r.line, r]));
    for (const l of lines) {
      const closing = byLine.get(l)!;
      // An even share: nine shifts one by one (the first holds the counts before the gap), then the rest merged.
      expect(closing).toHaveLength(CLOSE_BUDGET / MAX_LINES);
      expect(closing.filter((r) => r.merged)).toEqual([closing[closing.length - 1]]);
      expect(closing[0].figures).toMatchObject({ good: 5, total: 6, plannedTime: 8 * 3600, runTime: 8 * 3600 });
      expect(tiling(closing, at(6))).toEqual(tiled(at(6), current, true, 5, 6));
      // The line is in its current shift, and the sample that made the jump counts there.
      expect(e.get(l)!.shiftStart).toBe(current);
      expect(now.get(l)).toMatchObject({ closing: false, shiftStart: current, figures: { good: 2, total: 2, plannedTime: 3600, runTime: 3600 } });
    }
  });

  it('one line after two months of hourly shifts: 1,000 reports at most, then it is in its current shift with run time within planned time', () => {
    const hourly = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
    const e = mk({ ...base, resetAt: hourly });
    feed(e, 'state', true, at(6));
    feed(e, 'good', 10, at(6.5));
    const jump = at(6.5) + 60 * DAY_MS;
    const closing = feed(e, 'good', 1, jump);
    expect(closing).toHaveLength(1000);
    expect(closing[999].merged).toBe(true);
    expect(closing.slice(0, 999).some((r) => r.merged)).toBe(false);
    expect(tiling(closing, at(6))).toEqual(tiled(at(6), jump - H / 2, true, 10, 10));
    const [now] = e.report();
    expect(now).toMatchObject({ shiftStart: jump - H / 2, figures: { good: 1, plannedTime: 1800, runTime: 1800 } });
  });

  it('a report request after the jump keeps to the budget as well, and closes nothing twice', () => {
    const e = mk({ ...base, closeBudget: 20 });
    for (let i = 0; i < 10; i++) {
      feed(e, `l${i}/state`, i % 2 === 0, at(6));
      feed(e, `l${i}/good`, i, at(6));
    }
    let wall = at(6);
    const step = mk({ ...base, closeBudget: 20 }, { now: () => wall, setTimeout: () => 0, clearTimeout: () => undefined });
    step.restore(JSON.parse(JSON.stringify(e.snapshot())));
    wall = at(6) + 30 * DAY_MS; // the host's clock stepped forward a month (NTP on a board without RTC)
    const out = step.report();
    const closing = out.filter((r) => r.closing);
    expect(closing).toHaveLength(20);
    for (let i = 0; i < 10; i++) {
      const mine = closing.filter((r) => r.line === `l${i}`);
      expect(mine.map((r) => r.merged === true)).toEqual([false, true]);
      expect(tiling(mine, at(6))).toEqual(tiled(at(6), wall, i % 2 === 0, i, i));
    }
    expect(step.report().filter((r) => r.closing)).toEqual([]);
  });

  it('refuses a close budget below one', () => {
    expect(() => new OeeEngine({ ...base, closeBudget: 0 })).toThrow(/closeBudget/);
  });

  describe('timers', () => {
    fakeClockAtSix();

    it('the periodic tick after the host clock stepped a month forward closes at most CLOSE_BUDGET shifts for 1,000 lines', () => {
      const e = mk({ ...base, period: 60 }, fakeTimers());
      const reports: OeeReport[][] = [];
      e.onReport = (r) => reports.push(r);
      e.start();
      const lines = Array.from({ length: MAX_LINES }, (_, i) => `l${i}`);
      for (const l of lines) {
        feed(e, `${l}/state`, true, at(6));
        feed(e, `${l}/good`, 3, at(6));
      }
      // The clock steps; the period timer (monotonic) fires a minute later and sees event time a month on.
      jest.setSystemTime(at(6) + 30 * DAY_MS);
      jest.advanceTimersByTime(60_000);
      expect(reports).toHaveLength(1);
      const closing = reports[0].filter((r) => r.closing);
      expect(closing.length).toBeLessThanOrEqual(CLOSE_BUDGET);
      expect(reports[0].filter((r) => !r.closing)).toHaveLength(MAX_LINES);
      const end = at(6) + 30 * DAY_MS;
      for (const l of [lines[0], lines[500], lines[999]]) {
        const mine = closing.filter((r) => r.line === l);
        expect(mine).toHaveLength(10);
        expect(tiling(mine, at(6))).toEqual(tiled(at(6), end, true, 3, 3));
      }
      e.dispose();
    });

    it('the shift-end timer after a clock step shares the budget by its lines', () => {
      const e = mk({ ...base, closeBudget: 40 }, fakeTimers());
      const reports: OeeReport[] = [];
      e.onReport = (r) => reports.push(...r);
      e.start();
      for (let i = 0; i < 10; i++) {
        feed(e, `l${i}/state`, true, at(6));
        feed(e, `l${i}/reject`, 2, at(7));
      }
      jest.setSystemTime(at(7) + 30 * DAY_MS);
      // The timer armed for the 14:00 shift end fires 7 h later; event time is then a month on.
      jest.advanceTimersByTime(7 * H);
      expect(reports).toHaveLength(40);
      for (let i = 0; i < 10; i++) {
        const mine = reports.filter((r) => r.line === `l${i}`);
        expect(mine.map((r) => r.merged === true)).toEqual([false, false, false, true]);
        expect(tiling(mine, at(6))).toEqual(tiled(at(6), at(14) + 30 * DAY_MS, true, 0, 2));
      }
      // Every line is in its current shift: the next shift end closes one shift each.
      reports.length = 0;
      jest.advanceTimersByTime(8 * H);
      expect(reports.map((r) => [r.closing, r.merged, r.figures.plannedTime])).toEqual(Array.from({ length: 10 }, () => [true, undefined, 8 * 3600]));
      e.dispose();
    });
  });
});

describe('shift calendar', () => {
  /** The shift-start search as it was before days were cached: the reference for the calendar. */
  const fmts = new Map<string, Intl.DateTimeFormat>();
  function refNext(t: number, times: Array<[number, number]>, timeZone: string): number {
    let fmt = fmts.get(timeZone);
    if (!fmt) {
      fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
      fmts.set(timeZone, fmt);
    }
    const wall = (x: number) => {
      const p: Record<string, number> = {};
      for (const part of fmt.formatToParts(new Date(x))) if (part.type !== 'literal') p[part.type] = Number(part.value);
      return { y: p.year, mo: p.month - 1, d: p.day, h: p.hour, mi: p.minute, s: p.second };
    };
    // As Date resolves the host's zone: a repeated wall time is its first occurrence, a skipped one
    // takes the offset from before the change. (This reference used to search the offset twice from
    // the wall time, which resolved gaps and repeats differently west and east of UTC.)
    const instant = (y: number, mo: number, d: number, h: number, mi: number) => {
      const w0 = Date.UTC(y, mo, d, h, mi);
      const offset = (x: number) => {
        const w = wall(x);
        return Date.UTC(w.y, w.mo, w.d, w.h, w.mi, w.s) - (x - (((x % 1000) + 1000) % 1000));
      };
      const shows = (x: number) => {
        const w = wall(x);
        return Date.UTC(w.y, w.mo, w.d, w.h, w.mi) === w0;
      };
      const early = w0 - offset(w0 - 36 * H);
      const fits = [early, w0 - offset(w0 + 36 * H)].filter(shows);
      return fits.length ? Math.min(...fits) : early;
    };
    const w = wall(t);
    let best = Infinity;
    for (let day = 0; day <= 2; day++) {
      for (const [h, m] of times) {
        const c = instant(w.y, w.mo, w.d + day, h, m);
        if (c > t && c < best) best = c;
      }
    }
    return best;
  }
  const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'America/Santiago', 'Asia/Shanghai'];
  const times: Array<[number, number]> = [[0, 0], [2, 30], [6, 0], [14, 0], [23, 30]];

  it('walks the same shift starts as the uncached search, across the daylight-saving changes of 2026', () => {
    // A week around each change (local dates; Shanghai has none): Santiago changes at midnight, Lord Howe by 30 minutes.
    const changes: Record<string, number[]> = {
      'Europe/Berlin': [Date.UTC(2026, 2, 29), Date.UTC(2026, 9, 25)],
      'America/New_York': [Date.UTC(2026, 2, 8), Date.UTC(2026, 10, 1)],
      'Australia/Lord_Howe': [Date.UTC(2026, 3, 5), Date.UTC(2026, 9, 4)],
      'America/Santiago': [Date.UTC(2026, 3, 5), Date.UTC(2026, 8, 6)],
      'Asia/Shanghai': [Date.UTC(2026, 0, 1)],
    };
    for (const zone of zones) {
      const cal = new ShiftCalendar(times, zone);
      for (const day of changes[zone]) {
        let t = day - 3 * 24 * H;
        const walk: Array<[number, number]> = [];
        for (let i = 0; i < 6 * times.length; i++) {
          const next = cal.next(t);
          // The start of the shift a moment is in is the start before it.
          walk.push([next, cal.last(next + (cal.next(next) - next) / 2)]);
          t = next;
        }
        t = day - 3 * 24 * H;
        const want: Array<[number, number]> = [];
        for (let i = 0; i < 6 * times.length; i++) {
          t = refNext(t, times, zone);
          want.push([t, t]);
        }
        expect([zone, walk]).toEqual([zone, want]);
      }
    }
  });

  it('any instant: the next start matches the uncached search and the last start is the shift it is in', () => {
    const cal = new Map(zones.map((z) => [z, new ShiftCalendar(times, z)]));
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) }), (zone, t) => {
        const c = cal.get(zone)!;
        expect(c.next(t)).toBe(refNext(t, times, zone));
        const last = c.last(t);
        expect(last).toBeLessThanOrEqual(t);
        expect(c.next(last)).toBeGreaterThan(t);
      }),
      { numRuns: 300 },
    );
  });

  it('with a time zone, a close reads the wall clock about once (a day\'s starts are worked out once), not ~19 times', () => {
    const spy = jest.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      const e = mk({ ...base, timeZone: 'Europe/Berlin' });
      for (let i = 0; i < 10; i++) feed(e, `l${i}/state`, true, at(6));
      spy.mockClear();
      const { reports } = e.processBatch(Array.from({ length: 10 }, (_, i) => ({ tag: `l${i}/good`, value: 1, quality: 'good' as Quality, ts: at(6) + 100 * 24 * H })));
      expect(reports).toHaveLength(10 * 300);
      expect(spy.mock.calls.length).toBeLessThan(2 * reports.length);
    } finally {
      spy.mockRestore();
    }
  });
});
