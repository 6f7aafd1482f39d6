import * as fs from 'fs';
import * as path from 'path';
import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode } from '../../helpers/red';
import vibrationNode = require('../../../nodes/analytics/vibration');

const flow = (extra: Record<string, unknown> = {}): FlowNode[] => [
  { id: 'v', type: 'plantwire-vibration', sampleRate: '64', fftSize: '64', windowFn: 'hann', bands: '[[0,16],[16,32]]', spectrum: false, wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];
const sine = (n: number, fs: number, f: number, a: number) => Array.from({ length: n }, (_, i) => a * Math.sin((2 * Math.PI * f * i) / fs));

describe('plantwire-vibration node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('analyses a waveform array: figures, bands, tag, quality and time', async () => {
    await load(vibrationNode, flow({ spectrum: true }));
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('v').receive({ topic: 'pump/de', payload: sine(64, 64, 8, 3), timestamp: 1234, quality: 'uncertain' });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'pump/de', quality: 'uncertain', timestamp: 1234 });
    expect(msg.payload.dominantHz).toBeCloseTo(8, 9);
    expect(msg.payload.dominantAmplitude).toBeCloseTo(3, 9);
    expect(msg.payload.rms).toBeCloseTo(3 / Math.SQRT2, 9);
    expect(msg.payload.bands.map((b: { rms: number }) => b.rms)).toEqual([expect.closeTo(3 / Math.SQRT2, 9), expect.closeTo(0, 9)]);
    expect(msg.payload.spectrum.amp).toHaveLength(33);
    expect(msg.payload.spectrum.amp[8]).toBeCloseTo(3, 9);
  });

  it('takes a Float32Array, and a batch of waveforms, one message per tag', async () => {
    await load(vibrationNode, flow());
    const got = nextMessages(helper.getNode('out'), 3);
    const v = helper.getNode('v');
    v.receive({ topic: 'f32', payload: Float32Array.from(sine(64, 64, 4, 1)) });
    v.receive({ payload: { a: sine(64, 64, 10, 1), b: sine(64, 64, 20, 2) }, timestamp: 9 });
    const msgs = await got;
    expect(msgs.map((m) => [m.topic, Math.round(m.payload.dominantHz)])).toEqual([['f32', 4], ['a', 10], ['b', 20]]);
    expect(msgs[2].payload.spectrum).toBeUndefined();
  });

  it('collects single samples per tag into blocks, and msg.reset drops a partial block', async () => {
    await load(vibrationNode, flow());
    const v = helper.getNode('v');
    const out = collect(helper.getNode('out'));
    const x = sine(64, 64, 8, 1);
    const y = sine(64, 64, 24, 1);
    for (let i = 0; i < 64; i++) {
      v.receive({ payload: { x: x[i], y: y[i] }, timestamp: i });
      if (i === 10) v.receive({ topic: 'y', reset: true });
    }
    await sleep(200);
    expect(out.map((m) => m.topic)).toEqual(['x']);
    expect(out[0].payload.dominantHz).toBeCloseTo(8, 6);
    expect(out[0].timestamp).toBe(63);
  });

  it('refuses, whole, a message whose waveforms hold more than 4,096 blocks in all (one result each), and keeps running', async () => {
    await load(vibrationNode, flow());
    const v = helper.getNode('v');
    const out = collect(helper.getNode('out'));
    const err = nextError(v);
    // Two tags of one batch: 2,049 + 2,048 blocks of 64 samples.
    v.receive({ payload: { a: new Float64Array(64 * 2049), b: new Float64Array(64 * 2048) }, timestamp: 100 });
    expect(String((await err).error)).toMatch(/4097 blocks of 64 samples, more than 4096/);
    await sleep(20);
    expect(out).toEqual([]);
    // Exactly the limit is taken: 4,096 results, in one send.
    const got = nextMessages(helper.getNode('out'), 4096, 10_000);
    v.receive({ payload: { a: new Float64Array(64 * 2048), b: new Float64Array(64 * 2048) }, timestamp: 200 });
    expect(await got).toHaveLength(4096);
  });

  it.each([
    [{ topic: 'w', payload: [...sine(63, 64, 8, 1), NaN] }, /sample 63 is NaN/],
    [{ topic: 'w', payload: sine(100, 64, 8, 1) }, /100 samples; it must be a multiple of fftSize \(64\)/],
    [{ topic: 'w', payload: [] }, /multiple of fftSize/],
    [{ topic: 'w', payload: Buffer.alloc(64) }, /Buffer/],
    [{ topic: 'w', payload: 'shaking' }, /must be a number/],
    [{ topic: 'w', payload: { a: { deep: 1 } }, quality: 'good' }, /number or a waveform/],
    [{ topic: 'w', payload: sine(64, 64, 8, 1), timestamp: 1 }, /earlier than the previous/],
  ])('refuses %p through done(err) and keeps running', async (bad, why) => {
    await load(vibrationNode, flow());
    const v = helper.getNode('v');
    const first = nextMessages(helper.getNode('out'));
    v.receive({ topic: 'w', payload: sine(64, 64, 8, 1), timestamp: 100 });
    await first;
    const out = collect(helper.getNode('out'));
    const err = nextError(v);
    const statuses: Array<{ fill?: string; shape?: string }> = [];
    const setStatus = v.status.bind(v);
    v.status = (st: Parameters<typeof setStatus>[0]) => {
      statuses.push(st as { fill?: string; shape?: string });
      return setStatus(st);
    };
    v.receive(bad);
    expect(String((await err).error)).toMatch(why);
    expect(statuses).toContainEqual(expect.objectContaining({ fill: 'red', shape: 'ring' }));
    v.receive({ topic: 'w', payload: sine(64, 64, 16, 1), timestamp: 200 });
    await sleep(50);
    expect(out.map((m) => Math.round(m.payload.dominantHz))).toEqual([16]);
  });

  it('logs a clear error for an FFT size that is not a power of two', async () => {
    await load(vibrationNode, flow({ fftSize: '1000' }));
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/fftSize must be a power of two/);
  });

  it('the example flow runs on its own and finds the 50 Hz component', async () => {
    const example = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../examples/Vibration monitoring of a motor.json'), 'utf8')) as FlowNode[];
    const vib = example.find((n) => n.type === 'plantwire-vibration')!;
    (vib.wires as string[][])[0].push('probe');
    const core = ['common/20-inject.js', 'function/10-function.js', 'common/21-debug.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await load([...core, vibrationNode], [...example, { id: 'probe', type: 'helper', z: vib.z as string }]);
    const [msg] = await nextMessages(helper.getNode('probe'), 1, 5000);
    expect(msg.topic).toBe('line1/motor/drive-end');
    expect(Math.abs(msg.payload.dominantHz - 50)).toBeLessThan(0.1);
    expect(Math.abs(msg.payload.dominantAmplitude - 2)).toBeLessThan(0.05);
  });
});
