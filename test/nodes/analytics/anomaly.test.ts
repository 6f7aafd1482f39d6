import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode } from '../../helpers/red';
import { statusesOf, withFigures } from './statuses';
import anomalyNode = require('../../../nodes/analytics/anomaly');

const flow = (extra: Record<string, unknown> = {}): FlowNode[] => [
  { id: 'n', type: 'plantwire-anomaly', method: 'zscore', window: '10', threshold: '3', warmup: '4', wires: [['out']], ...extra },
  { id: 'out', type: 'helper' },
];
const calm = [10, 10.2, 9.9, 10.1, 9.8, 10.05, 10.1, 9.95];

describe('plantwire-anomaly node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('warms up, then flags a spike in the single form with baseline and quality', async () => {
    await load(anomalyNode, flow());
    const n = helper.getNode('n');
    const got = nextMessages(helper.getNode('out'), calm.length + 1);
    calm.forEach((v, i) => n.receive({ topic: 'motor/current', payload: v, timestamp: 1000 + i, extra: 'kept' }));
    n.receive({ topic: 'motor/current', payload: 14, timestamp: 2000, quality: 'uncertain', extra: 'kept' });
    const msgs = await got;
    expect(msgs.slice(0, 4).map((m) => [m.payload.anomaly, m.payload.score])).toEqual([[false, null], [false, null], [false, null], [false, null]]);
    expect(msgs.slice(4, calm.length).every((m) => m.payload.anomaly === false && typeof m.payload.score === 'number')).toBe(true);
    const spike = msgs[calm.length];
    expect(spike).toMatchObject({ topic: 'motor/current', quality: 'uncertain', timestamp: 2000, extra: 'kept', payload: { value: 14, anomaly: true } });
    const mean = calm.reduce((a, b) => a + b, 0) / calm.length;
    expect(spike.payload.baseline).toBeCloseTo(mean, 10);
    expect(spike.payload.score).toBeGreaterThan(3);
    // A plain object (built by a constructor, as a literal would be): its keys, prototype and JSON.
    expect(Object.keys(spike.payload)).toEqual(['value', 'score', 'anomaly', 'baseline']);
    expect(Object.getPrototypeOf(spike.payload)).toBe(Object.prototype);
    expect(spike.payload.constructor).toBe(Object);
    expect(JSON.parse(JSON.stringify(spike.payload))).toEqual({ ...spike.payload });
  });

  it('shows its status at most every 250 ms, the newest score once a period ends', async () => {
    await load(withFigures(anomalyNode), flow());
    const n = helper.getNode('n');
    for (let i = 0; i < 2000; i++) n.receive({ topic: 'm', payload: calm[i % calm.length], timestamp: 1000 + i });
    expect(statusesOf(n).length).toBeLessThanOrEqual(1);
    await sleep(300);
    expect(statusesOf(n).length).toBeLessThanOrEqual(2);
    expect(statusesOf(n).pop()).toMatchObject({ fill: 'green', text: expect.stringMatching(/^score -?\d+\.\d\d$/) });
  });

  it('keeps a history per tag in the batch form and answers in the batch form', async () => {
    await load(anomalyNode, flow({ warmup: '2' }));
    const n = helper.getNode('n');
    const got = nextMessages(helper.getNode('out'), 4);
    n.receive({ payload: { a: 1, b: 100 }, timestamp: 1 });
    n.receive({ payload: { a: 1.1, b: 101 }, timestamp: 2 });
    n.receive({ payload: { a: 0.9, b: 99 }, timestamp: 3 });
    n.receive({ payload: { a: 1, b: 1 }, quality: { b: 'bad' }, timestamp: 4 });
    const msgs = await got;
    const last = msgs[3];
    expect(Object.keys(last.payload)).toEqual(['a', 'b']);
    expect(last.payload.a).toMatchObject({ value: 1, anomaly: false });
    expect(last.payload.a.baseline).toBeCloseTo(1, 10);
    expect(last.payload.b).toMatchObject({ value: 1, anomaly: false, score: null, baseline: 100 });
    expect(last.quality).toEqual({ a: 'good', b: 'bad' });
  });

  it('msg.reset makes a tag warm up again', async () => {
    await load(anomalyNode, flow({ warmup: '2' }));
    const n = helper.getNode('n');
    const out = collect(helper.getNode('out'));
    [1, 2, 3].forEach((v, i) => n.receive({ topic: 'x', payload: v, timestamp: i }));
    n.receive({ topic: 'x', reset: true });
    n.receive({ topic: 'x', payload: 50, timestamp: 10 });
    await sleep(50);
    expect(out.map((m) => m.payload.score === null)).toEqual([true, true, false, true]);
    expect(out[3].payload.baseline).toBeNull();
  });

  it.each([
    [{ topic: 'x', payload: 'high' }, /must be a number/],
    [{ topic: 'x', payload: Infinity }, /finite/],
    [{ topic: 'x', payload: { nested: { a: 1 } } }, /must be a number/],
    [{ topic: 'x', payload: 1, timestamp: 5 }, /earlier than the previous/],
  ])('refuses %p through done(err) and keeps running', async (bad, why) => {
    await load(anomalyNode, flow());
    const n = helper.getNode('n');
    const first = nextMessages(helper.getNode('out'));
    n.receive({ topic: 'x', payload: 1, timestamp: 10 });
    await first;
    const out = collect(helper.getNode('out'));
    const err = nextError(n);
    const statuses: Array<{ fill?: string; shape?: string }> = [];
    const setStatus = n.status.bind(n);
    n.status = (st: Parameters<typeof setStatus>[0]) => {
      statuses.push(st as { fill?: string; shape?: string });
      return setStatus(st);
    };
    n.receive(bad);
    expect(String((await err).error)).toMatch(why);
    expect(statuses).toContainEqual(expect.objectContaining({ fill: 'red', shape: 'ring' }));
    n.receive({ topic: 'x', payload: 2, timestamp: 20 });
    await sleep(50);
    expect(out.map((m) => m.payload.value)).toEqual([2]);
  });

  it.each(['zscore', 'mad', 'ewma'])('%s: a plain single-form message (the fast path) answers as the general path does', async (method) => {
    // The same samples twice: plain numbers (judged without a sample object), and with ISO text
    // timestamps, which only the general path reads. Spikes, ties, a bad and an uncertain sample.
    const values = [5, 5, 5.2, 4.9, 5, 5.1, 5, 12, 5, 5, -3, 5, 5.05, 5, 4.95, 5, 5, 20, 5, 5];
    const quality = (i: number) => (i === 9 ? 'bad' : i === 13 ? 'uncertain' : undefined);
    const run = async (asText: boolean) => {
      await load(anomalyNode, flow({ method, window: '6', warmup: '3' }));
      const n = helper.getNode('n');
      const got = nextMessages(helper.getNode('out'), values.length);
      values.forEach((v, i) => {
        const ts = Date.UTC(2026, 0, 1) + i * 1000;
        n.receive({ topic: 'pump', payload: v, quality: quality(i), timestamp: asText ? new Date(ts).toISOString() : ts });
      });
      const msgs = await got;
      await stop();
      await startServer();
      return msgs.map((m) => ({ topic: m.topic, payload: m.payload, quality: m.quality, timestamp: m.timestamp }));
    };
    const fast = await run(false);
    const general = await run(true);
    expect(fast).toEqual(general);
    expect(fast.some((m) => m.payload.anomaly)).toBe(true);
    expect(fast[9]).toMatchObject({ quality: 'bad', payload: { score: null } });
  });

  it('logs a clear error for an impossible window', async () => {
    await load(anomalyNode, flow({ method: 'mad', window: '2' }));
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/window must be a whole number of samples from 3/);
  });
});

describe('anomaly example flow', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('imports and runs: the simulated current warms up the detector', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const example = require('../../../examples/Anomaly detection on a motor current.json') as FlowNode[];
    const node = example.find((n) => n.type === 'plantwire-anomaly')!;
    (node.wires as string[][])[0].push('probe');
    const core = ['common/20-inject.js', 'function/10-function.js', 'common/21-debug.js', 'function/10-switch.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await load([...core, anomalyNode], [...example, { id: 'probe', type: 'helper', z: node.z as string }]);
    const [msg] = await nextMessages(helper.getNode('probe'), 1, 5000);
    expect(msg).toMatchObject({ topic: 'line1/motor/current', payload: { anomaly: false, score: null } });
    expect(msg.payload.value).toBeGreaterThan(10);
  });
});
