import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop } from '../../helpers/red';
import resampleNode = require('../../../nodes/analytics/resample');

const flow = (o: Record<string, unknown> = {}) => [
  { id: 'n', type: 'plantwire-resample', interval: '10', aggregate: 'mean', fill: 'none', wires: [['out']], ...o },
  { id: 'out', type: 'helper' },
];

describe('plantwire-resample node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('emits the mean of a bucket, stamped with the bucket start, when a later sample arrives', async () => {
    await load(resampleNode, flow());
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'T', payload: 20, timestamp: 1_700_000_001_000 });
    n.receive({ topic: 'T', payload: 22, timestamp: 1_700_000_008_000, quality: 'uncertain' });
    n.receive({ topic: 'T', payload: 30, timestamp: 1_700_000_012_000, keep: 'x' });
    await sleep(50);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ topic: 'T', payload: 21, quality: 'uncertain', timestamp: 1_700_000_000_000, keep: 'x' });
  });

  it('fills gaps with the previous value, one message per bucket; batch tags apart', async () => {
    await load(resampleNode, flow({ aggregate: 'last', fill: 'previous' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 5 }, timestamp: 0 });
    n.receive({ payload: { a: 2 }, timestamp: 30_000 });
    await sleep(50);
    expect(got.map((m) => [m.timestamp, m.payload])).toEqual([
      [0, { a: 1 }],
      [10_000, { a: 1 }],
      [20_000, { a: 1 }],
    ]);
  });

  it('closes a quiet bucket by its timer', async () => {
    await load(resampleNode, flow({ interval: '0.2', aggregate: 'count' }));
    const got = nextMessages(helper.getNode('out'), 1, 3000);
    const n = helper.getNode('n');
    const start = Math.floor(Date.now() / 200) * 200;
    n.receive({ topic: 'q', payload: 1, timestamp: start + 1 });
    n.receive({ topic: 'q', payload: 1, timestamp: start + 2 });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'q', payload: 2, timestamp: start });
  });

  it('drops late samples and counts them in the status', async () => {
    await load(resampleNode, flow());
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    const statuses: Array<{ text?: string }> = [];
    const orig = n.status.bind(n);
    n.status = (s: { text?: string }) => {
      statuses.push(s);
      return orig(s);
    };
    n.receive({ topic: 'p', payload: 1, timestamp: 5_000 });
    n.receive({ topic: 'p', payload: 2, timestamp: 15_000 });
    n.receive({ topic: 'p', payload: 99, timestamp: 6_000 });
    n.receive({ topic: 'p', payload: 4, timestamp: 25_000 });
    await sleep(400); // the status shows the newest figures at most every 250 ms
    expect(got.map((m) => m.payload)).toEqual([1, 2]);
    expect(statuses[statuses.length - 1].text).toMatch(/resample.status.late/);
  });

  it('forgets one tag on msg.reset with its topic', async () => {
    await load(resampleNode, flow({ aggregate: 'sum' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 0 });
    n.receive({ topic: 'a', reset: true });
    n.receive({ payload: { a: 5, b: 5 }, timestamp: 10_000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ b: 1 }]);
  });

  it.each([
    [{ topic: 'p', payload: 'warm' }, /must be a number/],
    [{ topic: 'p', payload: NaN }, /not a finite number/],
    [{ topic: 'p', payload: {} }, /empty batch/],
    [{ topic: 'p', payload: 1, timestamp: new Date('nope') }, /invalid Date/],
    [{ topic: 'p', payload: 1, timestamp: { t: 1 } }, /timestamp must be/],
  ])('reports %p through done(err) and keeps running', async (bad, msg) => {
    await load(resampleNode, flow());
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    n.receive({ topic: 'p', payload: 3, timestamp: 1_000 });
    const err = nextError(n);
    n.receive(bad);
    expect(String((await err).error)).toMatch(msg);
    n.receive({ topic: 'p', payload: 5, timestamp: 11_000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([3]);
  });

  it('logs a clear error for impossible settings', async () => {
    await load(resampleNode, [{ id: 'n', type: 'plantwire-resample', interval: '0', aggregate: 'mean', fill: 'none', wires: [] }]);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/interval must be/);
  });
});
