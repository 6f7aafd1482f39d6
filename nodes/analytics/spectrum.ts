/**
 * Vibration analysis of one block of fftSize samples: time-domain figures (RMS, peak,
 * peak-to-peak, crest factor, kurtosis), an amplitude spectrum, band RMS and the dominant
 * frequency. Scaling follows the usual conventions of vibration analysers (see e.g. Heinzel,
 * Rüdiger, Schilling, "Spectrum and spectral density estimation by the DFT", 2002):
 * - amplitude spectrum: |X_k| * 2 / sum(w), so a sine of amplitude A reads A at its bin
 *   (coherent-gain correction);
 * - power spectrum: |X_k|^2 * 2 / (N * sum(w^2)), so summing bins gives mean square, the
 *   noise power bandwidth correction that makes band RMS energy-correct under a Hann window.
 */
import FFT = require('fft.js');
import { ConfigError, InputError } from '../shared/errors';
import { numericValue, typeName, worstQuality, type Quality, type Sample } from '../shared/sample';
import { checkEventTime, formatTime } from './event-clock';

export const WINDOW_FUNCTIONS = ['hann', 'rect'] as const;
export type WindowFn = (typeof WINDOW_FUNCTIONS)[number];
export type Band = [number, number];

export interface VibrationOptions {
  /** Samples per second. */
  sampleRate: number;
  /** Samples per analysed block; a power of two. */
  fftSize: number;
  windowFn: WindowFn;
  /** Frequency bands [lowHz, highHz) whose RMS is reported. */
  bands: Band[];
  /** Add the amplitude spectrum to each result. */
  spectrum: boolean;
}

export interface BandRms {
  lowHz: number;
  highHz: number;
  rms: number;
}

export interface VibrationFigures {
  /** RMS of the signal with its mean (DC) removed. */
  rms: number;
  /** Largest |x - mean|. */
  peak: number;
  peakToPeak: number;
  /** peak / rms; null for a constant signal. */
  crestFactor: number | null;
  /** Pearson kurtosis m4 / m2^2 (3 for Gaussian noise, 1.5 for a sine); null for a constant signal. */
  kurtosis: number | null;
  /** Interpolated frequency of the largest spectral line (DC excluded); null for a constant signal. */
  dominantHz: number | null;
  /** Amplitude (0-peak) of that line, corrected for where it falls between bins. */
  dominantAmplitude: number;
  bands: BandRms[];
  spectrum?: { freq: number[]; amp: number[] };
}

export const MIN_FFT = 16;
export const MAX_FFT = 65_536;
/** Longest waveform accepted in one message, in samples. */
export const MAX_WAVEFORM = 1_048_576;
export const MAX_BANDS = 64;
/** Largest |sample|: squares and fourth powers of larger values overflow double precision. */
export const MAX_MAGNITUDE = 1e60;
/** Tags collecting single samples at once (each holds an fftSize buffer) and tags tracked for time order. */
export const MAX_COLLECTING_TAGS = 256;
/**
 * Blocks (each a result message) one message's waveforms may hold in all: a 1,048,576-sample
 * waveform at an FFT size of 16 made 65,536 results, with bands and spectrum 339 MB from one message.
 */
export const MAX_BLOCKS_PER_MESSAGE = 4096;
export const MAX_TAGS = 10_000;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function checkOptions(o: VibrationOptions): void {
  if (typeof o.sampleRate !== 'number' || !Number.isFinite(o.sampleRate) || o.sampleRate <= 0) throw new ConfigError('sampleRate must be a number of Hz > 0');
  if (!isPowerOfTwo(o.fftSize) || o.fftSize < MIN_FFT || o.fftSize > MAX_FFT) {
    throw new ConfigError(`fftSize must be a power of two from ${MIN_FFT} to ${MAX_FFT}, not ${String(o.fftSize)}`);
  }
  if (!WINDOW_FUNCTIONS.includes(o.windowFn)) throw new ConfigError(`windowFn must be one of ${WINDOW_FUNCTIONS.join(', ')}`);
  if (!Array.isArray(o.bands) || o.bands.length > MAX_BANDS) throw new ConfigError(`bands must be a list of at most ${MAX_BANDS} [lowHz, highHz] pairs`);
  const nyquist = o.sampleRate / 2;
  const df = o.sampleRate / o.fftSize;
  for (const b of o.bands) {
    if (!Array.isArray(b) || b.length !== 2 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new ConfigError(`each band must be [lowHz, highHz], not ${JSON.stringify(b)}`);
    }
    const [lo, hi] = b;
    if (lo < 0 || hi <= lo || hi > nyquist) throw new ConfigError(`band [${lo}, ${hi}] must satisfy 0 <= low < high <= ${nyquist} Hz (half the sample rate)`);
    const [a, b2] = binsOf(lo, hi, o.sampleRate, o.fftSize);
    if (b2 < a) throw new ConfigError(`band [${lo}, ${hi}] holds no FFT bin (bins are ${df} Hz apart)`);
  }
}

