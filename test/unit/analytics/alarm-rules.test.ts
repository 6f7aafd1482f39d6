/**
 * Alarm engine: the faults found in review (action times, restart, stored states, hysteresis,
 * on-delay across sides, state start times, late unshelve, clocks, short shelves). Time is driven
 * by hand: `host` is this machine's clock, and timers fire when `advance` passes their time.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { AlarmEngine, MAX_ALARM_TAGS, MAX_SHELVE_S, type AlarmEvent, type AlarmOptions, type TagAlarm } from '../../../nodes/analytics/alarm-state';
import type { Timers } from '../../../nodes/analytics/event-clock';
import { dialogAccepts, editorDef, editorDefaults } from '../../helpers/editor-def';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const DAY = 86_400_000;
const base: AlarmOptions = { high: 80, highHigh: 90, low: 20, lowLow: 10, hysteresis: 2, onDelay: 0, offDelay: 0, latch: false, priority: 'high' };

interface HandTimers extends Timers {
  advance(ms: number): void;
  readonly pending: number;
}

function handTimers(start = T0): HandTimers {
  let host = start;
  let queue: Array<{ fn: () => void; at: number }> = [];
  return {
    now: () => host,
    setTimeout: (fn, ms) => {
      const h = { fn, at: host + ms };
      queue.push(h);
      return h;
    },
    clearTimeout: (h) => {
      queue = queue.filter((x) => x !== h);
    },
    advance(ms: number) {
      const end = host + ms;
      for (;;) {
        queue.sort((a, b) => a.at - b.at);
        const h = queue[0];
        if (!h || h.at > end) break;
        queue.shift();
        host = h.at;
        h.fn();
      }
      host = end;
    },
    get pending() {
      return queue.length;
    },
  };
}

/**
 * Runs `body` (a function body returning a structured-cloneable value, with AlarmEngine in scope) in
 * a worker thread, so that an engine caught in an endless loop fails the test instead of hanging it.
 */
function inWorker(body: string, ms = 15_000): Promise<unknown> {
  const root = path.join(__dirname, '../../..');
  const code = `
    const { parentPort } = require('worker_threads');
    require(${JSON.stringify(path.join(root, 'bench/lib/ts-require'))});
    const { AlarmEngine } = require(${JSON.stringify(path.join(root, 'nodes/analytics/alarm-state.ts'))});
    parentPort.postMessage((() => { ${body} })());`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error(`the engine did not return within ${ms} ms`));
    }, ms);
    w.once('message', (m: unknown) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const at = (ev: AlarmEvent[]) => ev.map((x) => [x.state, x.level, x.since - T0, x.ts - T0]);
const clocksOf = (e: AlarmEngine) => (e as unknown as { clocks: Map<string, unknown> }).clocks;

describe('AlarmEngine: operator action times are checked like sample times', () => {
  it('refuses a shelve, an acknowledgement or an unshelve stamped more than 24 h ahead, with the state unchanged', () => {
    const timers = handTimers();
    const e = new AlarmEngine(base, timers);
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 });
    const before = JSON.stringify(e.snapshot());
    expect(() => e.shelve('p', 3600, T0 + 365 * DAY)).toThrow(/more than 24 h ahead/);
    expect(() => e.acknowledge('p', T0 + 365 * DAY)).toThrow(/more than 24 h ahead/);
    expect(() => e.unshelve('p', T0 + 2 * DAY)).toThrow(/more than 24 h ahead/);
    expect(() => e.shelve('p', 3600, Infinity)).toThrow(/outside the range of dates/);
    expect(JSON.stringify(e.snapshot())).toBe(before);
    // A tag not seen yet is not created by a refused shelve.
    expect(() => e.shelve('new', 3600, T0 + 365 * DAY)).toThrow(/more than 24 h ahead/);
    expect(e.get('new')).toBeUndefined();
    // Within a day ahead is accepted, as for samples, and the shelf lasts what was asked.
    const [sh] = e.shelve('p', 3600, T0 + DAY - 1000);
    expect(sh).toMatchObject({ state: 'shelved', since: T0 + DAY - 1000 });
    expect(e.get('p')?.shelvedUntil).toBe(T0 + DAY - 1000 + 3_600_000);
    e.dispose();
  });
});

