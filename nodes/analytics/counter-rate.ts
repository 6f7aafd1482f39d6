/**
 * Counters to rates, and rates to running totals (DESIGN.md section 7, plantwire-rate).
 *
 * Rules the help text states:
 * - rate: the first reading of a tag is the baseline and gives no output. Then
 *   rate = (count - previous) / (seconds between their timestamps) x seconds per `per`.
 * - A drop of the counter is a rollover when `rollover` (the modulus, 65536 for a 16-bit register,
 *   4294967296 for 32-bit) is set and the drop is more than half of it: the increase is
 *   count + rollover - previous. Any other drop is a device reset (power cycle, counter cleared):
 *   the counter is taken to have restarted from 0, the increase is the new count, and the result is
 *   marked `uncertain` with `counterReset: true`. A rate is never negative.
 * - total: the input is a rate in units per `per`; the running total grows by the trapezoid
 *   (previous + current) / 2 x elapsed time. The first reading emits the total (restored or 0).
 *   Totals use compensated summation, so years of 1 s samples do not drift.
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

export class CounterRate {
  private tags: Record<string, RateTagState> = Object.create(null);
  private count = 0;
  private readonly maxTags: number;
  /** Device resets seen since start (for the status). */
  resets = 0;

  constructor(private readonly o: RateOptions) {
    if (o.mode !== 'rate' && o.mode !== 'total') throw new ConfigError('mode must be "rate" or "total"');
    if (!(o.per in SECONDS)) throw new ConfigError('per must be s, min or h');
    if (typeof o.rollover !== 'number' || !Number.isFinite(o.rollover) || o.rollover < 0) {
      throw new ConfigError('rollover must be 0 (resets only) or the counter modulus, such as 65536');
    }
    this.maxTags = o.maxTags ?? DEFAULT_MAX_TAGS;
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
      if (s.value === null) return;
      this.checkValue(s);
      const known = s.tag in this.tags;
      this.checkOrder(s, known ? this.tags[s.tag].ts : undefined);
      if (!known && this.count + 1 > this.maxTags) throw new InputError(`this message brings 1 new tags; a rate node keeps at most ${this.maxTags}`);
      return;
    }
    const seen = new Map<string, number>();
    let fresh = 0;
    for (const s of samples) {
      if (s.value === null) continue;
      this.checkValue(s);
      const known = s.tag in this.tags;
      this.checkOrder(s, seen.get(s.tag) ?? (known ? this.tags[s.tag].ts : undefined));
      if (!known && !seen.has(s.tag)) fresh++;
      seen.set(s.tag, s.ts);
    }
    if (this.count + fresh > this.maxTags) throw new InputError(`this message brings ${fresh} new tags; a rate node keeps at most ${this.maxTags}`);
  }

  private checkValue(s: Sample): void {
    const v = numericValue(s);
    if (this.o.mode === 'rate') {
      if (this.o.rollover > 0 && (v < 0 || v >= this.o.rollover)) {
        throw new InputError(`tag "${s.tag}": counter ${v} is outside 0..${this.o.rollover - 1} (rollover ${this.o.rollover})`);
      }
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) throw new InputError(`tag "${s.tag}": counter ${v} is beyond 2^53, where differences are no longer exact`);
    }
  }

  private checkOrder(s: Sample, prev: number | undefined): void {
    if (prev !== undefined && s.ts <= prev) {
      throw new InputError(
        `tag "${s.tag}": timestamp ${s.ts} is ${s.ts < prev ? 'older than' : 'the same as'} the previous reading's (${prev}); readings must arrive in time order`,
      );
    }
  }

  push(samples: readonly Sample[]): RateSample[] {
    this.validate(samples);
    const out: RateSample[] = [];
    const per = SECONDS[this.o.per];
    for (const s of samples) {
      if (s.value === null) continue;
      const v = numericValue(s);
      const prev = this.tags[s.tag];
      if (!prev) {
        this.tags[s.tag] = { v, ts: s.ts, q: s.quality, total: 0, c: 0 };
        this.count++;
        if (this.o.mode === 'total') out.push(this.result(s, 0, s.quality));
        continue;
      }
      const dtS = (s.ts - prev.ts) / 1000;
      let q = worstQuality(prev.q, s.quality);
      if (this.o.mode === 'rate') {
        let delta = v - prev.v;
        let reset = false;
        if (delta < 0) {
          if (this.o.rollover > 0 && -delta > this.o.rollover / 2) delta += this.o.rollover;
          else {
            delta = v;
            reset = true;
            this.resets++;
            q = worstQuality(q, 'uncertain');
          }
        }
        const r = this.result(s, (delta / dtS) * per, q);
        if (reset) r.counterReset = true;
        out.push(r);
      } else {
        const area = (((prev.v + v) / 2) * dtS) / per;
        const t = prev.total + area;
        prev.c += Math.abs(prev.total) >= Math.abs(area) ? prev.total - t + area : area - t + prev.total;
        prev.total = t;
        out.push(this.result(s, prev.total + prev.c, q));
      }
      prev.v = v;
      prev.ts = s.ts;
      prev.q = s.quality;
    }
    return out;
  }

  reset(tag?: string): void {
    if (tag === undefined) {
      this.tags = Object.create(null);
      this.count = 0;
    } else if (tag in this.tags) {
      delete this.tags[tag];
      this.count--;
    }
  }

  private result(s: Sample, value: number, quality: Quality): RateSample {
    const r: RateSample = { tag: s.tag, value, quality, ts: s.ts };
    if (s.unit !== undefined) r.unit = s.unit;
    return r;
  }
}