/** Parses the `bands` setting: a JSON text or an array; empty means no bands. */
export function parseBands(raw: unknown): Band[] {
  if (raw === undefined || raw === null || raw === '') return [];
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      throw new ConfigError(`bands must be JSON such as [[10, 100], [100, 1000]], not "${raw.slice(0, 40)}"`);
    }
  }
  if (!Array.isArray(v)) throw new ConfigError('bands must be a list of [lowHz, highHz] pairs');
  return v as Band[];
}

/** First and last FFT bin of the band [lo, hi): low <= k*df < high; a band reaching Nyquist includes its bin. */
function binsOf(lo: number, hi: number, sampleRate: number, n: number): [number, number] {
  const df = sampleRate / n;
  return [Math.ceil(lo / df - 1e-9), hi >= sampleRate / 2 ? n / 2 : Math.ceil(hi / df - 1e-9) - 1];
}

const sinc = (d: number) => (d === 0 ? 1 : Math.sin(Math.PI * d) / (Math.PI * d));

export class SpectrumAnalyser {
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly s1: number;
  private readonly s2: number;
  private readonly input: number[];
  private readonly out: number[];
  private readonly bandBins: Array<[number, number]>;

  constructor(readonly o: VibrationOptions) {
    checkOptions(o);
    const n = o.fftSize;
    this.fft = new FFT(n);
    this.window = new Float64Array(n);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      // Periodic (DFT-even) Hann: coherent gain exactly 0.5, noise bandwidth exactly 1.5 bins.
      const w = o.windowFn === 'hann' ? 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n) : 1;
      this.window[i] = w;
      s1 += w;
      s2 += w * w;
    }
    this.s1 = s1;
    this.s2 = s2;
    this.input = new Array<number>(n).fill(0);
    this.out = this.fft.createComplexArray() as number[];
    this.bandBins = o.bands.map(([lo, hi]) => binsOf(lo, hi, o.sampleRate, n));
  }

  get binHz(): number {
    return this.o.sampleRate / this.o.fftSize;
  }

  /** Analyses exactly fftSize samples (already checked to be finite numbers). */
  analyse(x: ArrayLike<number>): VibrationFigures {
    const n = this.o.fftSize;
    if (x.length !== n) throw new InputError(`a block must have ${n} samples, not ${x.length}`);
    // Summing offsets from the first sample keeps the mean exact for a constant block.
    const x0 = x[0];
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      sum += v - x0;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const mean = x0 + sum / n;
    let m2 = 0;
    let m4 = 0;
    let peak = 0;
    for (let i = 0; i < n; i++) {
      const d = x[i] - mean;
      const d2 = d * d;
      m2 += d2;
      m4 += d2 * d2;
      if (Math.abs(d) > peak) peak = Math.abs(d);
      this.input[i] = d * this.window[i];
    }
    m2 /= n;
    m4 /= n;
    const rms = Math.sqrt(m2);
    // A block that is constant to rounding has no shape to speak of.
    const flat = rms <= 1e-12 * Math.max(1, Math.abs(mean));

    this.fft.realTransform(this.out, this.input);
    const half = n / 2;
    const mag = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) mag[k] = Math.hypot(this.out[2 * k], this.out[2 * k + 1]);
    const edge = (k: number) => k === 0 || k === half;
    const power = (k: number) => (mag[k] * mag[k] * (edge(k) ? 1 : 2)) / (n * this.s2);

    const bands = this.o.bands.map(([lowHz, highHz], i) => {
      const [a, b] = this.bandBins[i];
      let p = 0;
      for (let k = Math.max(0, a); k <= Math.min(half, b); k++) p += power(k);
      return { lowHz, highHz, rms: Math.sqrt(p) };
    });

    const { hz, amplitude } = flat ? { hz: null, amplitude: 0 } : this.dominant(mag);
    const result: VibrationFigures = {
      rms,
      peak,
      peakToPeak: max - min,
      crestFactor: flat ? null : peak / rms,
      kurtosis: flat ? null : m4 / (m2 * m2),
      dominantHz: hz,
      dominantAmplitude: amplitude,
      bands,
    };
    if (this.o.spectrum) {
      const freq: number[] = [];
      const amp: number[] = [];
      for (let k = 0; k <= half; k++) {
        freq.push(k * this.binHz);
        amp.push((mag[k] * (edge(k) ? 1 : 2)) / this.s1);
      }
      amp[0] = Math.abs(mean); // the DC line is the mean itself (it was removed before the FFT)
      result.spectrum = { freq, amp };
    }
    return result;
  }

  /**
   * Largest line between DC and Nyquist, refined between bins from the ratio r of its larger
   * neighbour to it. For one tone at offset d bins, the window's spectrum gives r exactly:
   * Hann r = (1 + d) / (2 - d), so d = (2r - 1) / (r + 1); rectangular r = d / (1 - d), so
   * d = r / (1 + r). The amplitude is divided by the window's response at d (Hann:
   * sinc(d) / (1 - d^2); rectangular: sinc(d)).
   */
  private dominant(mag: Float64Array): { hz: number | null; amplitude: number } {
    const half = mag.length - 1;
    let k = 1;
    for (let i = 2; i < half; i++) if (mag[i] > mag[k]) k = i;
    // DC and Nyquist hold, besides this tone's leakage, its mirror image's (a real signal's negative
    // frequency), in a phase-dependent sum: no use for the ratio. Next to them, the other side only.
    const left = k - 1 > 0 ? mag[k - 1] : 0;
    const right = k + 1 < half ? mag[k + 1] : 0;
    const side = right >= left ? 1 : -1;
    const r = mag[k] > 0 ? Math.max(left, right) / mag[k] : 0;
    let d: number;
    let response: number;
    if (this.o.windowFn === 'hann') {
      d = Math.min(0.5, Math.max(0, (2 * r - 1) / (r + 1)));
      response = sinc(d) / (1 - d * d);
    } else {
      d = Math.min(0.5, Math.max(0, r / (1 + r)));
      response = sinc(d);
    }
    const amplitude = ((mag[k] * 2) / this.s1) / response;
    return { hz: (k + side * d) * this.binHz, amplitude };
  }
}

