import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop } from '../../helpers/red';
import deadbandNode = require('../../../nodes/analytics/deadband');
import { statusesOf, withFigures } from './statuses';

const node = (o: Record<string, unknown> = {}) => [
  { id: 'n', type: 'plantwire-deadband', mode: 'absolute', deadband: '1', deviation: '1', rangeLow: '0', rangeHigh: '100', heartbeat: '0', wires: [['out']], ...o },
  { id: 'out', type: 'helper' },
];

describe('plantwire-deadband node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('counts the samples passed of those seen in its status', async () => {
    await load(withFigures(deadbandNode), node());
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    [10, 10.5, 12, 12.2, 12.4].forEach((v, i) => n.receive({ topic: 'p', payload: v, timestamp: i }));
    n.receive({ topic: 'p', payload: 12.4, quality: 'uncertain', timestamp: 5 });
    // The newest status shows when the status period (250 ms) ends.
    await sleep(400);
    expect(got.map((m) => m.payload)).toEqual([10, 12, 12.4]);
    const shown = statusesOf(n);
    expect(shown[shown.length - 1]).toEqual({ fill: 'yellow', shape: 'ring', text: 'passed 3 6' });
  });

  it('passes single samples only on a move beyond the deadband or a quality change', async () => {
    await load(deadbandNode, node());
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'p', payload: 10, timestamp: 1, keep: 'a' });
    n.receive({ topic: 'p', payload: 10.9, timestamp: 2 });
    n.receive({ topic: 'p', payload: 10.9, timestamp: 3, quality: 'bad' });
    n.receive({ topic: 'p', payload: 12.5, timestamp: 4, quality: 'bad' });
    n.receive({ topic: 'p', payload: 12, timestamp: 5, quality: 'bad' });
    await sleep(50);
    expect(got.map((m) => [m.payload, m.quality, m.timestamp])).toEqual([
      [10, 'good', 1],
      [10.9, 'bad', 3],
      [12.5, 'bad', 4],
    ]);
    expect(got[0]).toMatchObject({ topic: 'p', keep: 'a' });
  });

  it('filters a batch tag by tag and sends only the tags that passed', async () => {
    await load(deadbandNode, node({ mode: 'percent', deadband: '5', rangeLow: '0', rangeHigh: '200' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 0, b: 0 }, timestamp: 1 });
    n.receive({ payload: { a: 10, b: 11 }, timestamp: 2 }); // band is 10
    n.receive({ payload: { a: 10, b: 11 }, timestamp: 3 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ a: 0, b: 0 }, { b: 11 }]);
  });

  it('sends a heartbeat of the last passed value, stamped in the tag\'s event time and flagged', async () => {
    await load(deadbandNode, node({ deadband: '100', heartbeat: '0.2' }));
    const out = helper.getNode('out');
    const n = helper.getNode('n');
    const first = nextMessages(out, 1);
    n.receive({ topic: 'p', payload: 3, timestamp: 1000 });
    await first;
    const beat = nextMessages(out, 1, 3000);
    n.receive({ topic: 'p', payload: 4, timestamp: 1001 });
    const [hb] = await beat;
    expect(hb).toMatchObject({ topic: 'p', payload: 3, heartbeat: true, quality: 'good' });
    expect(hb.timestamp).toBeGreaterThan(1001);
  });

  it('stamps a heartbeat in the device\'s time, not the host\'s, so the next sample is not older than it', async () => {
    await load(deadbandNode, node({ deadband: '100', heartbeat: '0.2' }));
    const out = helper.getNode('out');
    const n = helper.getNode('n');
    const skew = -120_000; // the device clock runs 2 min behind the host
    const first = nextMessages(out, 1);
    const sent = Date.now() + skew;
    n.receive({ topic: 'p', payload: 3, timestamp: sent });
    await first;
    const [hb] = await nextMessages(out, 1, 3000);
    expect(hb).toMatchObject({ topic: 'p', payload: 3, heartbeat: true });
    expect(hb.timestamp).toBeGreaterThan(sent);
    expect(hb.timestamp).toBeLessThanOrEqual(Date.now() + skew);
  });

  it('compresses with the swinging door and flushes the held point on msg.flush', async () => {
    await load(deadbandNode, node({ mode: 'swinging-door', deviation: '0.5' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    const series = [0, 1, 2, 3, 3, 3, 3, 3, 0, 0, 0.2];
    series.forEach((v, t) => n.receive({ topic: 'sd', payload: v, timestamp: t }));
    n.receive({ flush: true });
    await sleep(50);
    expect(got.map((m) => [m.timestamp, m.payload])).toEqual([[0, 0], [4, 3], [7, 3], [8, 0], [10, 0.2]]);
  });

  it('lets everything of a tag through again after msg.reset for it', async () => {
    await load(deadbandNode, node({ deadband: '50' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 1 });
    n.receive({ topic: 'a', reset: true });
    n.receive({ payload: { a: 2, b: 2 }, timestamp: 2 });
    n.receive({ reset: true });
    n.receive({ payload: { a: 3, b: 3 }, timestamp: 3 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ a: 1, b: 1 }, { a: 2 }, { a: 3, b: 3 }]);
  });

  it.each([
    [{ topic: 'p', payload: 'open' }, /must be a number/],
    [{ topic: 'p', payload: NaN }, /not a finite number/],
    [{ topic: 'p', payload: -Infinity }, /not a finite number/],
    [{ topic: 'p', payload: { nested: { x: 1 } } }, /must be a number, boolean, string or null/],
    [{ topic: 'p', payload: 1, timestamp: 50 }, /older than/],
    [{ topic: 'p', payload: 1, quality: 'excellent' }, /quality/],
  ])('reports %p through done(err) and keeps running', async (bad, msg) => {
    await load(deadbandNode, node());
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    n.receive({ topic: 'p', payload: 1, timestamp: 100 });
    const err = nextError(n);
    n.receive(bad);
    expect(String((await err).error)).toMatch(msg);
    n.receive({ topic: 'p', payload: 5, timestamp: 101 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([1, 5]);
  });

  it('passes null (a failed reading) once, as a change', async () => {
    await load(deadbandNode, node());
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'p', payload: 1, timestamp: 1 });
    n.receive({ topic: 'p', payload: null, quality: 'bad', timestamp: 2 });
    n.receive({ topic: 'p', payload: null, quality: 'bad', timestamp: 3 });
    await sleep(50);
    expect(got.map((m) => [m.payload, m.quality])).toEqual([[1, 'good'], [null, 'bad']]);
  });

  it('logs a clear error for impossible settings', async () => {
    await load(deadbandNode, [{ id: 'n', type: 'plantwire-deadband', mode: 'percent', deadband: '1', rangeLow: '5', rangeHigh: '5', wires: [] }]);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/must differ/);
  });
});
