import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop } from '../../helpers/red';
import statsNode = require('../../../nodes/analytics/stats');
import { statusesOf } from './statuses';

const node = (o: Record<string, unknown> = {}) => [
  { id: 'n', type: 'plantwire-stats', window: 'count', size: '3', emit: 'sample', stats: ['mean', 'stddev', 'count'], wires: [['out']], ...o },
  { id: 'out', type: 'helper' },
];

describe('plantwire-stats node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('gives sliding statistics for single samples, keeps other properties and the event time', async () => {
    await load(statsNode, node());
    const got = nextMessages(helper.getNode('out'), 4);
    const n = helper.getNode('n');
    [1000000001, 1000000003, 1000000002, 1000000005].forEach((v, i) => n.receive({ topic: 'p', payload: v, timestamp: 1000 + i, keep: i }));
    const msgs = await got;
    expect(msgs[2]).toMatchObject({ topic: 'p', payload: { mean: 1000000002, stddev: 1, count: 3 }, quality: 'good', timestamp: 1002, keep: 2 });
    expect(msgs[3].payload).toEqual({ mean: 1000000003.3333334, stddev: expect.any(Number), count: 3 });
  });

  it('keeps state per tag, in batch form too', async () => {
    await load(statsNode, node({ stats: ['sum'] }));
    const got = nextMessages(helper.getNode('out'), 3);
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 10 }, quality: { b: 'uncertain' }, timestamp: 5 });
    n.receive({ payload: { a: 2 }, timestamp: 6 });
    n.receive({ topic: 'b', payload: 5, timestamp: 7 });
    const [m1, m2, m3] = await got;
    expect(m1).toMatchObject({ payload: { a: { sum: 1 }, b: { sum: 10 } }, quality: { a: 'good', b: 'uncertain' }, timestamp: 5 });
    expect(m2.payload).toEqual({ a: { sum: 3 } });
    expect(m3).toMatchObject({ topic: 'b', payload: { sum: 15 }, quality: 'uncertain' });
  });

  it('emits once per tumbling count window', async () => {
    await load(statsNode, node({ emit: 'window', size: '2', stats: ['max'] }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    [3, 9, 4, 1, 7].forEach((v, i) => n.receive({ topic: 'x', payload: v, timestamp: i }));
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ max: 9 }, { max: 4 }]);
  });

  it('closes a quiet tumbling time window by its timer', async () => {
    await load(statsNode, node({ window: 'time', size: '0.2', emit: 'window', stats: ['mean', 'count'] }));
    const got = nextMessages(helper.getNode('out'), 1, 3000);
    const n = helper.getNode('n');
    const t = Math.floor(Date.now() / 200) * 200 + 10;
    n.receive({ topic: 'q', payload: 2, timestamp: t });
    n.receive({ topic: 'q', payload: 4, timestamp: t + 1 });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'q', payload: { mean: 3, count: 2 }, timestamp: t + 1 });
  });

  it('drops a late reading for a window its timer has sent (one result per window) and counts it in the status', async () => {
    await load(statsNode, node({ window: 'time', size: '0.2', emit: 'window', stats: ['mean', 'count'] }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    const t = Math.floor(Date.now() / 200) * 200 + 10;
    n.receive({ topic: 'q', payload: 2, timestamp: t });
    n.receive({ topic: 'q', payload: 4, timestamp: t + 1 });
    for (let i = 0; i < 60 && got.length === 0; i++) await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ mean: 3, count: 2 }]);
    // A delayed reading stamped inside the window already sent.
    n.receive({ topic: 'q', payload: 100, timestamp: t + 2 });
    await sleep(1200); // the timer would send a reopened window; the status shows at most every 250 ms
    expect(got.map((m) => m.payload)).toEqual([{ mean: 3, count: 2 }]);
    const shown = statusesOf(n);
    expect(shown[shown.length - 1]).toMatchObject({ fill: 'yellow', text: expect.stringMatching(/stats\.status\.late/) });
  });

  it('forgets one tag on msg.reset with a topic, every tag without', async () => {
    await load(statsNode, node({ stats: ['count'] }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 1 });
    n.receive({ topic: 'a', reset: true });
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 2 });
    n.receive({ reset: true });
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 3 });
    await sleep(50);
    expect(got.map((m) => [m.payload.a.count, m.payload.b.count])).toEqual([[1, 1], [1, 2], [1, 1]]);
  });

  it.each([
    [{ topic: 'p', payload: 'high' }, /must be a number/],
    [{ topic: 'p', payload: NaN }, /not a finite number/],
    [{ topic: 'p', payload: Infinity }, /not a finite number/],
    [{ topic: 'p', payload: [1, 2] }, /must be a number/],
    [{ topic: 'p', payload: {} }, /empty batch/],
    [{ topic: 'p', payload: 1, timestamp: 'yesterday' }, /not a date/],
    [{ topic: 'p', payload: 1, timestamp: 10 }, /older than the previous/],
    [{ topic: 'p', payload: 2e154 }, /beyond ±1e150/],
  ])('reports %p through done(err) and keeps running', async (bad, msg) => {
    await load(statsNode, node({ stats: ['last'] }));
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    n.receive({ topic: 'p', payload: 7, timestamp: 100 });
    const err = nextError(n);
    n.receive(bad);
    expect(String((await err).error)).toMatch(msg);
    n.receive({ topic: 'p', payload: 8, timestamp: 101 });
    await sleep(50);
    expect(got.map((m) => m.payload.last)).toEqual([7, 8]);
  });

  it('shows the newest figure of single samples, a yellow ring while a bad one is in the window', async () => {
    await load(statsNode, node());
    const n = helper.getNode('n');
    const got = nextMessages(helper.getNode('out'), 3);
    n.receive({ topic: 'p', payload: 2, timestamp: 1 });
    n.receive({ topic: 'p', payload: 4, timestamp: 2 });
    n.receive({ topic: 'p', payload: 9, quality: 'bad', timestamp: 3 });
    expect((await got).map((m) => m.payload.mean)).toEqual([2, 3, 5]);
    // The newest status shows when the status period (250 ms) ends.
    await sleep(400);
    const shown = statusesOf(n);
    expect(shown[shown.length - 1]).toEqual({ fill: 'yellow', shape: 'ring', text: 'mean 5' });
  });

  it('skips a null value (a failed reading) without output or error', async () => {
    await load(statsNode, node({ stats: ['count'] }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'p', payload: null, quality: 'bad', timestamp: 1 });
    n.receive({ topic: 'p', payload: 4, timestamp: 2 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ count: 1 }]);
  });

  it('refuses a batch with too many new tags as a whole', async () => {
    await load(statsNode, node({ stats: ['count'] }));
    const n = helper.getNode('n');
    const huge: Record<string, number> = {};
    for (let i = 0; i < 10_001; i++) huge[`t${i}`] = i;
    const err = nextError(n);
    n.receive({ payload: huge });
    expect(String((await err).error)).toMatch(/at most 10000/);
  });

  it('logs a clear error for impossible settings', async () => {
    await load(statsNode, [{ id: 'n', type: 'plantwire-stats', window: 'count', size: '2.5', emit: 'sample', stats: ['mean'], wires: [] }]);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/whole number of samples/);
  });
});