export interface VibrationResult {
  tag: string;
  figures: VibrationFigures;
  quality: Quality;
  /** Event time of the block's last sample, epoch ms. */
  ts: number;
}

/** A waveform value: number[] or a typed array (not a Buffer: bytes are not samples). */
export function isWaveform(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView) && !Buffer.isBuffer(v));
}

interface Collector {
  buf: Float64Array;
  count: number;
  quality: Quality;
  lastTs: number;
}

/** Per-tag engine: whole waveforms are analysed at once, single samples are collected into blocks. */
export class VibrationEngine {
  readonly analyser: SpectrumAnalyser;
  private readonly collectors = new Map<string, Collector>();
  private readonly lastTs = new Map<string, number>();

  /** `now`: this host's clock, to refuse timestamps far in the future. */
  constructor(
    readonly o: VibrationOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.analyser = new SpectrumAnalyser(o);
  }

  /**
   * Refuses, as a whole, a batch whose new tags would pass the bounds (tags tracked, and tags
   * collecting single samples), so that one oversized batch cannot lock out every later tag, or
   * whose waveforms (their lengths in `waveforms`) hold more than MAX_BLOCKS_PER_MESSAGE blocks.
   */
  admit(tags: readonly string[], collecting: readonly string[], waveforms: readonly number[] = []): void {
    let blocks = 0;
    for (const n of waveforms) blocks += Math.floor(n / this.o.fftSize);
    if (blocks > MAX_BLOCKS_PER_MESSAGE) {
      throw new InputError(
        `message refused: its waveforms hold ${blocks} blocks of ${this.o.fftSize} samples, more than ${MAX_BLOCKS_PER_MESSAGE} (one result each); send shorter waveforms or use a larger FFT size`,
      );
    }
    const fresh = new Set(tags.filter((t) => !this.lastTs.has(t))).size;
    if (this.lastTs.size + fresh > MAX_TAGS) {
      throw new InputError(`batch refused: its ${fresh} new tags would pass the limit of ${MAX_TAGS} tags (${this.lastTs.size} known)`);
    }
    const freshCollecting = new Set(collecting.filter((t) => !this.collectors.has(t))).size;
    if (this.collectors.size + freshCollecting > MAX_COLLECTING_TAGS) {
      throw new InputError(`batch refused: ${freshCollecting} more tags collecting single samples would pass the limit of ${MAX_COLLECTING_TAGS}`);
    }
  }