describe('AlarmEngine: event time across a restart', () => {
  it('goes on by the downtime, so a shelf ends on time when no sample arrives', () => {
    const timers = handTimers();
    const e = new AlarmEngine(base, timers);
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 });
    timers.advance(50 * 60_000);
    e.shelve('p', 3600); // event time T0 + 50 min: the shelf ends at T0 + 110 min
    timers.advance(5 * 60_000);
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    expect(saved.p).toMatchObject({ eventTime: T0 + 55 * 60_000, hostTime: T0 + 55 * 60_000 });
    e.dispose();
    timers.advance(10 * 60_000); // down for 10 min

    const r = new AlarmEngine(base, timers);
    const timed: Array<[number, ReturnType<typeof at>]> = [];
    r.onTimed = (ev) => timed.push([timers.now() - T0, at(ev)]);
    expect(r.restore(saved)).toEqual([]);
    timers.advance(300 * 60_000);
    expect(timed).toEqual([[110 * 60_000, [['unack', 'HH', 110 * 60_000, 110 * 60_000]]]]);
    r.dispose();
  });

  it('keeps a device clock offset across the restart', () => {
    const timers = handTimers();
    const e = new AlarmEngine({ ...base, onDelay: 60 }, timers);
    // The device clock runs 1 h behind this host.
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 - 3_600_000 });
    timers.advance(20_000);
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    e.dispose();
    timers.advance(30_000);
    const r = new AlarmEngine({ ...base, onDelay: 60 }, timers);
    const timed: number[] = [];
    r.onTimed = (ev) => timed.push(timers.now() - T0, ...ev.map((x) => x.since - (T0 - 3_600_000)));
    r.restore(saved);
    timers.advance(60_000);
    expect(timed).toEqual([60_000, 60_000]);
    r.dispose();
  });

  it('reads a state saved by an older version (no event time saved): event time goes on from the last sample', () => {
    const timers = handTimers();
    const e = new AlarmEngine(base, timers);
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 });
    timers.advance(50 * 60_000);
    e.shelve('p', 3600);
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    delete saved.p.eventTime;
    delete saved.p.hostTime;
    e.dispose();
    timers.advance(10 * 60_000);
    const r = new AlarmEngine(base, timers);
    const timed: number[] = [];
    r.onTimed = () => timed.push(timers.now() - T0);
    expect(r.restore(saved)).toEqual([]);
    timers.advance(300 * 60_000);
    // As before: event time restarts at the last sample (T0) at restart (host T0 + 60 min).
    expect(timed).toEqual([170 * 60_000]);
    r.dispose();
  });
});

describe('AlarmEngine: inconsistent stored states cannot hang it', () => {
  const stored = (over: Partial<TagAlarm>): TagAlarm => ({
    state: 'normal', level: null, value: 50, since: T0, quality: 'good', lastTs: T0, active: false, activeLevel: null,
    pendingOn: null, pendingOff: null, shelvedUntil: null, badInput: false, ...over,
  });

  it('drops a shelf end stored on a state that is not shelved, and the next sample returns', async () => {
    const out = await inWorker(`
      const T0 = Date.now() - 60000;
      const e = new AlarmEngine({ high: 80, hysteresis: 2, onDelay: 0, offDelay: 0, latch: false, priority: 'high' });
      const rejected = e.restore({ p: { state: 'normal', level: null, value: 50, since: T0, quality: 'good', lastTs: T0, active: false,
        activeLevel: null, pendingOn: null, pendingOff: null, shelvedUntil: T0 + 1000, badInput: false } });
      const until = e.get('p').shelvedUntil;
      const quiet = e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 + 2000 });
      const raised = e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 + 3000 }).map((x) => [x.state, x.level, x.since - T0]);
      e.dispose();
      return { rejected, until, quiet, raised };`);
    expect(out).toEqual({ rejected: [], until: null, quiet: [], raised: [['unack', 'H', 3000]] });
  });

  it('completes deadlines in a bounded number of passes whatever the state in memory', async () => {
    const out = await inWorker(`
      const T0 = Date.now() - 60000;
      const e = new AlarmEngine({ high: 80, hysteresis: 2, onDelay: 0, offDelay: 0, latch: false, priority: 'high' });
      e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 });
      // Made inconsistent behind the engine's back (as a stored state once did).
      e.get('p').shelvedUntil = T0 + 1000;
      const quiet = e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 + 2000 });
      const until = e.get('p').shelvedUntil;
      Object.assign(e.get('p'), { shelvedUntil: NaN, pendingOff: { since: NaN } });
      e.unshelve('p', T0 + 3000);
      e.dispose();
      return { quiet, until };`);
    expect(out).toEqual({ quiet: [], until: null });
  });

  it('gives a shelf stored without an end the longest one allowed', () => {
    const e = new AlarmEngine(base, handTimers(T0 + 60_000));
    e.restore({ p: stored({ state: 'shelved', active: true, activeLevel: 'H', level: 'H', shelvedUntil: null }) });
    expect(e.get('p')?.shelvedUntil).toBe(T0 + MAX_SHELVE_S * 1000);
    e.dispose();
  });
});

