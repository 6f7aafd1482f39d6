import { AlarmEngine } from '../../../nodes/analytics/alarm-state';
import { AnomalyEngine } from '../../../nodes/analytics/detectors';
import { checkEventTime, DATE_LIMIT_MS, EventClock, formatTime } from '../../../nodes/analytics/event-clock';
import { OeeEngine } from '../../../nodes/analytics/oee-calc';
import { VibrationEngine } from '../../../nodes/analytics/spectrum';

const NOW = Date.UTC(2026, 5, 1);
const clock = { now: () => NOW, setTimeout: () => 0, clearTimeout: () => undefined };
const YEAR_3000 = Date.UTC(3000, 0, 1);

describe('event time rules', () => {
  it('formats any number without throwing', () => {
    expect(formatTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(formatTime(-1e16)).toBe('-10000000000000000');
    expect(formatTime(Number.MAX_SAFE_INTEGER)).toBe(String(Number.MAX_SAFE_INTEGER));
  });

  it('refuses timestamps outside the Date range or more than a day ahead', () => {
    expect(() => checkEventTime('t', DATE_LIMIT_MS + 1, NOW)).toThrow(/outside the range of dates/);
    expect(() => checkEventTime('t', -1e16, NOW)).toThrow(/outside the range of dates/);
    expect(() => checkEventTime('t', YEAR_3000, NOW)).toThrow(/more than 24 h ahead/);
    expect(() => checkEventTime('t', NOW + 23 * 3_600_000, NOW)).not.toThrow();
    expect(() => checkEventTime('t', 0, NOW)).not.toThrow();
  });

  it('extrapolates event time from the last sample by the local clock', () => {
    let t = 1000;
    const c = new EventClock({ now: () => t, setTimeout: () => 0, clearTimeout: () => undefined });
    expect(c.seen).toBe(false);
    c.observe(50);
    t = 1600;
    expect(c.now()).toBe(650);
  });

  it.each([
    ['alarm', () => new AlarmEngine({ high: 80, hysteresis: 0, onDelay: 0, offDelay: 0, latch: false, priority: 'low' }, clock), 50],
    ['anomaly', () => new AnomalyEngine({ method: 'zscore', window: 5, threshold: 3, warmup: 2 }, clock.now), 1],
    ['oee', () => new OeeEngine({ idealCycleTime: 1, period: 0, resetAt: [], countMode: 'increment', rollover: 0 }, clock), 1],
  ] as const)('%s: a far-future or out-of-range timestamp is refused and does not lock the tag', (_name, make, value) => {
    const e = make() as { process(s: { tag: string; value: number; quality: 'good'; ts: number }): unknown; dispose?: () => void };
    const tag = _name === 'oee' ? 'good' : 'p';
    e.process({ tag, value, quality: 'good', ts: NOW - 1000 });
    expect(() => e.process({ tag, value, quality: 'good', ts: YEAR_3000 })).toThrow(/ahead/);
    expect(() => e.process({ tag, value, quality: 'good', ts: Number.MAX_SAFE_INTEGER })).toThrow(/range of dates/);
    expect(() => e.process({ tag, value, quality: 'good', ts: -1e16 })).toThrow(/range of dates/);
    expect(() => e.process({ tag, value, quality: 'good', ts: NOW })).not.toThrow();
    e.dispose?.();
  });

  it('vibration: the same rule for waveforms and single samples', () => {
    const e = new VibrationEngine({ sampleRate: 16, fftSize: 16, windowFn: 'hann', bands: [], spectrum: false }, clock.now);
    expect(() => e.waveform('w', new Array(16).fill(1), 'good', YEAR_3000)).toThrow(/ahead/);
    expect(() => e.sample({ tag: 's', value: 1, quality: 'good', ts: -1e16 })).toThrow(/range of dates/);
    expect(e.waveform('w', new Array(16).fill(1), 'good', NOW)).toHaveLength(1);
  });

  it('a batch whose new tags would pass the bound is refused whole, before any state changes', () => {
    const a = new AnomalyEngine({ method: 'zscore', window: 5, threshold: 3, warmup: 2 }, clock.now);
    const many = Array.from({ length: 10_001 }, (_, i) => `t${i}`);
    expect(() => a.admit(many)).toThrow(/batch refused/);
    expect(a.size).toBe(0);
    expect(() => a.admit(many.slice(0, 10_000))).not.toThrow();
    const o = new OeeEngine({ idealCycleTime: 1, period: 0, resetAt: [], countMode: 'increment', rollover: 0 }, clock);
    expect(() => o.admit(Array.from({ length: 1001 }, (_, i) => `l${i}/good`))).toThrow(/1001 new lines/);
    expect(() => o.admit(['l1/good', 'l1/reject', 'bogus'])).not.toThrow();
    const al = new AlarmEngine({ high: 1, hysteresis: 0, onDelay: 0, offDelay: 0, latch: false, priority: 'low' }, clock);
    expect(() => al.admit(many)).toThrow(/batch refused/);
    const v = new VibrationEngine({ sampleRate: 16, fftSize: 16, windowFn: 'hann', bands: [], spectrum: false }, clock.now);
    expect(() => v.admit(many.slice(0, 300), many.slice(0, 300))).toThrow(/collecting single samples/);
    expect(() => v.admit(many.slice(0, 300), [])).not.toThrow();
  });
});
