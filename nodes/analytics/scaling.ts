/** Linear scaling engine: maps [inLow, inHigh] onto [outLow, outHigh] (DESIGN.md section 7). */
import { ConfigError } from '../shared/errors';
import { numericValue, worstQuality, type Sample } from '../shared/sample';

export interface ScaleOptions {
  inLow: number;
  inHigh: number;
  outLow: number;
  outHigh: number;
  /** Clamp the output to [outLow, outHigh] when the input leaves its range. */
  clamp: boolean;
  /** Engineering unit of the output (e.g. "bar"); empty keeps the input's unit. */
  unit?: string;
}

export class LinearScale {
  private readonly gain: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly outMin: number;
  private readonly outMax: number;

  constructor(private readonly o: ScaleOptions) {
    for (const k of ['inLow', 'inHigh', 'outLow', 'outHigh'] as const) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new ConfigError(`${k} must be a finite number`);
    }
    if (o.inLow === o.inHigh) throw new ConfigError('inLow and inHigh must differ');
    this.gain = (o.outHigh - o.outLow) / (o.inHigh - o.inLow);
    this.lo = Math.min(o.inLow, o.inHigh);
    this.hi = Math.max(o.inLow, o.inHigh);
    this.outMin = Math.min(o.outLow, o.outHigh);
    this.outMax = Math.max(o.outLow, o.outHigh);
  }

  /** Scales one number; `inRange` is false when the input lay outside [inLow, inHigh]. */
  scale(x: number): { value: number; inRange: boolean } {
    let value = this.o.outLow + (x - this.o.inLow) * this.gain;
    const inRange = x >= this.lo && x <= this.hi;
    if (!inRange && this.o.clamp) value = Math.min(this.outMax, Math.max(this.outMin, value));
    return { value, inRange };
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
      let value = this.o.outLow + (x - this.o.inLow) * this.gain;
      const inRange = x >= this.lo && x <= this.hi;
      if (!inRange && this.o.clamp) value = Math.min(this.outMax, Math.max(this.outMin, value));
      out = { tag: s.tag, value, quality: inRange ? s.quality : worstQuality(s.quality, 'uncertain'), ts: s.ts };
    }
    if (unit !== undefined) out.unit = unit;
    return out;
  }
}