describe('AlarmEngine: hysteresis narrower than the gap between the sides', () => {
  it('refuses a hysteresis as wide as the gap between the lowest high-side and the highest low-side limit', () => {
    const two = { ...base, highHigh: undefined, lowLow: undefined };
    expect(() => new AlarmEngine({ ...two, hysteresis: 70 })).toThrow(/hysteresis \(70\) must be smaller than the gap .* 60/);
    expect(() => new AlarmEngine({ ...two, hysteresis: 60 })).toThrow(/hysteresis/);
    expect(() => new AlarmEngine({ ...two, hysteresis: 59.9 }).dispose()).not.toThrow();
    // The lowest high-side limit is HH when H is unused, the highest low-side one LL when L is.
    expect(() => new AlarmEngine({ ...base, high: undefined, low: undefined, hysteresis: 80 })).toThrow(/gap/);
    expect(() => new AlarmEngine({ ...base, high: undefined, low: undefined, hysteresis: 79 }).dispose()).not.toThrow();
    // One side only: nothing to overlap.
    expect(() => new AlarmEngine({ ...two, low: undefined, hysteresis: 500 }).dispose()).not.toThrow();
  });

  it('the dialog refuses it too', () => {
    const def = editorDef(path.join(__dirname, '../../../nodes/analytics/alarm.html'), 'plantwire-alarm');
    const node = { ...editorDefaults(def), high: '80', low: '20', highHigh: '', lowLow: '' };
    expect(dialogAccepts(def, 'hysteresis', '70', node)).toBe(false);
    expect(dialogAccepts(def, 'hysteresis', '60', node)).toBe(false);
    expect(dialogAccepts(def, 'hysteresis', '59', node)).toBe(true);
    expect(dialogAccepts(def, 'hysteresis', '95', { ...node, high: '', highHigh: '100', low: '', lowLow: '0' })).toBe(true);
    expect(dialogAccepts(def, 'hysteresis', '100', { ...node, high: '', highHigh: '100', low: '', lowLow: '0' })).toBe(false);
    expect(dialogAccepts(def, 'hysteresis', '500', { ...node, low: '' })).toBe(true);
    expect(dialogAccepts(def, 'hysteresis', '-1', { ...node, low: '' })).toBe(false);
  });
});

describe('AlarmEngine: on-delay per side', () => {
  it('starts the on-delay again when the pending level moves to the other side', () => {
    const e = new AlarmEngine({ ...base, onDelay: 10 }, handTimers(T0 + 60_000));
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 });
    e.process({ tag: 'p', value: 15, quality: 'good', ts: T0 + 9000 });
    expect(e.process({ tag: 'p', value: 15, quality: 'good', ts: T0 + 10_000 })).toEqual([]);
    expect(at(e.process({ tag: 'p', value: 15, quality: 'good', ts: T0 + 19_000 }))).toEqual([['unack', 'L', 19_000, 19_000]]);
    // Within one side the delay keeps running: H then HH raises HH when it ends.
    e.reset();
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 + 20_000 });
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 + 25_000 });
    expect(at(e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 + 30_000 }))).toEqual([['unack', 'HH', 30_000, 30_000]]);
    e.dispose();
  });
});

describe('AlarmEngine: state start times never go backwards', () => {
  it('an acknowledgement or a sample stamped before a timer-completed change takes effect at that change', () => {
    const timers = handTimers();
    const e = new AlarmEngine({ ...base, onDelay: 10 }, timers);
    const timed: AlarmEvent[] = [];
    e.onTimed = (ev) => timed.push(...ev);
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 });
    timers.advance(12_000);
    expect(at(timed)).toEqual([['unack', 'HH', 10_000, 10_000]]);
    // Stamped between the last sample (T0) and the timer's deadline (T0 + 10 s).
    expect(at(e.acknowledge('p', T0 + 5000))).toEqual([['acked', 'HH', 10_000, 10_000]]);
    expect(at(e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 + 6000 }))).toEqual([['normal', null, 10_000, 10_000]]);
    // Later stamps keep their own times.
    expect(at(e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 + 11_000 }))).toEqual([]);
    e.dispose();
  });
});

