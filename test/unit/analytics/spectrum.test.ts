import fc from 'fast-check';
import { heldArrayBytes } from '../../helpers/memory';
import { MAX_BLOCKS_PER_MESSAGE, MAX_COLLECTING_TAGS, parseBands, SpectrumAnalyser, VibrationEngine, type VibrationOptions } from '../../../nodes/analytics/spectrum';

const opts = (o: Partial<VibrationOptions> = {}): VibrationOptions => ({ sampleRate: 1000, fftSize: 1024, windowFn: 'hann', bands: [], spectrum: false, ...o });

/** Sum of tones [hz, amplitude, phase] plus DC, sampled at fs. */
function tones(n: number, fs: number, dc: number, list: Array<[number, number, number?]>): number[] {
  return Array.from({ length: n }, (_, i) => list.reduce((s, [f, a, p = 0]) => s + a * Math.sin(2 * Math.PI * f * (i / fs) + p), dc));
}

function noise(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

const rmsOf = (xs: number[]) => {
  const m = xs.reduce((s, v) => s + v, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length);
};

describe('SpectrumAnalyser: known tones', () => {
  it('finds 50 Hz amp 2 and 120 Hz amp 0.5 on a DC of 1 between bins (Hann, interpolated)', () => {
    const a = new SpectrumAnalyser(opts({ spectrum: true }));
    const x = tones(1024, 1000, 1, [[50, 2], [120, 0.5, 0.3]]);
    const r = a.analyse(x);
    // 50 Hz falls at bin 51.2, between bins: interpolation to 0.02 Hz and 0.5 % in amplitude.
    expect(Math.abs((r.dominantHz as number) - 50)).toBeLessThan(0.02);
    expect(Math.abs(r.dominantAmplitude - 2) / 2).toBeLessThan(0.005);
    // The DC line is the block's mean (the tones do not fill whole periods, so not exactly 1).
    expect(r.spectrum!.amp[0]).toBeCloseTo(x.reduce((s, v) => s + v, 0) / x.length, 12);
    expect(Math.abs(r.spectrum!.amp[0] - 1)).toBeLessThan(0.01);
    expect(r.spectrum!.freq[1]).toBeCloseTo(1000 / 1024, 12);
    // The 120 Hz line is the largest between 100 and 140 Hz; uninterpolated it loses at most
    // the Hann scalloping loss (1.42 dB, 15 %).
    const idx = r.spectrum!.freq.map((f, k) => [f, k]).filter(([f]) => f > 100 && f < 140).map(([, k]) => k);
    const best = idx.reduce((b, k) => (r.spectrum!.amp[k] > r.spectrum!.amp[b] ? k : b), idx[0]);
    expect(Math.abs(r.spectrum!.freq[best] - 120)).toBeLessThan(1000 / 1024);
    expect(r.spectrum!.amp[best]).toBeGreaterThan(0.5 * 0.85);
    expect(r.spectrum!.amp[best]).toBeLessThanOrEqual(0.5 + 1e-6);
    expect(r.rms).toBeCloseTo(Math.sqrt(2 ** 2 / 2 + 0.5 ** 2 / 2), 2);
  });

  it('reads exact amplitudes at exact bins with either window (coherent-gain corrected)', () => {
    for (const windowFn of ['hann', 'rect'] as const) {
      const a = new SpectrumAnalyser(opts({ sampleRate: 1024, windowFn, spectrum: true }));
      const r = a.analyse(tones(1024, 1024, 1, [[50, 2], [120, 0.5, 0.3]]));
      expect(r.spectrum!.amp[50]).toBeCloseTo(2, 9);
      expect(r.spectrum!.amp[120]).toBeCloseTo(0.5, 9);
      expect(r.spectrum!.amp[0]).toBeCloseTo(1, 9);
      expect(r.dominantHz).toBeCloseTo(50, 9);
      expect(r.dominantAmplitude).toBeCloseTo(2, 9);
    }
  });

  it('interpolates a single tone anywhere between bins (Hann: 0.005 bin, 0.1 %; rect: 0.05 bin, 1 %)', () => {
    const hann = new SpectrumAnalyser(opts({ sampleRate: 1024 }));
    const rect = new SpectrumAnalyser(opts({ sampleRate: 1024, windowFn: 'rect' }));
    for (let f = 100; f <= 101; f += 0.1) {
      const x = tones(1024, 1024, 0, [[f, 3, 0.7]]);
      const h = hann.analyse(x);
      expect(Math.abs((h.dominantHz as number) - f)).toBeLessThan(0.005);
      expect(Math.abs(h.dominantAmplitude - 3) / 3).toBeLessThan(0.001);
      const r = rect.analyse(x);
      expect(Math.abs((r.dominantHz as number) - f)).toBeLessThan(0.05);
      expect(Math.abs(r.dominantAmplitude - 3) / 3).toBeLessThan(0.01);
    }
  });

  it('a tone at the first or the last line below Nyquist reads exactly, whatever its phase (DC and Nyquist hold its mirror image)', () => {
    for (const windowFn of ['hann', 'rect'] as const) {
      const a = new SpectrumAnalyser(opts({ sampleRate: 1024, windowFn }));
      for (const bin of [1, 511]) {
        for (const phase of [0, 0.5, 1, Math.PI / 2, 2.5]) {
          const r = a.analyse(tones(1024, 1024, 0, [[bin, 3, phase]]));
          expect([windowFn, bin, phase, r.dominantHz]).toEqual([windowFn, bin, phase, expect.closeTo(bin, 9)]);
          expect(r.dominantAmplitude).toBeCloseTo(3, 9);
        }
      }
    }
  });

  it('time-domain figures of a sine: rms A/sqrt2, peak A, crest sqrt2, kurtosis 1.5', () => {
    const a = new SpectrumAnalyser(opts({ sampleRate: 1024 }));
    const r = a.analyse(tones(1024, 1024, 5, [[32, 4]]));
    expect(r.rms).toBeCloseTo(4 / Math.SQRT2, 9);
    expect(r.peak).toBeCloseTo(4, 9);
    expect(r.peakToPeak).toBeCloseTo(8, 9);
    expect(r.crestFactor).toBeCloseTo(Math.SQRT2, 9);
    expect(r.kurtosis).toBeCloseTo(1.5, 9);
  });

  it('an impact raises crest factor and kurtosis', () => {
    const a = new SpectrumAnalyser(opts({ sampleRate: 1024 }));
    const x = tones(1024, 1024, 0, [[32, 1]]);
    x[500] += 8;
    const r = a.analyse(x);
    expect(r.crestFactor as number).toBeGreaterThan(5);
    expect(r.kurtosis as number).toBeGreaterThan(10);
  });

  it('a constant block has rms 0 and no dominant line, crest factor or kurtosis', () => {
    const r = new SpectrumAnalyser(opts()).analyse(new Array(1024).fill(3.3));
    expect(r).toMatchObject({ rms: 0, peak: 0, peakToPeak: 0, crestFactor: null, kurtosis: null, dominantHz: null, dominantAmplitude: 0 });
  });
});

describe('SpectrumAnalyser: band RMS', () => {
  it('rect window: bands that tile 0..Nyquist sum to the time-domain RMS exactly (Parseval)', () => {
    const bands: Array<[number, number]> = [[0, 100], [100, 250], [250, 400], [400, 500]];
    const a = new SpectrumAnalyser(opts({ windowFn: 'rect', bands: [...bands, [0, 500]] }));
    const x = noise(1024, 7).map((v, i) => v + 0.3 * Math.sin(i / 3));
    const r = a.analyse(x);
    const total = rmsOf(x);
    expect(r.bands[4].rms).toBeCloseTo(total, 12);
    expect(Math.sqrt(r.bands.slice(0, 4).reduce((s, b) => s + b.rms ** 2, 0))).toBeCloseTo(total, 12);
    expect(r.bands[0]).toMatchObject({ lowHz: 0, highHz: 100 });
  });

  it('Hann window: band RMS is energy-correct (noise power bandwidth), tone by tone', () => {
    const a = new SpectrumAnalyser(opts({ bands: [[40, 60], [100, 140], [0, 500]] }));
    const r = a.analyse(tones(1024, 1000, 1, [[50, 2], [120, 0.5, 0.3]]));
    expect(Math.abs(r.bands[0].rms - 2 / Math.SQRT2) / (2 / Math.SQRT2)).toBeLessThan(0.01);
    expect(Math.abs(r.bands[1].rms - 0.5 / Math.SQRT2) / (0.5 / Math.SQRT2)).toBeLessThan(0.01);
    expect(Math.abs(r.bands[2].rms - r.rms) / r.rms).toBeLessThan(0.01);
  });

  it('Hann window: broadband noise keeps its mean square over the whole band to a few percent', () => {
    const a = new SpectrumAnalyser(opts({ bands: [[0, 500]] }));
    const x = noise(1024, 99);
    const r = a.analyse(x);
    expect(Math.abs(r.bands[0].rms - rmsOf(x)) / rmsOf(x)).toBeLessThan(0.05);
  });
});

describe('VibrationEngine: input rules', () => {
  const e = () => new VibrationEngine(opts({ fftSize: 16, sampleRate: 16 }));

  it('analyses a waveform of k blocks as k results; Float32Array too', () => {
    const x = tones(48, 16, 0, [[2, 1]]);
    expect(e().waveform('m', x, 'good', 5).map((r) => [r.tag, r.ts, r.quality])).toEqual([['m', 5, 'good'], ['m', 5, 'good'], ['m', 5, 'good']]);
    const f32 = e().waveform('m', Float32Array.from(x.slice(0, 16)), 'uncertain', 1);
    expect(f32[0].quality).toBe('uncertain');
    expect(f32[0].figures.dominantHz).toBeCloseTo(2, 5);
  });

  it('refuses NaN, text, wrong lengths, Buffers and huge waveforms with a clear error', () => {
    const x = new Array(16).fill(0);
    x[7] = NaN;
    expect(() => e().waveform('m', x, 'good', 0)).toThrow(/sample 7 is NaN/);
    x[7] = '1';
    expect(() => e().waveform('m', x, 'good', 0)).toThrow(/sample 7 is a string/);
    expect(() => e().waveform('m', new Array(20).fill(0), 'good', 0)).toThrow(/20 samples; it must be a multiple of fftSize \(16\)/);
    expect(() => e().waveform('m', [], 'good', 0)).toThrow(/multiple of fftSize/);
    expect(() => e().waveform('m', Buffer.alloc(16), 'good', 0)).toThrow(/Buffer/);
    expect(() => e().waveform('m', new Float64Array(16 * 65_537), 'good', 0)).toThrow(/more than/);
    expect(() => e().waveform('m', { length: 16 }, 'good', 0)).toThrow(/must be an array/);
  });

  it('collects single samples into blocks per tag, equal to analysing the block at once', () => {
    const eng = e();
    const x = tones(16, 16, 0.5, [[3, 2]]);
    const y = tones(16, 16, 0, [[5, 1]]);
    let rx;
    let ry;
    for (let i = 0; i < 16; i++) {
      rx = eng.sample({ tag: 'x', value: x[i], quality: i === 3 ? 'uncertain' : 'good', ts: i }).result ?? rx;
      ry = eng.sample({ tag: 'y', value: y[i], quality: 'good', ts: i }).result ?? ry;
      if (i < 15) expect(rx).toBeUndefined();
    }
    expect(rx).toMatchObject({ tag: 'x', quality: 'uncertain', ts: 15 });
    expect(rx!.figures).toEqual(e().waveform('x', x, 'good', 0)[0].figures);
    expect(ry!.figures.dominantHz).toBeCloseTo(5, 6);
    // The next block starts empty.
    expect(eng.sample({ tag: 'x', value: 1, quality: 'good', ts: 16 })).toEqual({ collected: 1 });
  });

  it('collects a block larger than its first buffer (8,192 samples, grown as they come): the same figures as the waveform, two blocks in a row', () => {
    const big = () => new VibrationEngine(opts({ fftSize: 8192, sampleRate: 8192 }));
    const eng = big();
    const x = tones(8192 * 2, 8192, 0.25, [[440, 1.5], [1200, 0.5, 1]]);
    const results = [];
    for (let i = 0; i < x.length; i++) {
      const r = eng.sample({ tag: 'x', value: x[i], quality: 'good', ts: i }).result;
      if (r) results.push(r);
    }
    expect(results).toHaveLength(2);
    const whole = big().waveform('x', x, 'good', 0);
    expect(results[0].figures).toEqual(whole[0].figures);
    expect(results[1].figures).toEqual(whole[1].figures);
    expect(results[0].figures.dominantHz).toBeCloseTo(440, 6);
  });

  it('a sample for each of 256 tags does not claim a whole block per tag (fftSize 65,536)', () => {
    const held = heldArrayBytes(() => {
      const eng = new VibrationEngine(opts({ fftSize: 65_536, sampleRate: 65_536 }));
      for (let i = 0; i < MAX_COLLECTING_TAGS; i++) eng.sample({ tag: `t${i}`, value: 1, quality: 'good', ts: 0 });
      return eng;
    });
    // A whole block each would be 256 x 512 KiB = 128 MiB; the first buffers are 8 KiB each (2 MiB).
    expect(held).toBeLessThan(16 * 1024 * 1024);
  });

  it('a null value drops the partial block (a gap); out-of-order samples are refused; reset forgets', () => {
    const eng = e();
    for (let i = 0; i < 10; i++) eng.sample({ tag: 'x', value: i, quality: 'good', ts: i });
    expect(eng.sample({ tag: 'x', value: null, quality: 'bad', ts: 10 })).toEqual({ gap: true, collected: 0 });
    expect(eng.sample({ tag: 'x', value: 1, quality: 'good', ts: 11 })).toEqual({ collected: 1 });
    expect(() => eng.sample({ tag: 'x', value: 1, quality: 'good', ts: 3 })).toThrow(/earlier than the previous/);
    expect(() => eng.sample({ tag: 'x', value: 'loud', quality: 'good', ts: 12 })).toThrow(/must be a number/);
    eng.reset('x');
    expect(eng.sample({ tag: 'x', value: 1, quality: 'good', ts: 0 })).toEqual({ collected: 1 });
  });

  it('admit refuses waveforms of more than MAX_BLOCKS_PER_MESSAGE blocks in one message, counted over all its tags', () => {
    const eng = e(); // fftSize 16
    expect(() => eng.admit(['a'], [], [16 * MAX_BLOCKS_PER_MESSAGE])).not.toThrow();
    expect(() => eng.admit(['a', 'b'], [], [16 * 2048, 16 * 2049])).toThrow(/4097 blocks of 16 samples, more than 4096/);
    // Samples short of a block count for nothing here (waveform() refuses them on its own).
    expect(() => eng.admit(['a'], [], [16 * MAX_BLOCKS_PER_MESSAGE + 15])).not.toThrow();
  });

  it('bounds the tags collecting single samples (each holds a block buffer)', () => {
    const eng = e();
    for (let i = 0; i < MAX_COLLECTING_TAGS; i++) eng.sample({ tag: `t${i}`, value: 1, quality: 'good', ts: 0 });
    expect(() => eng.sample({ tag: 'extra', value: 1, quality: 'good', ts: 0 })).toThrow(/more than 256 tags collecting/);
    // Waveforms need no buffer and are still taken for a new tag.
    expect(eng.waveform('extra', new Array(16).fill(1), 'good', 0)).toHaveLength(1);
  });

  it('refuses impossible settings', () => {
    expect(() => new SpectrumAnalyser(opts({ fftSize: 1000 }))).toThrow(/power of two/);
    expect(() => new SpectrumAnalyser(opts({ fftSize: 8 }))).toThrow(/power of two from 16/);
    expect(() => new SpectrumAnalyser(opts({ sampleRate: 0 }))).toThrow(/sampleRate/);
    expect(() => new SpectrumAnalyser(opts({ windowFn: 'flattop' as never }))).toThrow(/windowFn/);
    expect(() => new SpectrumAnalyser(opts({ bands: [[100, 50]] }))).toThrow(/0 <= low < high/);
    expect(() => new SpectrumAnalyser(opts({ bands: [[0, 600]] }))).toThrow(/500 Hz/);
    expect(() => new SpectrumAnalyser(opts({ bands: [[100.1, 100.5]] }))).toThrow(/holds no FFT bin/);
    expect(() => new SpectrumAnalyser(opts({ bands: [[1, 2, 3]] as never }))).toThrow(/\[lowHz, highHz\]/);
    expect(parseBands('[[10, 100]]')).toEqual([[10, 100]]);
    expect(parseBands('')).toEqual([]);
    expect(() => parseBands('[[10, 100]')).toThrow(/JSON/);
    expect(() => parseBands('{"a":1}')).toThrow(/list/);
  });
});

describe('VibrationEngine: properties', () => {
  it('any finite block gives finite figures (or null where undefined), never NaN', () => {
    const eng = new VibrationEngine(opts({ fftSize: 16, sampleRate: 100, bands: [[0, 25], [25, 50]], spectrum: true }));
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e60, max: 1e60, noNaN: true }), { minLength: 16, maxLength: 16 }), (xs) => {
        eng.reset();
        const [r] = eng.waveform('p', xs, 'good', 0);
        const f = r.figures;
        for (const v of [f.rms, f.peak, f.peakToPeak, f.dominantAmplitude, ...f.bands.map((b) => b.rms), ...f.spectrum!.amp]) {
          expect(Number.isFinite(v)).toBe(true);
        }
        for (const v of [f.crestFactor, f.kurtosis, f.dominantHz]) expect(v === null || Number.isFinite(v)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses samples beyond ±1e60', () => {
    const eng = new VibrationEngine(opts({ fftSize: 16 }));
    expect(() => eng.waveform('p', [1e300, ...new Array(15).fill(0)], 'good', 0)).toThrow(/sample 0 .* beyond/);
    expect(() => eng.sample({ tag: 'p', value: -1e61, quality: 'good', ts: 0 })).toThrow(/beyond/);
  });
});
