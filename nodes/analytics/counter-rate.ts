/**
 * Counters to rates, and rates to running totals (DESIGN.md section 7, plantwire-rate).
 *
 * Rules the help text states:
 * - rate: the first reading of a tag is the baseline and gives no output. Then
 *   rate = (count - previous) x milliseconds per `per` / (milliseconds between their timestamps),
 *   multiplied before dividing so that whole figures come out whole (1000 counts in 60 s is
 *   1000/min, not 1000.0000000000001).
 * - A drop of the counter is a rollover when `rollover` (the modulus, 65536 for a 16-bit register,
 *   4294967296 for 32-bit) is set and the drop is more than half of it: the increase is
 *   count + rollover - previous. Any other drop is a device reset (power cycle, counter cleared):
 *   the counter is taken to have restarted from 0, the increase is the new count, and the result is
 *   marked `uncertain` with `counterReset: true`. A rate is never negative.
 * - total: the input is a rate in units per `per`; the running total grows by the trapezoid
 *   (previous + current) / 2 x elapsed time. The first reading emits the total (restored or 0).
 *   Totals use compensated summation, so years of 1 s samples do not drift.
 * - Unit of a result (rateUnit): a rate is the input's unit per `per` (pcs -> pcs/min); a total of a
 *   rate in x/`per` is in x (m3/h -> m3); a total of anything else has no unit, rather than a wrong
 *   one (the input's m3/h would be); no input unit gives none.
 * - Quality of a result: the worse of the two readings that bound the interval.
 * - null (a failed reading) is skipped: the next reading spans the whole interval, which is right
 *   for a counter; for a total the gap is bridged by a straight line.
 * - Timestamps of a tag must increase; an older or equal one is refused (it would divide by zero or
 *   run time backwards). The state (last reading and total per tag) is a plain object that the node
 *   keeps in its context, so a restart or redeploy resumes where it stopped.
 */
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, worstQuality, isQuality, type Quality, type Sample } from '../shared/sample';
import { DEFAULT_MAX_TAGS } from './tag-table';

export type RateMode = 'rate' | 'total';
export type RatePer = 's' | 'min' | 'h';

export interface RateOptions {
  mode: RateMode;
  per: RatePer;
  /** Counter modulus (65536, 4294967296); 0: no rollover, every drop is a reset. */
  rollover: number;
  maxTags?: number;
}

/** One tag's state: JSON-safe, so that it can live in the node context (and a file store). */
export interface RateTagState {
  v: number;
  ts: number;
  q: Quality;
  /** Running total and its compensation term (Neumaier). */
  total: number;
  c: number;
}

export interface RateState {
  mode: RateMode;
  per: RatePer;
  tags: Record<string, RateTagState>;
}

export interface RateSample extends Sample {
  counterReset?: boolean;
}

const SECONDS: Record<RatePer, number> = { s: 1, min: 60, h: 3600 };

/**
 * The unit of a result made from an input in `unit`: for a rate `${unit}/${per}`; for a total, the
 * part of `unit` before `/${per}` (m3/h integrated per hour is m3), and none when the unit does not
 * end so (kW integrated is kWh, but guessing that is how wrong units are made). None without a unit.
 */
export function rateUnit(mode: RateMode, per: RatePer, unit: string | undefined): string | undefined {
  const u = unit?.trim();
  if (!u) return undefined;
  if (mode === 'rate') return `${u}/${per}`;
  const suffix = `/${per}`;
  return u.endsWith(suffix) ? u.slice(0, -suffix.length).trim() || undefined : undefined;
}

/**
 * Whether a counter that went down by -delta (delta < 0) wrapped round its modulus `rollover`: only
 * a drop of more than half of it; any other drop (or any drop with rollover 0) is a device reset.
 * The rule of the rate node and of OEE's counters.
 */
export function counterWrapped(delta: number, rollover: number): boolean {
  return rollover > 0 && -delta > rollover / 2;
}

