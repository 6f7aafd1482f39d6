/**
 * Alarm engine: limit alarms (HH, H, L, LL) with hysteresis and on/off delays, and the ISA-18.2
 * alarm state machine (ANSI/ISA-18.2-2016, clause 11.5, figure 8: states A normal, B unacknowledged,
 * C acknowledged, D returned to normal unacknowledged, E shelved). One state per tag.
 *
 * Two layers, kept apart on purpose:
 * - the process condition: is the value in alarm, at which level, after hysteresis and delays;
 * - the annunciation state: what the operator has been told and has acknowledged.
 * Delays and shelving run in event time (the samples' timestamps); when samples stop arriving,
 * a timer completes them in event time extrapolated by the local clock (event-clock.ts).
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample } from '../shared/sample';
import { checkEventTime, EventClock, formatTime, MAX_TIMER_MS, systemTimers, type Timers } from './event-clock';
import { estimatedEventTime } from './tag-table';

export type AlarmState = 'normal' | 'unack' | 'acked' | 'rtn-unack' | 'shelved';
export type AlarmLevel = 'HH' | 'H' | 'L' | 'LL';
export const ALARM_PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type AlarmPriority = (typeof ALARM_PRIORITIES)[number];

export interface AlarmOptions {
  highHigh?: number;
  high?: number;
  low?: number;
  lowLow?: number;
  /** Deadband for the return to normal, in the value's units. */
  hysteresis: number;
  /** Seconds the condition must hold before the alarm becomes active. */
  onDelay: number;
  /** Seconds the condition must be clear before the alarm returns to normal. */
  offDelay: number;
  /** Latching: an acknowledged alarm that clears waits in rtn-unack for a second acknowledgement. */
  latch: boolean;
  priority: AlarmPriority;
}

export interface AlarmEvent {
  tag: string;
  state: AlarmState;
  level: AlarmLevel | null;
  value: number | null;
  /** Event time the alarm entered this state, epoch ms. */
  since: number;
  previous: AlarmState;
  priority: AlarmPriority;
  quality: Quality;
  /** Event time of the change, epoch ms. */
  ts: number;
}

/** What survives a restart for one tag (JSON-safe; stored in the node context). */
export interface TagAlarm {
  state: AlarmState;
  /** Level shown to the operator: the active level, or the level that returned (rtn-unack). */
  level: AlarmLevel | null;
  value: number | null;
  since: number;
  quality: Quality;
  lastTs: number | null;
  /** Process condition after delays. */
  active: boolean;
  activeLevel: AlarmLevel | null;
  pendingOn: { since: number; level: AlarmLevel } | null;
  pendingOff: { since: number } | null;
  shelvedUntil: number | null;
  badInput: boolean;
}

/**
 * A tag's state as snapshot() saves it: the state, and the tag's event-time estimate (event time
 * `eventTime` at host time `hostTime`), so that after a restart event time goes on from where it
 * was plus the downtime, instead of restarting at the last sample's timestamp.
 */
export interface SavedTagAlarm extends TagAlarm {
  eventTime?: number;
  hostTime?: number;
}

const LEVELS: readonly AlarmLevel[] = ['HH', 'H', 'L', 'LL'];
const STATES: readonly AlarmState[] = ['normal', 'unack', 'acked', 'rtn-unack', 'shelved'];
const SEVERITY: Record<AlarmLevel, number> = { HH: 2, H: 1, L: 1, LL: 2 };
const SIDE: Record<AlarmLevel, 'high' | 'low'> = { HH: 'high', H: 'high', L: 'low', LL: 'low' };
/** Tags one node tracks at most: a flood of made-up topics must not grow memory and context without bound. */
export const MAX_ALARM_TAGS = 10_000;
/** A shelf is a time-limited suppression (ISA-18.2 clause 12.4): at most seven days. */
export const MAX_SHELVE_S = 7 * 24 * 3600;

