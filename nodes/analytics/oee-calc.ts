/**
 * OEE engine: availability x performance x quality per production line and shift, in event time.
 * Definitions follow the usual OEE model (Nakajima; ISO 22400-2:2014 KPIs 1200-1210):
 * availability = run time / planned time, performance = ideal cycle time x total count / run time,
 * quality = good count / total count.
 *
 * A line is named by the tag prefix: `state`, `good`, `reject` belong to line "" and
 * `line1/state`, `line1/good`, `line1/reject` to line "line1". Shift boundaries are wall-clock
 * times (`resetAt`, e.g. "06:00") in `timeZone` (an IANA name such as "Europe/Berlin"), or in the
 * host's local zone when none is set, and follow daylight saving.
 *
 * Long gaps: when event time jumps over many shift starts at once (a gateway off for weeks with
 * persistent context, a PLC clock corrected, a host without a real-time clock stepped forward by
 * NTP; the periodic report makes the same jump, as the event clock includes the host's step), one
 * call (a message, a report request, a timer tick) closes at most CLOSE_BUDGET shifts, shared
 * evenly by the lines it involves, at most MAX_SHIFTS_PER_STEP and at least one each. A line past
 * its share closes the rest of its gap, up to the start of the shift the new event time is in, as
 * one closing report marked `merged`: its shiftStart and ts span the merged shifts, and its run
 * time, planned time and counts are their sums. Nothing is lost or counted twice, and the line is
 * in its current shift after the call, so the sample that made the jump counts where it belongs.
 * Carrying the rest over to later calls instead would leave the line in a shift weeks old while
 * new samples come in: their counts would land in the wrong shift. 1,000 lines with three shifts
 * a day, a year behind, made 1,000,000 closing reports in one message (2 to 3.6 s, 265 MB); now
 * 10,000 (0.15 s).
 */
import { ConfigError, InputError } from '../shared/errors';
import { typeName, worstQuality, type Quality, type Sample } from '../shared/sample';
import { checkEventTime, EventClock, formatTime, MAX_TIMER_MS, systemTimers, type Timers } from './event-clock';
import { counterWrapped } from './counter-rate';
import { evenShare } from './tag-table';

export const COUNT_MODES = ['increment', 'counter'] as const;
export type CountMode = (typeof COUNT_MODES)[number];
export type Signal = 'state' | 'good' | 'reject';

export interface OeeOptions {
  /** Seconds one part takes at the rated speed. */
  idealCycleTime: number;
  /** Seconds between reports; 0: report only at shift ends and on request. */
  period: number;
  /** Shift start times "HH:MM" (a list, a JSON list or comma-separated text); empty: one open-ended period until reset. */
  resetAt: string[] | string;
  /** `increment`: each count message adds its value; `counter`: values are a machine's running total. */
  countMode: CountMode;
  /** Counter modulus (e.g. 65536 for a 16-bit counter): a drop of more than half of it is a wrap, any other a device reset; 0: every drop is a reset. */
  rollover: number;
  /** IANA time zone of the shift times; undefined: the host's local zone. */
  timeZone?: string;
  /** Shift closes one call may make, shared by its lines (CLOSE_BUDGET; smaller in tests). */
  closeBudget?: number;
}

export interface OeeFigures {
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
  /** Seconds. */
  runTime: number;
  /** Seconds. */
  plannedTime: number;
  good: number;
  total: number;
}

export interface OeeReport {
  line: string;
  figures: OeeFigures;
  /** Worst input quality seen in the shift. */
  quality: Quality;
  shiftStart: number;
  /** Event time the figures are for, epoch ms (the shift end for a closing report). */
  ts: number;
  /** True for the final figures of a shift that ended. */
  closing: boolean;
  /** Set on a closing report that covers several shifts of a long gap at once (see the file's comment). */
  merged?: true;
}

/** What survives a restart for one line (JSON-safe; stored in the node context). */
export interface LineState {
  shiftStart: number;
  /** Time the line is accounted up to (a periodic report moves it to "now"). */
  lastTs: number;
  /**
   * Newest sample seen. Samples are ordered against this, not lastTs: a poll that started just
   * before a periodic report arrives after it with an older timestamp and is still in order.
   */
  lastSampleTs?: number;
  running: boolean;
  runMs: number;
  good: number;
  reject: number;
  lastCounter: { good: number | null; reject: number | null };
  quality: Quality;
}