export class CounterRate {
  private tags: Record<string, RateTagState> = Object.create(null);
  private count = 0;
  private readonly maxTags: number;
  // The last tag looked up and its state: a flow of one tag (the single form) skips the dictionary.
  private lastTag: string | undefined;
  private lastState: RateTagState | undefined;
  /** Device resets seen since start (for the status). */
  resets = 0;
  /** pushOne's result record, reused: one object less per message. */
  private readonly one: RateSample = { tag: '', value: 0, quality: 'good', ts: 0, unit: undefined, counterReset: false };
  /** Milliseconds per `per`. */
  private readonly perMs: number;
  // The last input unit and its result unit (rateUnit): a flow of one unit makes no string a message.
  private unitIn: string | undefined;
  private unitOut: string | undefined;

  constructor(private readonly o: RateOptions) {
    if (o.mode !== 'rate' && o.mode !== 'total') throw new ConfigError('mode must be "rate" or "total"');
    if (!(o.per in SECONDS)) throw new ConfigError('per must be s, min or h');
    if (typeof o.rollover !== 'number' || !Number.isFinite(o.rollover) || o.rollover < 0) {
      throw new ConfigError('rollover must be 0 (resets only) or the counter modulus, such as 65536');
    }
    this.maxTags = o.maxTags ?? DEFAULT_MAX_TAGS;
    this.perMs = SECONDS[o.per] * 1000;
  }

  /** rateUnit of `unit`, remembered for the next result. */
  private resultUnit(unit: string | undefined): string | undefined {
    if (unit !== this.unitIn) {
      this.unitIn = unit;
      this.unitOut = rateUnit(this.o.mode, this.o.per, unit);
    }
    return this.unitOut;
  }

  /**
   * Takes back state saved by `state` (from the node context). State of another mode or unit is
   * ignored (a total in m3/h is not one in m3/min), and so is anything malformed.
   */
  /** Returns the number of tags taken back. */
  restore(saved: unknown): number {
    if (!saved || typeof saved !== 'object') return 0;
    const st = saved as Partial<RateState>;
    if (st.mode !== this.o.mode || st.per !== this.o.per || !st.tags || typeof st.tags !== 'object') return 0;
    let taken = 0;
    for (const [tag, t] of Object.entries(st.tags)) {
      if (this.count >= this.maxTags) break;
      if (!t || ![t.v, t.ts, t.total, t.c].every((x) => typeof x === 'number' && Number.isFinite(x)) || !isQuality(t.q)) continue;
      if (!(tag in this.tags)) this.count++;
      this.tags[tag] = { v: t.v, ts: t.ts, q: t.q, total: t.total, c: t.c };
      this.forgetLookup();
      taken++;
    }
    return taken;
  }

  /** The state to keep in the node context (the live object: cheap to set after every message). */
  get state(): RateState {
    return { mode: this.o.mode, per: this.o.per, tags: this.tags };
  }

  get tagCount(): number {
    return this.count;
  }

  /** Checks every sample first, so a batch is taken whole or refused whole. */
  validate(samples: readonly Sample[]): void {
    if (samples.length === 1) {
      // One sample (the single form): the same checks without the Map a batch needs.
      const s = samples[0];
      if (s.value !== null) this.checkOne(s.tag, numericValue(s), s.ts);
      return;
    }
    const seen = new Map<string, number>();
    let fresh = 0;
    for (const s of samples) {
      if (s.value === null) continue;
      this.checkValue(s.tag, numericValue(s));
      const known = s.tag in this.tags;
      this.checkOrder(s.tag, s.ts, seen.get(s.tag) ?? (known ? this.tags[s.tag].ts : undefined));
      if (!known && !seen.has(s.tag)) fresh++;
      seen.set(s.tag, s.ts);
    }
    if (this.count + fresh > this.maxTags) throw new InputError(`this message brings ${fresh} new tags; a rate node keeps at most ${this.maxTags}`);
  }

  /** The state of `tag`, if it has one. */
  private stateOf(tag: string): RateTagState | undefined {
    if (tag !== this.lastTag) {
      this.lastTag = tag;
      this.lastState = this.tags[tag];
    }
    return this.lastState;
  }

  /** Drops the remembered lookup, when a tag's state is made or removed. */
  private forgetLookup(): void {
    this.lastTag = undefined;
    this.lastState = undefined;
  }