function checkOptions(o: AlarmOptions): void {
  for (const k of ['highHigh', 'high', 'low', 'lowLow'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new ConfigError(`${k} must be a finite number or empty`);
  }
  for (const k of ['hysteresis', 'onDelay', 'offDelay'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || o[k] < 0) throw new ConfigError(`${k} must be a number >= 0`);
  }
  if (o.highHigh === undefined && o.high === undefined && o.low === undefined && o.lowLow === undefined) {
    throw new ConfigError('set at least one limit (highHigh, high, low or lowLow)');
  }
  // Limits must nest, or a value could be in HH without being in H: LL < L < H < HH.
  const ordered = [o.lowLow, o.low, o.high, o.highHigh].filter((v): v is number => v !== undefined);
  for (let i = 1; i < ordered.length; i++) {
    if (!(ordered[i - 1] < ordered[i])) throw new ConfigError('limits must increase: lowLow < low < high < highHigh');
  }
  // A held high alarm stays in until the value falls below limit - hysteresis: with a hysteresis as
  // wide as the gap to the low side, a held H would still be reported H for a value below L.
  const highSide = o.high ?? o.highHigh;
  const lowSide = o.low ?? o.lowLow;
  if (highSide !== undefined && lowSide !== undefined && !(o.hysteresis < highSide - lowSide)) {
    throw new ConfigError(
      `hysteresis (${o.hysteresis}) must be smaller than the gap between the lowest high-side limit (${highSide}) and the highest low-side limit (${lowSide}): ${highSide - lowSide}`,
    );
  }
  if (!ALARM_PRIORITIES.includes(o.priority)) throw new ConfigError(`priority must be one of ${ALARM_PRIORITIES.join(', ')}`);
}

export function newTagAlarm(ts: number): TagAlarm {
  return {
    state: 'normal', level: null, value: null, since: ts, quality: 'good', lastTs: null,
    active: false, activeLevel: null, pendingOn: null, pendingOff: null, shelvedUntil: null, badInput: false,
  };
}

/** Checks a stored tag state read back from the context; returns undefined when it is not one. */
export function parseTagAlarm(raw: unknown): TagAlarm | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const lvl = (v: unknown) => v === null || LEVELS.includes(v as AlarmLevel);
  if (!STATES.includes(r.state as AlarmState) || !lvl(r.level) || !lvl(r.activeLevel) || !num(r.since)) return undefined;
  if (!(r.value === null || num(r.value)) || !(r.lastTs === null || num(r.lastTs))) return undefined;
  if (typeof r.active !== 'boolean' || typeof r.badInput !== 'boolean') return undefined;
  if (!(r.shelvedUntil === null || num(r.shelvedUntil))) return undefined;
  const on = r.pendingOn as { since?: unknown; level?: unknown } | null;
  const off = r.pendingOff as { since?: unknown } | null;
  if (on !== null && (typeof on !== 'object' || !num(on.since) || !LEVELS.includes(on.level as AlarmLevel))) return undefined;
  if (off !== null && (typeof off !== 'object' || !num(off.since))) return undefined;
  const q = r.quality;
  const state = r.state as AlarmState;
  // A shelf end belongs to the shelved state only. Repaired here (a stored state may have been
  // edited or written by other code): an end left on another state is dropped, and a shelf without
  // an end gets the longest one allowed, counted from when it began, so it cannot hide an alarm for good.
  let shelvedUntil = r.shelvedUntil as number | null;
  if (state !== 'shelved') shelvedUntil = null;
  else if (shelvedUntil === null) shelvedUntil = (r.since as number) + MAX_SHELVE_S * 1000;
  return {
    state, level: r.level as AlarmLevel | null, value: r.value as number | null,
    since: r.since as number, quality: q === 'uncertain' || q === 'bad' ? q : 'good', lastTs: r.lastTs as number | null,
    active: r.active, activeLevel: r.activeLevel as AlarmLevel | null,
    pendingOn: on ? { since: on.since as number, level: on.level as AlarmLevel } : null,
    pendingOff: off ? { since: off.since as number } : null,
    shelvedUntil, badInput: r.badInput,
  };
}

export class AlarmEngine {
  private readonly tags = new Map<string, TagAlarm>();
  private readonly clocks = new Map<string, EventClock>();
  private readonly timerHandles = new Map<string, unknown>();
  private readonly timers: Timers;
  /** Tags whose newest sample was bad (a count kept as states change, so the status needs no scan). */
  private bad = 0;
  /** Receives changes made by a timer (a delay or a shelf that ran out with no sample arriving). */
  onTimed: (events: AlarmEvent[]) => void = () => undefined;

