/**
 * Report by exception (DESIGN.md section 7, plantwire-deadband): a value passes only when it has
 * moved more than the deadband from the last value passed, when its quality changed, or when the
 * heartbeat is due; or, in swinging-door mode, when the historian compression archives it.
 *
 * Rules the help text states:
 * - The first sample of a tag always passes. Booleans and null pass whenever they differ from the
 *   last value passed (a deadband of numbers means nothing for them), in every mode.
 * - `absolute`: passes when |x - last| > deadband. `percent`: deadband is a percent of the span
 *   |rangeHigh - rangeLow|. A deadband of 0 passes every change and drops exact repeats.
 * - Heartbeat (wall clock, seconds; 0 = none): a tag that has passed nothing for `heartbeat`
 *   seconds re-sends its last passed value flagged `heartbeat: true` (swinging door: the held point
 *   is archived first, as real data, unflagged). The repeat is stamped in the tag's event time: its
 *   newest sample's timestamp plus the host time since that sample arrived. Stamped with the host
 *   clock, a device clock behind the host made the next real sample older than the heartbeat, and
 *   every time-ordered node downstream refused it. A sample that arrives when the heartbeat is due
 *   passes as well.
 * - Timestamps of a tag must not go back (an older one is refused); in swinging-door mode they must
 *   increase, because the door slopes divide by the time between points.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, type Quality, type Sample, type SampleValue } from '../shared/sample';
import { SwingingDoor, type DoorPoint } from './swinging-door';
import { DEFAULT_MAX_TAGS, estimatedEventTime, TagTable } from './tag-table';

export type DeadbandMode = 'absolute' | 'percent' | 'swinging-door';

export interface DeadbandOptions {
  mode: DeadbandMode;
  /** Absolute units (absolute) or percent of span (percent). */
  deadband: number;
  /** Swinging door compression deviation, absolute units. */
  deviation: number;
  rangeLow: number;
  rangeHigh: number;
  /** Seconds; 0 = no heartbeat. */
  heartbeat: number;
  maxTags?: number;
}

export interface DeadbandSample extends Sample {
  /** True on a heartbeat repeat of the last passed value. */
  heartbeat?: boolean;
}

interface TagState {
  /** Last value passed downstream. */
  last: Sample | null;
  /** Newest timestamp seen. */
  seenTs: number;
  /** Wall-clock time the sample stamped seenTs arrived (the heartbeat's event time runs on from it). */
  seenAt: number;
  /** Wall-clock time of the last emission (for the heartbeat). */
  passedAt: number;
  door: SwingingDoor | null;
  /** Unit of the newest sample, for points the door archives later. */
  unit?: string;
}

/** What the door archives for most samples: nothing (shared, never written to). */
const NOTHING: readonly Sample[] = Object.freeze([]);

export class DeadbandFilter {
  private readonly tags: TagTable<TagState>;
  private readonly band: number;
  private readonly heartbeatMs: number;

