import fc from 'fast-check';
import { AlarmEngine, MAX_ALARM_TAGS, type AlarmEvent, type AlarmOptions } from '../../../nodes/analytics/alarm-state';
import type { Timers } from '../../../nodes/analytics/event-clock';
import type { Quality } from '../../../nodes/shared/sample';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const base: AlarmOptions = { high: 80, highHigh: 90, low: 20, lowLow: 10, hysteresis: 2, onDelay: 0, offDelay: 0, latch: false, priority: 'high' };

function fakeTimers(): Timers {
  return { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as never) };
}

/** Feeds a value at T0 + seconds and returns the states it produced. */
function feed(e: AlarmEngine, value: number | null, s: number, tag = 'p', quality: Quality = 'good'): AlarmEvent[] {
  return e.process({ tag, value, quality, ts: T0 + s * 1000 });
}
const states = (ev: AlarmEvent[]) => ev.map((x) => `${x.state}:${x.level}`);

describe('AlarmEngine: ISA-18.2 transitions', () => {
  let e: AlarmEngine;
  beforeEach(() => {
    e = new AlarmEngine(base);
  });
  afterEach(() => e.dispose());

  it('A -> B: normal to unack when the value crosses a limit; output carries value, since, priority', () => {
    expect(feed(e, 50, 0)).toEqual([]);
    const [ev] = feed(e, 85, 1);
    expect(ev).toMatchObject({ tag: 'p', state: 'unack', level: 'H', value: 85, since: T0 + 1000, previous: 'normal', priority: 'high', quality: 'good' });
  });

  it('B -> C -> A: acknowledged, then normal on return (non-latching)', () => {
    feed(e, 85, 0);
    expect(states(e.acknowledge('p', T0 + 2000))).toEqual(['acked:H']);
    expect(e.get('p')?.since).toBe(T0 + 2000);
    expect(states(feed(e, 50, 3))).toEqual(['normal:null']);
  });

  it('B -> D -> A: return before acknowledgement waits in rtn-unack, the ack clears it', () => {
    feed(e, 85, 0);
    const [rtn] = feed(e, 50, 1);
    expect(rtn).toMatchObject({ state: 'rtn-unack', level: 'H', previous: 'unack', since: T0 + 1000 });
    expect(feed(e, 51, 2)).toEqual([]);
    expect(states(e.acknowledge('p', T0 + 3000))).toEqual(['normal:null']);
  });

  it('D -> B: a re-alarm from rtn-unack is annunciated again', () => {
    feed(e, 15, 0);
    feed(e, 50, 1);
    expect(states(feed(e, 12, 2))).toEqual(['unack:L']);
  });

  it('latching: an acknowledged alarm that clears waits in rtn-unack until acknowledged again', () => {
    const l = new AlarmEngine({ ...base, latch: true });
    feed(l, 95, 0);
    l.acknowledge('p', T0 + 1000);
    expect(states(feed(l, 50, 2))).toEqual(['rtn-unack:HH']);
    expect(feed(l, 50, 60)).toEqual([]);
    expect(l.get('p')?.state).toBe('rtn-unack');
    expect(states(l.acknowledge('p', T0 + 61_000))).toEqual(['normal:null']);
  });

  it('an acknowledgement stamped before the last sample takes effect at that sample, not before', () => {
    feed(e, 85, 10);
    const [ack] = e.acknowledge('p', T0);
    expect(ack).toMatchObject({ state: 'acked', since: T0 + 10_000, ts: T0 + 10_000 });
  });

  it('acknowledging a normal or acked alarm changes nothing; an unknown tag is an error', () => {
    feed(e, 50, 0);
    expect(e.acknowledge('p')).toEqual([]);
    feed(e, 85, 1);
    e.acknowledge('p', T0 + 2000);
    expect(e.acknowledge('p', T0 + 3000)).toEqual([]);
    expect(() => e.acknowledge('nope')).toThrow(/no alarm for tag "nope"/);
  });

  it('escalation H -> HH re-annunciates an acknowledged alarm; de-escalation keeps the acknowledgement', () => {
    feed(e, 85, 0);
    e.acknowledge('p', T0 + 1000);
    expect(states(feed(e, 92, 2))).toEqual(['unack:HH']);
    e.acknowledge('p', T0 + 3000);
    // 89 is inside HH's hysteresis (90 - 2): still HH.
    expect(feed(e, 89, 4)).toEqual([]);
    const [down] = feed(e, 87, 5);
    expect(down).toMatchObject({ state: 'acked', level: 'H', since: T0 + 3000 });
  });

  it('de-escalation of an unacknowledged HH stays unack at H', () => {
    feed(e, 95, 0);
    expect(states(feed(e, 85, 1))).toEqual(['unack:H']);
  });

  it('hysteresis: the alarm returns only below limit - hysteresis (and above for low limits)', () => {
    feed(e, 80, 0);
    expect(e.get('p')?.state).toBe('unack');
    expect(feed(e, 78.5, 1)).toEqual([]);
    expect(states(feed(e, 78, 2))).toEqual(['rtn-unack:H']);
    e.acknowledge('p', T0 + 3000);
    feed(e, 20, 4);
    expect(feed(e, 21.9, 5)).toEqual([]);
    expect(states(feed(e, 22, 6))).toEqual(['rtn-unack:L']);
  });

  it('a jump from high straight to low is a new low alarm', () => {
    feed(e, 85, 0);
    expect(states(feed(e, 5, 1))).toEqual(['unack:LL']);
  });

  it('shelve hides an alarm, unshelve annunciates it again if still active, or returns to normal', () => {
    feed(e, 85, 0);
    const [sh] = e.shelve('p', 600, T0 + 1000);
    expect(sh).toMatchObject({ state: 'shelved', previous: 'unack', level: 'H' });
    expect(feed(e, 95, 2)).toEqual([]); // escalation while shelved stays silent
    expect(states(e.unshelve('p', T0 + 3000))).toEqual(['unack:HH']);
    e.shelve('p', 600, T0 + 4000);
    feed(e, 50, 5);
    expect(states(e.unshelve('p', T0 + 6000))).toEqual(['normal:null']);
  });

  it('a shelf runs out in event time when a later sample passes its end', () => {
    feed(e, 85, 0);
    e.shelve('p', 60, T0);
    expect(feed(e, 86, 59)).toEqual([]);
    const ev = feed(e, 86, 61);
    expect(ev.map((x) => [x.state, x.ts])).toEqual([['unack', T0 + 60_000]]);
  });

  it('refuses shelving without a sensible duration', () => {
    expect(() => e.shelve('p', 0)).toThrow(/duration/);
    expect(() => e.shelve('p', NaN)).toThrow(/duration/);
    expect(() => e.shelve('p', 8 * 24 * 3600)).toThrow(/duration/);
  });

  it('bad quality neither raises nor clears; it is reported once, and again when good returns', () => {
    feed(e, 85, 0);
    const bad = feed(e, 10, 1, 'p', 'bad');
    expect(bad).toEqual([expect.objectContaining({ state: 'unack', level: 'H', quality: 'bad' })]);
    expect(feed(e, null, 2, 'p', 'bad')).toEqual([]);
    const back = feed(e, 86, 3);
    expect(back).toEqual([expect.objectContaining({ state: 'unack', level: 'H', quality: 'good', value: 86 })]);
  });

  it('uncertain input is evaluated and the result is marked uncertain', () => {
    const [ev] = feed(e, 85, 0, 'p', 'uncertain');
    expect(ev).toMatchObject({ state: 'unack', quality: 'uncertain' });
  });

  it('keeps state per tag', () => {
    feed(e, 85, 0, 'a');
    feed(e, 50, 0, 'b');
    expect(e.get('a')?.state).toBe('unack');
    expect(e.get('b')?.state).toBe('normal');
    e.reset('a');
    expect(e.get('a')).toBeUndefined();
    expect(e.get('b')).toBeDefined();
  });

  it('lists alarms that are not normal, oldest first', () => {
    feed(e, 85, 5, 'late');
    feed(e, 5, 1, 'early');
    feed(e, 50, 0, 'fine');
    expect(e.list().map((x) => [x.tag, x.state, x.level])).toEqual([['early', 'unack', 'LL'], ['late', 'unack', 'H']]);
  });

  it('refuses out-of-order timestamps and non-numbers, leaving the state unchanged', () => {
    feed(e, 85, 10);
    expect(() => feed(e, 50, 5)).toThrow(/earlier than the previous/);
    expect(e.get('p')?.state).toBe('unack');
    expect(() => e.process({ tag: 'p', value: 'hot', quality: 'good', ts: T0 + 11_000 })).toThrow(/must be a number/);
  });

  it('refuses impossible settings', () => {
    expect(() => new AlarmEngine({ ...base, high: undefined, highHigh: undefined, low: undefined, lowLow: undefined })).toThrow(/at least one limit/);
    expect(() => new AlarmEngine({ ...base, high: 95 })).toThrow(/limits must increase/);
    expect(() => new AlarmEngine({ ...base, hysteresis: -1 })).toThrow(/hysteresis/);
    expect(() => new AlarmEngine({ ...base, onDelay: NaN })).toThrow(/onDelay/);
  });

  it('snapshot and restore carry the states over a restart; unreadable entries are rejected', () => {
    feed(e, 85, 0, 'a');
    feed(e, 5, 0, 'b');
    e.acknowledge('b', T0 + 1000);
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    const r = new AlarmEngine(base);
    expect(r.restore({ ...saved, junk: { state: 'weird' } })).toEqual(['junk']);
    expect(r.get('a')).toMatchObject({ state: 'unack', level: 'H' });
    expect(states(r.acknowledge('a', T0 + 2000))).toEqual(['acked:H']);
    expect(states(feed(r, 50, 3, 'b'))).toEqual(['normal:null']);
    expect(() => feed(r, 1, -5, 'a')).toThrow(/earlier/);
  });
});