  constructor(private readonly o: AlarmOptions, timers: Timers = systemTimers) {
    checkOptions(o);
    this.timers = timers;
  }

  /**
   * Refuses, as a whole, a batch whose new tags would pass MAX_ALARM_TAGS, so that one oversized
   * batch cannot fill the table and lock out every later tag.
   */
  admit(tags: readonly string[]): void {
    const fresh = new Set(tags.filter((t) => !this.tags.has(t))).size;
    if (this.tags.size + fresh > MAX_ALARM_TAGS) {
      throw new InputError(`batch refused: its ${fresh} new tags would pass the limit of ${MAX_ALARM_TAGS} tags (${this.tags.size} known)`);
    }
  }

  /** Level the value is in, given the level the alarm holds now (for hysteresis on the way out). */
  levelOf(v: number, held: AlarmLevel | null): AlarmLevel | null {
    const h = this.o.hysteresis;
    const holds = (l: AlarmLevel) => held !== null && SIDE[held] === SIDE[l] && SEVERITY[held] >= SEVERITY[l];
    const check = (l: AlarmLevel, limit: number | undefined): boolean => {
      if (limit === undefined) return false;
      if (SIDE[l] === 'high') return v >= limit || (holds(l) && v > limit - h);
      return v <= limit || (holds(l) && v < limit + h);
    };
    if (check('HH', this.o.highHigh)) return 'HH';
    if (check('LL', this.o.lowLow)) return 'LL';
    if (check('H', this.o.high)) return 'H';
    if (check('L', this.o.low)) return 'L';
    return null;
  }

  /** Feeds one sample; returns the state changes it caused, oldest first. */
  process(s: Sample): AlarmEvent[] {
    const bad = s.value === null || s.quality === 'bad';
    const v = s.value === null ? null : numericValue(s);
    checkEventTime(s.tag, s.ts, this.timers.now());
    const st = this.tags.get(s.tag);
    if (st && st.lastTs !== null && s.ts < st.lastTs) {
      throw new InputError(`tag "${s.tag}": timestamp ${formatTime(s.ts)} is earlier than the previous sample's`);
    }
    if (!st && this.tags.size >= MAX_ALARM_TAGS) throw new InputError(`more than ${MAX_ALARM_TAGS} tags: tag "${s.tag}" refused`);
    const t = st ?? newTagAlarm(s.ts);
    if (!st) this.tags.set(s.tag, t);
    const events: AlarmEvent[] = [];
    this.advanceTag(s.tag, t, s.ts, events);
    this.clock(s.tag).observe(s.ts);
    t.lastTs = s.ts;

    if (bad) {
      // Bad input neither raises nor clears an alarm: the condition is unknown, so the state is
      // held and delays that were running are cancelled (they cannot be confirmed).
      t.pendingOn = null;
      t.pendingOff = null;
      if (v !== null) t.value = v;
      if (!t.badInput) {
        t.badInput = true;
        this.bad++;
        t.quality = 'bad';
        events.push(this.event(s.tag, t, t.state, s.ts));
      }
    } else {
      const wasBad = t.badInput;
      if (wasBad) this.bad--;
      t.badInput = false;
      t.quality = s.quality;
      t.value = v;
      const before = events.length;
      this.evaluate(s.tag, t, v as number, s.ts, events);
      if (wasBad && events.length === before) events.push(this.event(s.tag, t, t.state, s.ts));
    }
    this.schedule(s.tag, t);
    return events;
  }

  private evaluate(tag: string, t: TagAlarm, v: number, ts: number, events: AlarmEvent[]): void {
    const raw = this.levelOf(v, t.active ? t.activeLevel : null);
    if (!t.active) {
      if (raw === null) {
        t.pendingOn = null;
      } else if (this.o.onDelay === 0) {
        this.activate(tag, t, raw, ts, events);
      } else {
        // The on-delay runs while the value stays on one side; a move across (H/HH <-> L/LL) is a
        // different condition, so its delay starts again. The object is reused: no allocation per sample.
        const p = t.pendingOn;
        if (p === null) t.pendingOn = { since: ts, level: raw };
        else {
          if (SIDE[p.level] !== SIDE[raw]) p.since = ts;
          p.level = raw;
        }
      }
      return;
    }
    if (raw !== null) {
      t.pendingOff = null;
      if (raw !== t.activeLevel) this.activate(tag, t, raw, ts, events);
    } else if (this.o.offDelay === 0) {
      this.clear(tag, t, ts, events);
    } else if (!t.pendingOff) {
      t.pendingOff = { since: ts };
    }
  }