  constructor(private readonly o: DeadbandOptions) {
    if (!['absolute', 'percent', 'swinging-door'].includes(o.mode)) throw new ConfigError('mode must be absolute, percent or swinging-door');
    for (const k of ['deadband', 'deviation', 'rangeLow', 'rangeHigh', 'heartbeat'] as const) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new ConfigError(`${k} must be a finite number`);
    }
    if (o.deadband < 0) throw new ConfigError('deadband must be 0 or more');
    if (o.deviation < 0) throw new ConfigError('deviation must be 0 or more');
    if (o.heartbeat < 0) throw new ConfigError('heartbeat must be 0 (none) or more seconds');
    if (o.mode === 'percent' && o.rangeLow === o.rangeHigh) throw new ConfigError('rangeLow and rangeHigh must differ in percent mode');
    this.band = o.mode === 'percent' ? (o.deadband / 100) * Math.abs(o.rangeHigh - o.rangeLow) : o.deadband;
    this.heartbeatMs = o.heartbeat * 1000;
    this.tags = new TagTable<TagState>(
      () => ({ last: null, seenTs: -Infinity, seenAt: 0, passedAt: 0, door: o.mode === 'swinging-door' ? new SwingingDoor(o.deviation) : null }),
      o.maxTags ?? DEFAULT_MAX_TAGS,
    );
  }

  /** The deadband in engineering units (percent mode: of the span). */
  get absoluteBand(): number {
    return this.band;
  }

  /** Checks a message's samples before any state changes (a batch is taken whole or refused whole). */
  validate(samples: readonly Sample[]): void {
    if (samples.length === 1) {
      // One sample (the single form): the same checks without the Map and Set a batch needs.
      const s = samples[0];
      if (typeof s.value === 'string') numericValue(s);
      this.checkOne(s.tag, s.ts, typeof s.value === 'number');
      return;
    }
    const strict = this.o.mode === 'swinging-door';
    const max = this.o.maxTags ?? DEFAULT_MAX_TAGS;
    const seen = new Map<string, number>();
    const fresh = new Set<string>();
    for (const s of samples) {
      if (typeof s.value === 'string') numericValue(s); // throws: text is not a process value
      const st = this.tags.peek(s.tag);
      if (!st) fresh.add(s.tag);
      this.checkOrder(s.tag, s.ts, typeof s.value === 'number', seen.get(s.tag) ?? st?.seenTs ?? -Infinity, strict);
      seen.set(s.tag, s.ts);
    }
    if (this.tags.size + fresh.size > max) throw new InputError(`this message brings ${fresh.size} new tags; a deadband node keeps at most ${max}`);
  }

  /** validate for one sample that is not text: in time order, and room for its tag. */
  private checkOne(tag: string, ts: number, numeric: boolean): void {
    const st = this.tags.peek(tag);
    this.checkOrder(tag, ts, numeric, st?.seenTs ?? -Infinity, this.o.mode === 'swinging-door');
    const max = this.o.maxTags ?? DEFAULT_MAX_TAGS;
    if (!st && this.tags.size + 1 > max) throw new InputError(`this message brings 1 new tags; a deadband node keeps at most ${max}`);
  }

  private checkOrder(tag: string, ts: number, numeric: boolean, prev: number, strict: boolean): void {
    if (ts < prev || (strict && ts === prev && numeric)) {
      throw new InputError(
        `tag "${tag}": timestamp ${ts} is ${ts < prev ? 'older than' : 'the same as'} the previous sample's (${prev}); samples must arrive in time order`,
      );
    }
  }

  /** Filters samples; returns those that pass, in order (swinging door: the points it archives). */
  push(samples: readonly Sample[], now: number): DeadbandSample[] {
    this.validate(samples);
    const out: DeadbandSample[] = [];
    for (const s of samples) {
      const st = this.noteSeen(s.tag, s.ts, s.unit, now);
      const due = this.due(st, now);
      if (!st.door) {
        // Absolute and percent: no array per sample, the sample itself passes or not.
        if (this.passesBand(st, s.value, s.quality, due)) {
          st.last = s;
          st.passedAt = now;
          out.push(s);
        }
        continue;
      }
      for (const p of this.throughDoor(st, s, due)) {
        st.last = p;
        st.passedAt = now;
        out.push(p);
      }
    }
    return out;
  }

  /**
   * push for one number in absolute or percent mode (a single-form message), without the arrays
   * around it: the sample when it passes (a new object, kept as the tag's last passed), else
   * undefined. Swinging door can archive two points for one sample: it takes push.
   */
  pushOne(tag: string, value: number, quality: Quality, ts: number, unit: string | undefined, now: number): DeadbandSample | undefined {
    if (!this.passesOneByOne) throw new Error('pushOne is for the absolute and percent modes');
    this.checkOne(tag, ts, true);
    const st = this.noteSeen(tag, ts, unit, now);
    if (!this.passesBand(st, value, quality, this.due(st, now))) return undefined;
    const s: DeadbandSample = { tag, value, quality, ts };
    if (unit !== undefined) s.unit = unit;
    st.last = s;
    st.passedAt = now;
    return s;
  }

  /** Whether this filter passes at most one sample per sample in (absolute and percent modes): pushOne. */
  get passesOneByOne(): boolean {
    return this.o.mode !== 'swinging-door';
  }

  /** The state of `tag`, noting a sample stamped `ts` (validated) that arrived at wall-clock `now`, and its unit. */
  private noteSeen(tag: string, ts: number, unit: string | undefined, now: number): TagState {
    const st = this.tags.get(tag);
    st.seenTs = ts;
    st.seenAt = now;
    if (unit !== undefined) st.unit = unit;
    return st;
  }

  /** Whether the tag's heartbeat is due at wall-clock `now`: the next sample passes whatever it is. */
  private due(st: TagState, now: number): boolean {
    return this.heartbeatMs > 0 && st.last !== null && now - st.passedAt >= this.heartbeatMs;
  }

  /** Heartbeats due at wall-clock `now`: the last passed value again, stamped in the tag's event time now. */
  heartbeats(now: number): DeadbandSample[] {
    if (this.heartbeatMs <= 0) return [];
    const out: DeadbandSample[] = [];
    for (const [tag, st] of this.tags.entries()) {
      if (st.last === null || now - st.passedAt < this.heartbeatMs) continue;
      const held = st.door ? this.fromDoor(tag, st, st.door.flush()) : [];
      // seenTs is the newest sample seen (no passed point is newer), so the tag's output never goes back.
      const p: DeadbandSample = held.length ? held[0] : { ...st.last, ts: estimatedEventTime(st.seenTs, st.seenAt, now), heartbeat: true };
      st.last = held.length ? held[0] : st.last;
      st.passedAt = now;
      out.push(p);
    }
    return out;
  }

  /** Swinging door: archives every tag's held point now (msg.flush). */
  flush(tag?: string): DeadbandSample[] {
    const out: DeadbandSample[] = [];
    for (const [t, st] of this.tags.entries()) {
      if ((tag !== undefined && t !== tag) || !st.door) continue;
      for (const p of this.fromDoor(t, st, st.door.flush())) {
        st.last = p;
        out.push(p);
      }
    }
    return out;
  }

  reset(tag?: string): void {
    this.tags.reset(tag);
  }

  get tagCount(): number {
    return this.tags.size;
  }

  private passesBand(st: TagState, value: SampleValue, quality: Quality, due: boolean): boolean {
    const last = st.last;
    if (last === null || due || last.quality !== quality) return true;
    if (typeof value === 'number' && typeof last.value === 'number') return Math.abs(value - last.value) > this.band;
    return value !== last.value;
  }

  private throughDoor(st: TagState, s: Sample, due: boolean): readonly Sample[] {
    const door = st.door!;
    const latest = door.latest;
    if (typeof s.value !== 'number') {
      // Booleans and null: archive the held number, then pass the value when it changed.
      const out = this.fromDoor(s.tag, st, door.flush());
      const last = out.length ? out[out.length - 1] : st.last;
      if (last === null || due || last.quality !== s.quality || last.value !== s.value) out.push(s);
      st.door = new SwingingDoor(this.o.deviation);
      return out;
    }
    const p: DoorPoint = { v: s.value, ts: s.ts, q: s.quality };
    if (latest === null || due || latest.q !== s.quality) {
      // A quality change (or the heartbeat) archives the held point and starts a new door at this one.
      const out = this.fromDoor(s.tag, st, door.flush());
      door.archive(p);
      out.push(s);
      return out;
    }
    const archived = door.push(p);
    return archived.length === 0 ? NOTHING : this.fromDoor(s.tag, st, archived);
  }

  private fromDoor(tag: string, st: TagState, points: DoorPoint[]): Sample[] {
    return points.map((p) => {
      const s: Sample = { tag, value: p.v, quality: p.q, ts: p.ts };
      if (st.unit !== undefined) s.unit = st.unit;
      return s;
    });
  }
}