describe('AlarmEngine: bounds', () => {
  it('refuses new tags beyond MAX_ALARM_TAGS, keeps serving known ones', () => {
    const e = new AlarmEngine(base);
    for (let i = 0; i < MAX_ALARM_TAGS; i++) e.process({ tag: `t${i}`, value: 50, quality: 'good', ts: T0 });
    expect(() => e.process({ tag: 'one-too-many', value: 50, quality: 'good', ts: T0 })).toThrow(/more than 10000 tags/);
    expect(() => e.shelve('one-too-many', 60, T0)).toThrow(/more than 10000 tags/);
    expect(states(e.process({ tag: 't7', value: 85, quality: 'good', ts: T0 + 1 }))).toEqual(['unack:H']);
  });
});

describe('AlarmEngine: delays in event time', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(T0);
  });
  afterEach(() => jest.useRealTimers());

  it('on-delay: the condition must hold onDelay seconds of sample time', () => {
    const e = new AlarmEngine({ ...base, onDelay: 5 }, fakeTimers());
    expect(feed(e, 85, 0)).toEqual([]);
    expect(feed(e, 86, 4)).toEqual([]);
    const ev = feed(e, 87, 6);
    expect(ev.map((x) => [x.state, x.since, x.value])).toEqual([['unack', T0 + 5000, 86]]);
    e.dispose();
  });

  it('on-delay: a dip below the limit restarts the delay', () => {
    const e = new AlarmEngine({ ...base, onDelay: 5 }, fakeTimers());
    feed(e, 85, 0);
    feed(e, 70, 3);
    feed(e, 85, 4);
    expect(feed(e, 85, 8)).toEqual([]);
    expect(states(feed(e, 85, 9))).toEqual(['unack:H']);
    e.dispose();
  });

  it('on-delay completes by timer when samples stop, in event time (device clock offset kept)', () => {
    const e = new AlarmEngine({ ...base, onDelay: 5 }, fakeTimers());
    const timed: AlarmEvent[] = [];
    e.onTimed = (ev) => timed.push(...ev);
    // The device clock runs 1 h behind the local clock.
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 - 3_600_000 });
    jest.advanceTimersByTime(4999);
    expect(timed).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(timed.map((x) => [x.state, x.since])).toEqual([['unack', T0 - 3_600_000 + 5000]]);
    e.dispose();
  });

  it('off-delay: the return needs offDelay seconds clear; a timer completes it', () => {
    const e = new AlarmEngine({ ...base, offDelay: 10 }, fakeTimers());
    const timed: AlarmEvent[] = [];
    e.onTimed = (ev) => timed.push(...ev);
    feed(e, 85, 0);
    jest.advanceTimersByTime(1000);
    expect(feed(e, 50, 1)).toEqual([]);
    jest.advanceTimersByTime(5000);
    expect(feed(e, 85, 6)).toEqual([]); // back in alarm: the off-delay is cancelled
    jest.advanceTimersByTime(1000);
    feed(e, 50, 7);
    jest.advanceTimersByTime(9999);
    expect(timed).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(timed.map((x) => [x.state, x.since])).toEqual([['rtn-unack', T0 + 17_000]]);
    e.dispose();
  });

  it('a shelf runs out by timer and the still-active alarm is annunciated', () => {
    const e = new AlarmEngine(base, fakeTimers());
    const timed: AlarmEvent[] = [];
    e.onTimed = (ev) => timed.push(...ev);
    feed(e, 85, 0);
    e.shelve('p', 30);
    jest.advanceTimersByTime(30_000);
    expect(timed.map((x) => [x.state, x.level, x.previous])).toEqual([['unack', 'H', 'shelved']]);
    e.dispose();
  });

  it('bad input cancels a running delay; dispose removes timers', () => {
    const e = new AlarmEngine({ ...base, onDelay: 5 }, fakeTimers());
    const timed: AlarmEvent[] = [];
    e.onTimed = (ev) => timed.push(...ev);
    feed(e, 85, 0);
    feed(e, 85, 1, 'p', 'bad');
    jest.advanceTimersByTime(10_000);
    expect(timed.filter((x) => x.state !== 'normal')).toEqual([]);
    feed(e, 85, 12);
    e.dispose();
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('AlarmEngine: properties', () => {
  type Step = { kind: 'value'; v: number; q: Quality } | { kind: 'ack' } | { kind: 'shelve' } | { kind: 'unshelve' };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('value' as const), v: fc.double({ min: -20, max: 120, noNaN: true }), q: fc.constantFrom<Quality>('good', 'good', 'uncertain', 'bad') }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'ack' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'shelve' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'unshelve' as const }) },
  );

  it('any sequence keeps the ISA-18.2 invariants and reports only real changes', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), fc.boolean(), (steps, latch) => {
        const e = new AlarmEngine({ ...base, latch, onDelay: 0, offDelay: 0 });
        let prev: { state: string; level: string | null; quality: string } = { state: 'normal', level: null, quality: 'good' };
        let seen = false;
        steps.forEach((st, i) => {
          const ts = T0 + i * 1000;
          let ev: AlarmEvent[] = [];
          if (st.kind === 'value') {
            ev = e.process({ tag: 'p', value: st.v, quality: st.q, ts });
            seen = true;
          } else if (!seen) return;
          else if (st.kind === 'ack') ev = e.acknowledge('p', ts);
          else if (st.kind === 'shelve') ev = e.shelve('p', 3600, ts);
          else ev = e.unshelve('p', ts);
          for (const x of ev) {
            // Every event is a change of state, level or input quality.
            expect(x.state !== prev.state || x.level !== prev.level || x.quality !== prev.quality).toBe(true);
            prev = { state: x.state, level: x.level, quality: x.quality };
          }
          const t = e.get('p')!;
          if (t.state === 'normal') expect(t.level).toBeNull();
          if (t.state === 'normal') expect(t.active && !t.badInput).toBe(false);
          if (t.state === 'unack' || t.state === 'acked') expect(t.active).toBe(true);
          if (t.state === 'acked' || t.state === 'unack') expect(t.level).toBe(t.activeLevel);
          if (t.state === 'rtn-unack') expect(t.active).toBe(false);
        });
        e.dispose();
      }),
      { numRuns: 300 },
    );
  });
});