  /**
   * Completes delays and shelves that ran out at or before event time `ts`, in the order they ran out.
   * Each pass removes the deadline it completes before acting on it, and no action here sets one, so
   * three passes (on-delay, off-delay, shelf) finish it whatever the state: an inconsistent state
   * once made this loop spin for ever and froze Node-RED.
   */
  private advanceTag(tag: string, t: TagAlarm, ts: number, events: AlarmEvent[]): void {
    for (let pass = 0; pass < 3; pass++) {
      const on = t.pendingOn ? t.pendingOn.since + this.o.onDelay * 1000 : Infinity;
      const off = t.pendingOff ? t.pendingOff.since + this.o.offDelay * 1000 : Infinity;
      const shelf = t.shelvedUntil ?? Infinity;
      const next = Math.min(on, off, shelf);
      if (!(next <= ts)) return;
      if (next === shelf) {
        t.shelvedUntil = null;
        this.endShelf(tag, t, next, events);
      } else if (next === on) {
        const level = t.pendingOn!.level;
        t.pendingOn = null;
        this.activate(tag, t, level, next, events);
      } else {
        t.pendingOff = null;
        this.clear(tag, t, next, events);
      }
    }
  }

  /** The end of a shelf: an alarm still active is annunciated again, otherwise the tag is normal. */
  private endShelf(tag: string, t: TagAlarm, ts: number, events: AlarmEvent[]): void {
    if (t.state !== 'shelved') return;
    if (t.active) this.change(tag, t, 'unack', t.activeLevel, ts, events);
    else this.change(tag, t, 'normal', null, ts, events);
  }

  private activate(tag: string, t: TagAlarm, level: AlarmLevel, ts: number, events: AlarmEvent[]): void {
    const prevLevel = t.activeLevel;
    t.active = true;
    t.activeLevel = level;
    t.pendingOn = null;
    if (t.state === 'shelved') return;
    // A new alarm, a re-alarm after return, or an escalation (H -> HH) is annunciated anew; a
    // de-escalation (HH -> H) keeps the acknowledgement the operator gave.
    const escalated = prevLevel === null || SIDE[prevLevel] !== SIDE[level] || SEVERITY[level] > SEVERITY[prevLevel];
    this.change(tag, t, t.state === 'acked' && !escalated ? 'acked' : 'unack', level, ts, events);
  }

  private clear(tag: string, t: TagAlarm, ts: number, events: AlarmEvent[]): void {
    t.active = false;
    t.pendingOff = null;
    if (t.state === 'shelved') {
      t.activeLevel = null;
      return;
    }
    const level = t.activeLevel;
    t.activeLevel = null;
    if (t.state === 'unack') this.change(tag, t, 'rtn-unack', level, ts, events);
    else if (t.state === 'acked') this.change(tag, t, this.o.latch ? 'rtn-unack' : 'normal', this.o.latch ? level : null, ts, events);
  }

  /**
   * A state never begins before the state it follows. A timer completes a delay or a shelf at its
   * deadline in extrapolated event time, which can be later than the tag's last sample; a sample
   * stamped between that sample and the deadline arrives after the change was announced. Its
   * changes take effect right after the announced one (at the current state's `since`), so the
   * changes keep the order in which they were made and `since` never goes backwards.
   */
  private change(tag: string, t: TagAlarm, state: AlarmState, level: AlarmLevel | null, ts: number, events: AlarmEvent[]): void {
    if (state === t.state && level === t.level) return;
    const previous = t.state;
    const at = ts < t.since ? t.since : ts;
    if (state !== t.state) t.since = at;
    t.state = state;
    t.level = level;
    events.push(this.event(tag, t, previous, at));
  }