  /** validate for one numeric reading: a counter in range, in time order, room for its tag. */
  private checkOne(tag: string, v: number, ts: number): void {
    this.checkValue(tag, v);
    const st = this.stateOf(tag);
    this.checkOrder(tag, ts, st?.ts);
    if (!st && this.count + 1 > this.maxTags) throw new InputError(`this message brings 1 new tags; a rate node keeps at most ${this.maxTags}`);
  }

  private checkValue(tag: string, v: number): void {
    if (this.o.mode === 'rate') {
      if (this.o.rollover > 0 && (v < 0 || v >= this.o.rollover)) {
        throw new InputError(`tag "${tag}": counter ${v} is outside 0..${this.o.rollover - 1} (rollover ${this.o.rollover})`);
      }
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) throw new InputError(`tag "${tag}": counter ${v} is beyond 2^53, where differences are no longer exact`);
    }
  }

  private checkOrder(tag: string, ts: number, prev: number | undefined): void {
    if (prev !== undefined && ts <= prev) {
      throw new InputError(
        `tag "${tag}": timestamp ${ts} is ${ts < prev ? 'older than' : 'the same as'} the previous reading's (${prev}); readings must arrive in time order`,
      );
    }
  }

  push(samples: readonly Sample[]): RateSample[] {
    this.validate(samples);
    const out: RateSample[] = [];
    for (const s of samples) {
      if (s.value === null) continue;
      const r = this.step(s.tag, numericValue(s), s.quality, s.ts, s.unit, undefined);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /**
   * push for one numeric reading (a single-form message), without the arrays and objects around
   * it: its result, or undefined (the first reading of a counter). The result is a record reused
   * by the next call: read it before pushing again.
   */
  pushOne(tag: string, v: number, quality: Quality, ts: number, unit: string | undefined): RateSample | undefined {
    this.checkOne(tag, v, ts);
    return this.step(tag, v, quality, ts, unit, this.one);
  }

  /**
   * Takes one validated reading into its tag's state; returns its result, if any (written into
   * `into` when given, else a new object).
   */
  private step(tag: string, v: number, quality: Quality, ts: number, unit: string | undefined, into: RateSample | undefined): RateSample | undefined {
    const prev = this.stateOf(tag);
    if (!prev) {
      this.tags[tag] = { v, ts, q: quality, total: 0, c: 0 };
      this.count++;
      this.forgetLookup();
      return this.o.mode === 'total' ? this.result(tag, 0, quality, ts, this.resultUnit(unit), false, into) : undefined;
    }
    const perMs = this.perMs;
    const dtMs = ts - prev.ts;
    let q = worstQuality(prev.q, quality);
    let r: RateSample;
    if (this.o.mode === 'rate') {
      let delta = v - prev.v;
      let reset = false;
      if (delta < 0) {
        if (counterWrapped(delta, this.o.rollover)) delta += this.o.rollover;
        else {
          delta = v;
          reset = true;
          this.resets++;
          q = worstQuality(q, 'uncertain');
        }
      }
      r = this.result(tag, (delta * perMs) / dtMs, q, ts, this.resultUnit(unit), reset, into);
    } else {
      const area = (((prev.v + v) / 2) * dtMs) / perMs;
      const t = prev.total + area;
      prev.c += Math.abs(prev.total) >= Math.abs(area) ? prev.total - t + area : area - t + prev.total;
      prev.total = t;
      r = this.result(tag, prev.total + prev.c, q, ts, this.resultUnit(unit), false, into);
    }
    prev.v = v;
    prev.ts = ts;
    prev.q = quality;
    return r;
  }

  reset(tag?: string): void {
    if (tag === undefined) {
      this.tags = Object.create(null);
      this.forgetLookup();
      this.count = 0;
    } else if (tag in this.tags) {
      delete this.tags[tag];
      this.forgetLookup();
      this.count--;
    }
  }

  private result(tag: string, value: number, quality: Quality, ts: number, unit: string | undefined, counterReset: boolean, into: RateSample | undefined): RateSample {
    if (into === undefined) {
      const r: RateSample = { tag, value, quality, ts };
      if (unit !== undefined) r.unit = unit;
      if (counterReset) r.counterReset = true;
      return r;
    }
    into.tag = tag;
    into.value = value;
    into.quality = quality;
    into.ts = ts;
    into.unit = unit;
    into.counterReset = counterReset;
    return into;
  }
}