  private checkTime(tag: string, ts: number): void {
    checkEventTime(tag, ts, this.now());
    if (!this.lastTs.has(tag) && this.lastTs.size >= MAX_TAGS) throw new InputError(`more than ${MAX_TAGS} tags: tag "${tag}" refused`);
    const last = this.lastTs.get(tag);
    if (last !== undefined && ts < last) throw new InputError(`tag "${tag}": timestamp ${formatTime(ts)} is earlier than the previous sample's`);
  }

  /**
   * Analyses a waveform whose length is a whole number of blocks (one result per block, in
   * order). Any other length is refused rather than padded or cut, which would change the figures.
   */
  waveform(tag: string, data: unknown, quality: Quality, ts: number): VibrationResult[] {
    if (Buffer.isBuffer(data)) throw new InputError(`tag "${tag}": a Buffer is not a waveform; convert the bytes to numbers first`);
    if (!isWaveform(data)) throw new InputError(`tag "${tag}": a waveform must be an array of numbers, not ${typeName(data)}`);
    const n = this.o.fftSize;
    if (data.length === 0 || data.length % n !== 0) {
      throw new InputError(`tag "${tag}": waveform has ${data.length} samples; it must be a multiple of fftSize (${n})`);
    }
    if (data.length > MAX_WAVEFORM) throw new InputError(`tag "${tag}": waveform has ${data.length} samples, more than ${MAX_WAVEFORM}`);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InputError(`tag "${tag}": waveform sample ${i} is ${typeof v === 'number' ? String(v) : typeName(v)}, not a finite number`);
      }
      if (Math.abs(v) > MAX_MAGNITUDE) throw new InputError(`tag "${tag}": waveform sample ${i} (${v}) is beyond ±1e60`);
    }
    this.checkTime(tag, ts);
    this.lastTs.set(tag, ts);
    const out: VibrationResult[] = [];
    const block = new Float64Array(n);
    for (let b = 0; b < data.length / n; b++) {
      for (let i = 0; i < n; i++) block[i] = data[b * n + i];
      out.push({ tag, figures: this.analyser.analyse(block), quality, ts });
    }
    return out;
  }

  /**
   * Adds one sample to its tag's block; returns the result when the block is full. A null value
   * (a reading the device could not make) breaks the even spacing, so the partial block is dropped
   * and `gap` is reported.
   */
  sample(s: Sample): { result?: VibrationResult; gap?: boolean; collected: number } {
    this.checkTime(s.tag, s.ts);
    if (s.value === null) {
      this.lastTs.set(s.tag, s.ts);
      const had = this.collectors.delete(s.tag);
      return { gap: had, collected: 0 };
    }
    const v = numericValue(s);
    if (Math.abs(v) > MAX_MAGNITUDE) throw new InputError(`tag "${s.tag}": sample ${v} is beyond ±1e60`);
    let c = this.collectors.get(s.tag);
    if (!c && this.collectors.size >= MAX_COLLECTING_TAGS) {
      throw new InputError(`more than ${MAX_COLLECTING_TAGS} tags collecting single samples: tag "${s.tag}" refused (send waveforms instead)`);
    }
    this.lastTs.set(s.tag, s.ts);
    if (!c) {
      // The block starts small and doubles as samples arrive (fftSize is a power of two, so it ends
      // exactly full): many tags that send a few samples do not each claim a whole block.
      c = { buf: new Float64Array(Math.min(this.o.fftSize, 1024)), count: 0, quality: 'good', lastTs: s.ts };
      this.collectors.set(s.tag, c);
    }
    if (c.count === c.buf.length) {
      const buf = new Float64Array(c.buf.length * 2);
      buf.set(c.buf);
      c.buf = buf;
    }
    c.buf[c.count++] = v;
    c.quality = worstQuality(c.quality, s.quality);
    c.lastTs = s.ts;
    if (c.count < this.o.fftSize) return { collected: c.count };
    this.collectors.delete(s.tag);
    return { result: { tag: s.tag, figures: this.analyser.analyse(c.buf), quality: c.quality, ts: c.lastTs }, collected: this.o.fftSize };
  }

  /** msg.reset: drops the partial block and time order of one tag, or of every tag. */
  reset(tag?: string): void {
    if (tag === undefined) {
      this.collectors.clear();
      this.lastTs.clear();
    } else {
      this.collectors.delete(tag);
      this.lastTs.delete(tag);
    }
  }
}