  private event(tag: string, t: TagAlarm, previous: AlarmState, ts: number): AlarmEvent {
    return {
      tag, state: t.state, level: t.level, value: t.value, since: t.since, previous,
      priority: this.o.priority, quality: t.badInput ? 'bad' : t.quality, ts,
    };
  }

  /** Operator acknowledgement (msg.ack): unack -> acked, rtn-unack -> normal; otherwise nothing. */
  acknowledge(tag: string, ts?: number): AlarmEvent[] {
    const t = this.known(tag);
    const at = this.actionTime(t, tag, ts);
    const events: AlarmEvent[] = [];
    this.advanceTag(tag, t, at, events);
    if (t.state === 'unack') this.change(tag, t, 'acked', t.level, at, events);
    else if (t.state === 'rtn-unack') this.change(tag, t, 'normal', null, at, events);
    this.schedule(tag, t);
    return events;
  }

  /** Shelves a tag for `seconds` (msg.action "shelve"); a tag not seen yet is shelved ahead of its first sample. */
  shelve(tag: string, seconds: number, ts?: number): AlarmEvent[] {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1 || seconds > MAX_SHELVE_S) {
      throw new InputError(`msg.duration must be seconds between 1 and ${MAX_SHELVE_S} (7 days), not ${String(seconds)}`);
    }
    let t = this.tags.get(tag);
    // The bound first: a refused tag must leave nothing behind (not even an event clock).
    if (!t && this.tags.size >= MAX_ALARM_TAGS) throw new InputError(`more than ${MAX_ALARM_TAGS} tags: tag "${tag}" refused`);
    const at = this.actionTime(t, tag, ts);
    if (!t) {
      t = newTagAlarm(at);
      this.tags.set(tag, t);
    }
    const events: AlarmEvent[] = [];
    this.advanceTag(tag, t, at, events);
    t.shelvedUntil = at + seconds * 1000;
    this.change(tag, t, 'shelved', t.active ? t.activeLevel : null, at, events);
    this.schedule(tag, t);
    return events;
  }

  /**
   * Ends a shelf (msg.action "unshelve"): an alarm still active is annunciated again. The tag is
   * first brought to the action's time as a sample would bring it (a shelf that already ran out ends
   * at its deadline, delays complete in order), so unshelving late gives what a sample would.
   */
  unshelve(tag: string, ts?: number): AlarmEvent[] {
    const t = this.known(tag);
    const at = this.actionTime(t, tag, ts);
    const events: AlarmEvent[] = [];
    this.advanceTag(tag, t, at, events);
    if (t.state === 'shelved') {
      t.shelvedUntil = null;
      this.endShelf(tag, t, at, events);
    }
    this.schedule(tag, t);
    return events;
  }

  /** Alarms that are not normal (msg.action "list"), oldest first. */
  list(): AlarmEvent[] {
    const out: AlarmEvent[] = [];
    for (const [tag, t] of this.tags) if (t.state !== 'normal') out.push(this.event(tag, t, t.state, t.since));
    return out.sort((a, b) => a.since - b.since);
  }

  get(tag: string): Readonly<TagAlarm> | undefined {
    return this.tags.get(tag);
  }

  get size(): number {
    return this.tags.size;
  }

  /** Tags whose input is bad now (their newest sample was bad). */
  get badInputs(): number {
    return this.bad;
  }

  /** msg.reset: forgets one tag, or every tag. */
  reset(tag?: string): void {
    if (tag === undefined) {
      this.dispose();
      this.tags.clear();
      // Every clock, also any left by a tag that never got a state.
      this.clocks.clear();
      this.bad = 0;
      return;
    }
    this.cancelTimer(tag);
    if (this.tags.get(tag)?.badInput) this.bad--;
    this.tags.delete(tag);
    this.clocks.delete(tag);
  }

  /** The states to keep across a restart (JSON-safe, sharing no object with the live states). */
  snapshot(): Record<string, SavedTagAlarm> {
    const out: Record<string, SavedTagAlarm> = {};
    const host = this.timers.now();
    for (const [tag, t] of this.tags) {
      const saved: SavedTagAlarm = {
        ...t,
        pendingOn: t.pendingOn && { since: t.pendingOn.since, level: t.pendingOn.level },
        pendingOff: t.pendingOff && { since: t.pendingOff.since },
      };
      const c = this.clocks.get(tag);
      if (c?.seen) {
        saved.eventTime = c.now();
        saved.hostTime = host;
      }
      out[tag] = saved;
    }
    return out;
  }

  /**
   * Restores states saved by snapshot(); returns the tags that could not be read. Event time goes on
   * from the saved estimate plus the host time since it was saved (the downtime included), so a shelf
   * or a delay ends when it should even if no sample arrives; a state saved without the estimate (by
   * an older version) goes on from its last sample's timestamp.
   */
  restore(saved: unknown): string[] {
    const rejected: string[] = [];
    if (!saved || typeof saved !== 'object') return rejected;
    const host = this.timers.now();
    for (const [tag, raw] of Object.entries(saved as Record<string, unknown>)) {
      const t = parseTagAlarm(raw);
      if (!t) {
        rejected.push(tag);
        continue;
      }
      if (this.tags.get(tag)?.badInput) this.bad--;
      this.tags.set(tag, t);
      if (t.badInput) this.bad++;
      if (t.lastTs !== null) {
        const { eventTime, hostTime } = raw as { eventTime?: unknown; hostTime?: unknown };
        const estimated = typeof eventTime === 'number' && typeof hostTime === 'number' && Number.isFinite(eventTime) && Number.isFinite(hostTime)
          // Never behind the last sample; a host clock set back meanwhile adds nothing.
          ? Math.max(t.lastTs, estimatedEventTime(eventTime, hostTime, host))
          : t.lastTs;
        this.clock(tag).observe(estimated);
      }
      this.schedule(tag, t);
    }
    return rejected;
  }

  dispose(): void {
    for (const tag of [...this.timerHandles.keys()]) this.cancelTimer(tag);
  }

  /**
   * When an operator action takes effect: its msg.timestamp, or event time now; never before the
   * tag's last sample nor before its current state began (a timer may have begun it later than that
   * sample), so that a state never begins before the state it follows. A msg.timestamp is checked
   * as a sample's is: one far ahead would stretch a shelf past its limit or date an acknowledgement
   * in the future.
   */
  private actionTime(t: TagAlarm | undefined, tag: string, ts?: number): number {
    if (ts !== undefined) checkEventTime(tag, ts, this.timers.now());
    if (!t) return ts ?? this.timers.now();
    const at = ts ?? this.clock(tag).now();
    return Math.max(at, t.since, t.lastTs ?? -Infinity);
  }

  private known(tag: string): TagAlarm {
    const t = this.tags.get(tag);
    if (!t) throw new InputError(`no alarm for tag "${tag}" (no sample has arrived for it)`);
    return t;
  }

  private clock(tag: string): EventClock {
    let c = this.clocks.get(tag);
    if (!c) {
      c = new EventClock(this.timers);
      this.clocks.set(tag, c);
    }
    return c;
  }

  private cancelTimer(tag: string): void {
    const h = this.timerHandles.get(tag);
    if (h !== undefined) this.timers.clearTimeout(h);
    this.timerHandles.delete(tag);
  }

  /** Arms one timer per tag for its next deadline (delay or shelf end), in extrapolated event time. */
  private schedule(tag: string, t: TagAlarm): void {
    this.cancelTimer(tag);
    const deadlines = [
      t.pendingOn ? t.pendingOn.since + this.o.onDelay * 1000 : Infinity,
      t.pendingOff ? t.pendingOff.since + this.o.offDelay * 1000 : Infinity,
      t.shelvedUntil ?? Infinity,
    ];
    const next = Math.min(...deadlines);
    if (next === Infinity) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock(tag).now()));
    this.timerHandles.set(
      tag,
      this.timers.setTimeout(() => {
        this.timerHandles.delete(tag);
        const cur = this.tags.get(tag);
        if (!cur) return;
        const events: AlarmEvent[] = [];
        // A timer never fires early; when the wait was capped it fires before the deadline and re-arms.
        const at = wait < MAX_TIMER_MS ? Math.max(next, this.clock(tag).now()) : this.clock(tag).now();
        this.advanceTag(tag, cur, at, events);
        this.schedule(tag, cur);
        if (events.length) this.onTimed(events);
      }, wait),
    );
  }
}
