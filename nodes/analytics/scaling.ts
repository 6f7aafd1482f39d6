/** Linear scaling engine: maps [inLow, inHigh] onto [outLow, outHigh] (DESIGN.md section 7). */
import { ConfigError } from '../shared/errors';
import { numericValue, worstQuality, type Sample } from '../shared/sample';

export interface ScaleOptions {
  inLow: number;
  inHigh: number;
  outLow: number;
  outHigh: number;
  /** Keep every output within [outLow, outHigh] (an input outside its range gives the nearer end). */
  clamp: boolean;
  /** Engineering unit of the output (e.g. "bar"); empty keeps the input's unit. */
  unit?: string;
}

export class LinearScale {
  private readonly span: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly outMin: number;
  private readonly outMax: number;

  constructor(private readonly o: ScaleOptions) {
    for (const k of ['inLow', 'inHigh', 'outLow', 'outHigh'] as const) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new ConfigError(`${k} must be a finite number`);
    }
    if (o.inLow === o.inHigh) throw new ConfigError('inLow and inHigh must differ');
    this.span = o.inHigh - o.inLow;
    this.lo = Math.min(o.inLow, o.inHigh);
    this.hi = Math.max(o.inLow, o.inHigh);
    this.outMin = Math.min(o.outLow, o.outHigh);
    this.outMax = Math.max(o.outLow, o.outHigh);
  }

  /**
   * The scaled value of `x`: (1 - t) x outLow + t x outHigh, t the place of x in the input range.
   * This form gives the ends exactly (inLow -> outLow, inHigh -> outHigh), where
   * outLow + (x - inLow) x gain gave 6.900000000000001 for 27648 on 0..27648 -> 0..6.9. Rounding
   * can still put a point inside the range an ulp past an end, so clamp applies to every result.
   */
  private map(x: number): number {
    const t = (x - this.o.inLow) / this.span;
    const value = (1 - t) * this.o.outLow + t * this.o.outHigh;
    return this.o.clamp ? Math.min(this.outMax, Math.max(this.outMin, value)) : value;
  }

  /** Scales one number; `inRange` is false when the input lay outside [inLow, inHigh]. */
  scale(x: number): { value: number; inRange: boolean } {
    return { value: this.map(x), inRange: x >= this.lo && x <= this.hi };
  }

  /**
   * Scales a sample. An input outside its range (a 4-20 mA loop reading 2 mA: a broken wire) is
   * marked `uncertain`; a null value (a bad reading) passes on as null with its quality.
   */
  apply(s: Sample): Sample {
    // Built field by field (a sample has no others), where spreading `s` and the unit cost more than the scaling.
    const unit = this.o.unit ? this.o.unit : s.unit;
    let out: Sample;
    if (s.value === null) out = { tag: s.tag, value: null, quality: s.quality, ts: s.ts };
    else {
      const x = numericValue(s);
      const inRange = x >= this.lo && x <= this.hi;
      out = { tag: s.tag, value: this.map(x), quality: inRange ? s.quality : worstQuality(s.quality, 'uncertain'), ts: s.ts };
    }
    if (unit !== undefined) out.unit = unit;
    return out;
  }
}