describe('AlarmEngine: unshelve after the shelf ran out', () => {
  it('gives the same states as a sample at the same time', () => {
    const run = (how: 'unshelve' | 'sample') => {
      const e = new AlarmEngine({ ...base, highHigh: undefined, low: undefined, lowLow: undefined, onDelay: 10 }, handTimers(T0 + 60_000));
      e.process({ tag: 'p', value: 50, quality: 'good', ts: T0 });
      e.shelve('p', 10, T0);
      e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 + 5000 });
      const ev = how === 'unshelve' ? e.unshelve('p', T0 + 20_000) : e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 + 20_000 });
      e.dispose();
      return at(ev);
    };
    expect(run('unshelve')).toEqual([['normal', null, 10_000, 10_000], ['unack', 'H', 15_000, 15_000]]);
    expect(run('unshelve')).toEqual(run('sample'));
  });

  it('still ends a shelf that has not run out, at the action time', () => {
    const e = new AlarmEngine(base, handTimers(T0 + 60_000));
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 });
    e.shelve('p', 600, T0 + 1000);
    expect(at(e.unshelve('p', T0 + 2000))).toEqual([['unack', 'H', 2000, 2000]]);
    expect(e.get('p')?.shelvedUntil).toBeNull();
    e.dispose();
  });
});

describe('AlarmEngine: bad input count', () => {
  it('counts the tags whose input is bad, across samples, reset and restore', () => {
    const e = new AlarmEngine(base, handTimers(T0 + 60_000));
    e.process({ tag: 'a', value: 85, quality: 'good', ts: T0 });
    e.process({ tag: 'a', value: 85, quality: 'bad', ts: T0 + 1 });
    e.process({ tag: 'a', value: null, quality: 'bad', ts: T0 + 2 });
    e.process({ tag: 'b', value: null, quality: 'bad', ts: T0 + 2 });
    expect(e.badInputs).toBe(2);
    const saved = JSON.parse(JSON.stringify(e.snapshot()));
    e.process({ tag: 'a', value: 85, quality: 'good', ts: T0 + 3 });
    expect(e.badInputs).toBe(1);
    e.reset('b');
    expect(e.badInputs).toBe(0);
    const r = new AlarmEngine(base, handTimers(T0 + 60_000));
    r.restore(saved);
    expect(r.badInputs).toBe(2);
    r.reset();
    expect(r.badInputs).toBe(0);
    e.dispose();
  });
});

describe('AlarmEngine: event clocks are bounded', () => {
  it('a refused shelve leaves no clock behind, and reset() frees every clock', () => {
    const timers = handTimers();
    const e = new AlarmEngine(base, timers);
    for (let i = 0; i < MAX_ALARM_TAGS; i++) e.process({ tag: `t${i}`, value: 50, quality: 'good', ts: T0 });
    for (let i = 0; i < 100; i++) expect(() => e.shelve(`junk${i}`, 60)).toThrow(/more than 10000 tags/);
    expect(clocksOf(e).size).toBeLessThanOrEqual(MAX_ALARM_TAGS);
    expect(clocksOf(e).has('junk0')).toBe(false);
    e.reset();
    expect(e.size).toBe(0);
    expect(clocksOf(e).size).toBe(0);
    e.dispose();
  });

  it('reset() also stops every timer', () => {
    const timers = handTimers();
    const e = new AlarmEngine({ ...base, onDelay: 5 }, timers);
    e.process({ tag: 'p', value: 85, quality: 'good', ts: T0 });
    e.shelve('q', 60);
    expect(timers.pending).toBe(2);
    e.reset();
    expect(timers.pending).toBe(0);
  });
});

describe('AlarmEngine: shelf durations', () => {
  it('refuses shelves shorter than 1 s', () => {
    const e = new AlarmEngine(base, handTimers(T0 + 60_000));
    e.process({ tag: 'p', value: 95, quality: 'good', ts: T0 });
    expect(() => e.shelve('p', 0.001, T0 + 1)).toThrow(/between 1 and 604800/);
    expect(() => e.shelve('p', 0.999, T0 + 1)).toThrow(/duration/);
    expect(e.get('p')?.state).toBe('unack');
    expect(e.shelve('p', 1, T0 + 1)).toEqual([expect.objectContaining({ state: 'shelved' })]);
    e.dispose();
  });
});