const SIGNALS: readonly Signal[] = ['state', 'good', 'reject'];
const RUNNING = new Set(['running', 'run', 'on', 'true', 'started', 'producing']);
const STOPPED = new Set(['stopped', 'stop', 'off', 'false', 'idle', 'down', 'fault']);
/** Largest count or counter value taken: beyond 2^53 whole numbers are no longer exact. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** Lines one node tracks at most: made-up topics must not grow memory and context without bound. */
export const MAX_LINES = 1000;
/** Shift ends one line closes in one call at most; past that the rest of its gap merges into one report. */
const MAX_SHIFTS_PER_STEP = 1000;
/** Shift closes one call (message, report request, timer tick) makes, all its lines together. */
export const CLOSE_BUDGET = 10_000;
const DAY_MS = 86_400_000;
/**
 * Shift starts a calendar keeps (256 KB): lines catching up after a gap walk the same days, a line
 * at a time, and a year of three shifts a day must still be there for the next line.
 */
const CALENDAR_STARTS = 32_768;

export function parseShiftTimes(raw: unknown): Array<[number, number]> {
  let list: unknown = raw;
  if (raw === undefined || raw === null || raw === '') return [];
  if (typeof raw === 'string') {
    const t = raw.trim();
    if (t.startsWith('[')) {
      try {
        list = JSON.parse(t);
      } catch {
        throw new ConfigError(`resetAt must be a list of times such as ["06:00","14:00","22:00"], not ${raw.slice(0, 40)}`);
      }
    } else list = t.split(/[\s,;]+/).filter(Boolean);
  }
  if (!Array.isArray(list)) throw new ConfigError('resetAt must be a list of "HH:MM" times');
  const out: Array<[number, number]> = [];
  for (const s of list) {
    const m = typeof s === 'string' ? /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(s.trim()) : null;
    if (!m) throw new ConfigError(`resetAt: "${String(s)}" is not a time of day "HH:MM" (00:00 to 23:59)`);
    out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', era: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function checkTimeZone(timeZone: string): void {
  try {
    formatter(timeZone);
  } catch {
    throw new ConfigError(`timeZone "${timeZone.slice(0, 40)}" is not an IANA time zone such as "Europe/Berlin"`);
  }
}

/** 400 Gregorian years: the calendar repeats, day for day and weekday for weekday. */
const GREGORIAN_CYCLE_MS = 146_097 * DAY_MS;

/**
 * Date.UTC for every year: Date.UTC and new Date(y, ...) read the years 0-99 as 1900-1999, so
 * those are worked out 400 years later and moved back by one calendar cycle.
 */
function utcTime(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  return y >= 0 && y < 100 ? Date.UTC(y + 400, mo, d, h, mi, s) - GREGORIAN_CYCLE_MS : Date.UTC(y, mo, d, h, mi, s);
}

/** new Date(y, mo, d, h, mi).getTime() for every year (the host's zone; see utcTime). */
function localTime(y: number, mo: number, d: number, h: number, mi: number): number {
  if (y >= 0 && y < 100) {
    // The same wall-clock fields 400 years on, then the year set back: the zone's rules of year y apply.
    const t = new Date(y + 400, mo, d, h, mi, 0, 0);
    t.setFullYear(t.getFullYear() - 400);
    return t.getTime();
  }
  return new Date(y, mo, d, h, mi, 0, 0).getTime();
}

/** Wall-clock fields of instant t in a zone (month 0-based, as Date uses; year 0 is 1 BC, as Date counts). */
function wallClock(t: number, timeZone?: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  if (timeZone === undefined) {
    const d = new Date(t);
    return { y: d.getFullYear(), mo: d.getMonth(), d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
  }
  const p: Record<string, number> = {};
  let bc = false;
  for (const part of formatter(timeZone).formatToParts(new Date(t))) {
    if (part.type === 'era') bc = part.value === 'BC';
    else if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { y: bc ? 1 - p.year : p.year, mo: p.month - 1, d: p.day, h: p.hour, mi: p.minute, s: p.second };
}

/** The zone's offset from UTC at instant t, ms (wall clock read as UTC, minus t to the second). */
function zoneOffset(t: number, timeZone: string): number {
  const w = wallClock(t, timeZone);
  return utcTime(w.y, w.mo, w.d, w.h, w.mi, w.s) - (t - (((t % 1000) + 1000) % 1000));
}

/**
 * The instant a wall-clock time occurs in a zone (day may overflow the month, as with Date.UTC),
 * resolved as Date resolves the host's zone (ECMA-262 21.4.1.26 LocalTime/UTC): a time repeated
 * when the clocks go back is its first occurrence, and a time skipped when they go forward takes
 * the offset from before the change (New York 02:00 on 8 March 2026 is 07:00Z, 03:00 EDT). The
 * offsets a day either side are the two a change can put there; the candidate whose wall clock
 * matches is the one, the earlier if both do. Two rounds of the offset search from the wall time
 * resolved gaps and repeats one way west of UTC and the other east of it, so a shift could start an
 * hour apart from the host-local path.
 */
function instantOf(y: number, mo: number, d: number, h: number, mi: number, timeZone?: string): number {
  if (timeZone === undefined) return localTime(y, mo, d, h, mi);
  const wall = utcTime(y, mo, d, h, mi);
  const before = wall - zoneOffset(wall - DAY_MS, timeZone);
  const after = wall - zoneOffset(wall + DAY_MS, timeZone);
  const shows = (t: number) => {
    const w = wallClock(t, timeZone);
    return utcTime(w.y, w.mo, w.d, w.h, w.mi) === wall;
  };
  if (before === after) return before;
  const b = shows(before);
  const a = shows(after);
  if (b && a) return Math.min(before, after);
  if (a) return after;
  return before; // matches, or the wall time falls in a gap: the offset from before the change
}

/**
 * Shift starts by local day. A day's starts are worked out once (instantOf for each shift time, as
 * exact across daylight saving as before) and kept for the next closes: with a time zone a close
 * called formatToParts ~19 times with three shifts a day and ~145 times with hourly shifts, all of
 * them again for every line; now once (to find the day of the shift start it begins from).
 */
export class ShiftCalendar {
  private readonly days = new Map<number, number[]>();
  private readonly maxDays: number;

  constructor(private readonly times: ReadonlyArray<[number, number]>, private readonly timeZone?: string) {
    this.maxDays = Math.max(4, Math.floor(CALENDAR_STARTS / Math.max(1, times.length)));
  }

  /** The first shift start strictly after `t`, or Infinity: looks at t's local day and the two after it. */
  next(t: number): number {
    if (this.times.length === 0) return Infinity;
    const day = this.dayOf(t);
    let best = Infinity;
    for (let k = 0; k <= 2; k++) for (const c of this.startsOf(day + k)) if (c > t && c < best) best = c;
    return best;
  }

  /**
   * The last shift start at or before `t` (the start of the shift t is in), or -Infinity: t's day,
   * the two before it and the one after (kept wide: a start at a daylight-saving change at midnight,
   * such as 00:00 on the night Santiago moves its clocks forward, is not at its nominal wall time).
   */
  last(t: number): number {
    if (this.times.length === 0) return -Infinity;
    const day = this.dayOf(t);
    let best = -Infinity;
    for (let k = -2; k <= 1; k++) for (const c of this.startsOf(day + k)) if (c <= t && c > best) best = c;
    return best;
  }

  /** t's local date in the zone, as days since 1970-01-01. */
  private dayOf(t: number): number {
    const w = wallClock(t, this.timeZone);
    return utcTime(w.y, w.mo, w.d) / DAY_MS;
  }

  private startsOf(day: number): number[] {
    let starts = this.days.get(day);
    if (starts) return starts;
    const d = new Date(day * DAY_MS);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const dd = d.getUTCDate();
    starts = this.times.map(([h, m]) => instantOf(y, mo, dd, h, m, this.timeZone));
    // Oldest day out first: memory stays small whatever the dates seen.
    if (this.days.size >= this.maxDays) this.days.delete(this.days.keys().next().value as number);
    this.days.set(day, starts);
    return starts;
  }
}

/** The first shift start strictly after `t` (wall-clock times in `timeZone`, or local), or Infinity. */
export function nextShiftStart(t: number, times: ReadonlyArray<[number, number]>, timeZone?: string): number {
  return new ShiftCalendar(times, timeZone).next(t);
}

/** Splits a tag into its line and signal: "line1/good" -> ["line1", "good"]. */
export function lineOf(tag: string): [string, Signal] {
  const i = tag.lastIndexOf('/');
  const line = i < 0 ? '' : tag.slice(0, i);
  const signal = (i < 0 ? tag : tag.slice(i + 1)) as Signal;
  if (!SIGNALS.includes(signal)) {
    throw new InputError(`tag "${tag}": the last part must be state, good or reject (for example "line1/good")`);
  }
  return [line, signal];
}

function runningOf(s: Sample): boolean {
  const v = s.value;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const k = v.trim().toLowerCase();
    if (RUNNING.has(k)) return true;
    if (STOPPED.has(k)) return false;
  }
  throw new InputError(`tag "${s.tag}": state must be true/false, 1/0 or "running"/"stopped", not ${typeof v === 'string' ? `"${v.slice(0, 30)}"` : typeName(v)}`);
}

function checkOptions(o: OeeOptions): void {
  if (typeof o.idealCycleTime !== 'number' || !Number.isFinite(o.idealCycleTime) || o.idealCycleTime <= 0) throw new ConfigError('idealCycleTime must be seconds > 0');
  if (typeof o.period !== 'number' || !Number.isFinite(o.period) || o.period < 0) throw new ConfigError('period must be seconds >= 0');
  if (o.period > 0 && o.period < 1) throw new ConfigError('period must be at least 1 s (or 0 for no periodic report)');
  if (!COUNT_MODES.includes(o.countMode)) throw new ConfigError(`countMode must be one of ${COUNT_MODES.join(', ')}`);
  if (typeof o.rollover !== 'number' || !Number.isInteger(o.rollover) || o.rollover < 0) throw new ConfigError('rollover must be a whole number >= 0');
  if (o.timeZone !== undefined) checkTimeZone(o.timeZone);
  if (o.closeBudget !== undefined && (!Number.isInteger(o.closeBudget) || o.closeBudget < 1)) throw new ConfigError('closeBudget must be a whole number >= 1');
}

/** The line part of a tag, unchecked (lineOf checks the signal when the sample is processed). */
function lineName(tag: string): string {
  const i = tag.lastIndexOf('/');
  return i < 0 ? '' : tag.slice(0, i);
}

export function figuresOf(st: LineState, at: number, idealCycleTime: number): OeeFigures {
  const runTime = st.runMs / 1000;
  const plannedTime = Math.max(0, at - st.shiftStart) / 1000;
  const total = st.good + st.reject;
  // A ratio whose denominator is zero is undefined, not 0 or 1: report null.
  const availability = plannedTime > 0 ? runTime / plannedTime : null;
  const performance = runTime > 0 ? (idealCycleTime * total) / runTime : null;
  const quality = total > 0 ? st.good / total : null;
  // A x P x Q cancels to good x ideal cycle time / planned time, defined whenever planned time is:
  // a machine down all shift (P null) or running without parts (Q null) has OEE 0, not null.
  const oee = plannedTime > 0 ? (st.good * idealCycleTime) / plannedTime : null;
  return { availability, performance, quality, oee, runTime, plannedTime, good: st.good, total };
}

function parseLine(raw: unknown): LineState | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const lc = r.lastCounter as Record<string, unknown> | undefined;
  if (!num(r.shiftStart) || !num(r.lastTs) || typeof r.running !== 'boolean' || !num(r.runMs) || !num(r.good) || !num(r.reject)) return undefined;
  if (!lc || typeof lc !== 'object' || !(lc.good === null || num(lc.good)) || !(lc.reject === null || num(lc.reject))) return undefined;
  const q = r.quality;
  return {
    shiftStart: r.shiftStart, lastTs: r.lastTs, lastSampleTs: num(r.lastSampleTs) ? r.lastSampleTs : r.lastTs, running: r.running, runMs: r.runMs, good: r.good, reject: r.reject,
    lastCounter: { good: lc.good as number | null, reject: lc.reject as number | null },
    quality: q === 'uncertain' || q === 'bad' ? q : 'good',
  };
}

export class OeeEngine {
  private readonly lines = new Map<string, LineState>();
  private readonly clocks = new Map<string, EventClock>();
  private readonly ends = new WeakMap<LineState, { start: number; end: number }>();
  private readonly calendar: ShiftCalendar;
  private readonly closeBudget: number;
  private readonly timers: Timers;
  private periodTimer: unknown;
  private boundaryTimer: unknown;
  private armedFor = Infinity;
  /** Receives reports made by timers: periodic figures and shifts that ended while no sample came. */
  onReport: (reports: OeeReport[]) => void = () => undefined;

  constructor(private readonly o: OeeOptions, timers: Timers = systemTimers) {
    checkOptions(o);
    this.calendar = new ShiftCalendar(parseShiftTimes(o.resetAt), o.timeZone);
    this.closeBudget = o.closeBudget ?? CLOSE_BUDGET;
    this.timers = timers;
  }

  /** Feeds one sample; returns the closing reports of shifts that ended before it. */
  process(s: Sample): OeeReport[] {
    const reports: OeeReport[] = [];
    this.take(s, this.closeShare(1), reports);
    return reports;
  }

  /**
   * Feeds the samples of one message, which share CLOSE_BUDGET by line. A refused sample does not
   * stop the others: the first refusal is handed back with the closing reports of the rest.
   */
  processBatch(samples: readonly Sample[]): { reports: OeeReport[]; failure?: unknown } {
    const reports: OeeReport[] = [];
    if (samples.length === 1) {
      // One sample (the single form): one line, no table of shares.
      try {
        this.take(samples[0], this.closeShare(1), reports);
      } catch (failure) {
        return { reports, failure };
      }
      return { reports };
    }
    const left = new Map<string, number>();
    for (const s of samples) left.set(lineName(s.tag), 0);
    const share = this.closeShare(left.size);
    for (const line of left.keys()) left.set(line, share);
    let failure: unknown;
    for (const s of samples) {
      const line = lineName(s.tag);
      // A line whose share is spent still moves to its current shift, with one merged report.
      const allowed = Math.max(1, left.get(line) as number);
      try {
        left.set(line, allowed - this.take(s, allowed, reports));
      } catch (err) {
        failure ??= err;
      }
    }
    return failure === undefined ? { reports } : { reports, failure };
  }

  /** Shift closes each of `lines` lines may make in one call: an even part of the budget, at least one. */
  private closeShare(lines: number): number {
    return evenShare(this.closeBudget, lines, MAX_SHIFTS_PER_STEP);
  }

  /** process() with at most `share` closing reports; returns how many it made. */
  private take(s: Sample, share: number, reports: OeeReport[]): number {
    const [line, signal] = lineOf(s.tag);
    const bad = s.value === null || s.quality === 'bad';
    // Read the value before touching any state, so a refused sample changes nothing.
    const running = !bad && signal === 'state' ? runningOf(s) : undefined;
    const count = !bad && signal !== 'state' ? this.countOf(s) : undefined;
    checkEventTime(s.tag, s.ts, this.timers.now());
    let st = this.lines.get(line);
    if (st && s.ts < (st.lastSampleTs ?? st.lastTs)) {
      throw new InputError(`tag "${s.tag}": timestamp ${formatTime(s.ts)} is earlier than line "${line}"'s previous sample`);
    }
    const before = reports.length;
    if (!st) {
      if (this.lines.size >= MAX_LINES) throw new InputError(`more than ${MAX_LINES} lines: tag "${s.tag}" refused`);
      st = { shiftStart: s.ts, lastTs: s.ts, lastSampleTs: s.ts, running: false, runMs: 0, good: 0, reject: 0, lastCounter: { good: null, reject: null }, quality: 'good' };
      this.lines.set(line, st);
    } else {
      this.advance(line, st, s.ts, reports, share);
    }
    // A sample older than the last report (but newer than the last sample) is accounted from the
    // report's time: the state change it carries takes effect then, at most one report late.
    st.lastSampleTs = s.ts;
    this.clock(line).observe(s.ts);
    st.quality = worstQuality(st.quality, bad ? 'bad' : s.quality);
    if (!bad) {
      if (running !== undefined) st.running = running;
      else if (count !== undefined) this.addCount(st, signal as 'good' | 'reject', count);
    }
    this.armLine(line, st);
    return reports.length - before;
  }

  /** Refuses, as a whole, a batch whose new lines would pass MAX_LINES (one batch must not lock out later lines). */
  admit(tags: readonly string[]): void {
    const fresh = new Set<string>();
    for (const tag of tags) {
      let line: string;
      try {
        [line] = lineOf(tag);
      } catch {
        continue; // an unknown signal is refused on its own when the batch is processed
      }
      if (!this.lines.has(line)) fresh.add(line);
    }
    if (this.lines.size + fresh.size > MAX_LINES) {
      throw new InputError(`batch refused: its ${fresh.size} new lines would pass the limit of ${MAX_LINES} lines (${this.lines.size} known)`);
    }
  }

  private countOf(s: Sample): number {
    const v = s.value;
    if (this.o.countMode === 'increment' && typeof v === 'boolean') return v ? 1 : 0; // a part-complete pulse
    if (typeof v !== 'number') throw new InputError(`tag "${s.tag}": a count must be a number, not ${typeName(v)}`);
    if (v < 0) throw new InputError(`tag "${s.tag}": a count cannot be negative (${v})`);
    if (v > MAX_COUNT) throw new InputError(`tag "${s.tag}": count ${v} is larger than ${MAX_COUNT}`);
    if (this.o.countMode === 'counter' && this.o.rollover > 0 && v >= this.o.rollover) {
      throw new InputError(`tag "${s.tag}": counter value ${v} is not below rollover ${this.o.rollover}`);
    }
    return v;
  }

  private addCount(st: LineState, signal: 'good' | 'reject', v: number): void {
    if (this.o.countMode === 'increment') {
      st[signal] += v;
      return;
    }
    const last = st.lastCounter[signal];
    st.lastCounter[signal] = v;
    if (last === null) return; // the first reading is the reference, not production
    let delta = v - last;
    // counterWrapped, the rate node's rule: a drop of more than half the modulus is a wrap; any
    // other drop (or any drop with rollover 0) is a device reset, an operator clearing the PLC
    // counter: the parts since then are the new value. Taking every drop as a wrap counted ~rollover
    // phantom parts on each reset.
    if (delta < 0) delta = counterWrapped(delta, this.o.rollover) ? delta + this.o.rollover : v;
    st[signal] += delta;
  }

  /**
   * Moves a line's accounting forward to event time `t`, closing the shifts that end on the way: the
   * first `share` - 1 one by one, the rest of a longer gap as one merged report (see the file's comment).
   */
  private advance(line: string, st: LineState, t: number, reports: OeeReport[], share: number): void {
    for (let n = 1; ; n++) {
      const end = this.shiftEnd(st);
      if (end > t) break;
      // The last report of the share reaches the start of t's shift; it is an ordinary close when that is `end`.
      const until = n >= share ? this.calendar.last(t) : end;
      if (until > end) {
        this.close(line, st, until, reports, true);
        break;
      }
      this.close(line, st, end, reports, false);
    }
    this.account(st, t);
  }

  private close(line: string, st: LineState, end: number, reports: OeeReport[], merged: boolean): void {
    this.account(st, end);
    const r: OeeReport = { line, figures: figuresOf(st, end, this.o.idealCycleTime), quality: st.quality, shiftStart: st.shiftStart, ts: end, closing: true };
    if (merged) r.merged = true;
    reports.push(r);
    // The new shift starts with the machine in the state it was in; counter references carry over.
    Object.assign(st, { shiftStart: end, runMs: 0, good: 0, reject: 0, quality: 'good' as Quality });
  }

  /** When the line's current shift ends; cached, as the time-zone arithmetic is not cheap and runs on every sample. */
  private shiftEnd(st: LineState): number {
    const c = this.ends.get(st);
    if (c && c.start === st.shiftStart) return c.end;
    const end = this.calendar.next(st.shiftStart);
    this.ends.set(st, { start: st.shiftStart, end });
    return end;
  }

  private account(st: LineState, t: number): void {
    if (t <= st.lastTs) return;
    if (st.running) st.runMs += t - st.lastTs;
    st.lastTs = t;
  }

  /** Current figures of one line or of every line, at event time now (closing reports first). */
  report(line?: string): OeeReport[] {
    const names = line === undefined ? [...this.lines.keys()] : [line];
    const share = this.closeShare(names.length);
    const out: OeeReport[] = [];
    for (const name of names) {
      const st = this.lines.get(name);
      if (!st) throw new InputError(`no OEE data for line "${name}"`);
      const at = Math.max(st.lastTs, this.clock(name).now());
      this.advance(name, st, at, out, share);
      out.push({ line: name, figures: figuresOf(st, at, this.o.idealCycleTime), quality: st.quality, shiftStart: st.shiftStart, ts: at, closing: false });
    }
    this.armBoundary();
    return out;
  }

  /** Starts the periodic report (every `period` s of local time). */
  start(): void {
    this.armBoundary();
    if (this.o.period <= 0) return;
    const tick = () => {
      this.periodTimer = this.timers.setTimeout(tick, this.o.period * 1000);
      if (this.lines.size) this.onReport(this.report());
    };
    this.periodTimer = this.timers.setTimeout(tick, this.o.period * 1000);
  }

  /** Arms one timer for the next shift end of any line, so a shift closes even when no sample comes. */
  private armBoundary(): void {
    let wall = Infinity;
    for (const [name, st] of this.lines) wall = Math.min(wall, this.wallDeadline(name, st));
    this.setBoundaryTimer(wall);
  }

  /** After a sample: only this line changed, so the armed timer moves only if this line ends sooner (O(1) per sample). */
  private armLine(line: string, st: LineState): void {
    const wall = this.wallDeadline(line, st);
    if (wall < this.armedFor) this.setBoundaryTimer(wall);
  }

  /** Local-clock time at which the line's event time reaches its shift end. */
  private wallDeadline(line: string, st: LineState): number {
    return this.timers.now() + (this.shiftEnd(st) - this.clock(line).now());
  }

  private setBoundaryTimer(wall: number): void {
    if (this.boundaryTimer !== undefined) this.timers.clearTimeout(this.boundaryTimer);
    this.boundaryTimer = undefined;
    this.armedFor = wall;
    if (wall === Infinity) return;
    this.boundaryTimer = this.timers.setTimeout(() => {
      this.boundaryTimer = undefined;
      this.armedFor = Infinity;
      const closing: OeeReport[] = [];
      const share = this.closeShare(this.lines.size);
      for (const [name, st] of this.lines) this.advance(name, st, Math.max(st.lastTs, this.clock(name).now()), closing, share);
      this.armBoundary();
      if (closing.length) this.onReport(closing);
    }, Math.min(MAX_TIMER_MS, Math.max(0, wall - this.timers.now())));
  }

  get lineNames(): string[] {
    return [...this.lines.keys()];
  }

  get(line: string): Readonly<LineState> | undefined {
    return this.lines.get(line);
  }

  /** msg.reset: forgets one line, or every line; a forgotten line starts afresh at its next sample. */
  reset(line?: string): void {
    if (line === undefined) {
      this.lines.clear();
      this.clocks.clear();
    } else {
      this.lines.delete(line);
      this.clocks.delete(line);
    }
    this.armBoundary();
  }

  snapshot(): Record<string, LineState> {
    const out: Record<string, LineState> = {};
    for (const [name, st] of this.lines) out[name] = { ...st, lastCounter: { ...st.lastCounter } };
    return out;
  }

  /** Restores lines saved by snapshot(); returns the names that could not be read. */
  restore(saved: unknown): string[] {
    const rejected: string[] = [];
    if (!saved || typeof saved !== 'object') return rejected;
    for (const [name, raw] of Object.entries(saved as Record<string, unknown>)) {
      const st = parseLine(raw);
      if (!st) {
        rejected.push(name);
        continue;
      }
      this.lines.set(name, st);
      this.clock(name).observe(st.lastTs);
    }
    this.armBoundary();
    return rejected;
  }

  dispose(): void {
    if (this.periodTimer !== undefined) this.timers.clearTimeout(this.periodTimer);
    if (this.boundaryTimer !== undefined) this.timers.clearTimeout(this.boundaryTimer);
    this.periodTimer = undefined;
    this.boundaryTimer = undefined;
    this.armedFor = Infinity;
  }

  private clock(line: string): EventClock {
    let c = this.clocks.get(line);
    if (!c) {
      c = new EventClock(this.timers);
      this.clocks.set(line, c);
    }
    return c;
  }
}
