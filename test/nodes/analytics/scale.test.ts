import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop } from '../../helpers/red';
import scaleNode = require('../../../nodes/analytics/scale');

const flow = [
  { id: 's', type: 'plantwire-scale', inLow: '4', inHigh: '20', outLow: '0', outHigh: '10', clamp: false, wires: [['out']] },
  { id: 'out', type: 'helper' },
];

describe('plantwire-scale node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('scales a single sample and keeps other properties', async () => {
    await load(scaleNode, flow);
    const out = helper.getNode('out');
    const got = nextMessages(out);
    helper.getNode('s').receive({ topic: 'p', payload: 12, timestamp: 99, extra: 'kept' });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'p', payload: 5, quality: 'good', timestamp: 99, extra: 'kept' });
  });

  it('writes the output unit into msg.units of a batch', async () => {
    await load(scaleNode, [{ ...flow[0], unit: 'bar' }, flow[1]]);
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('s').receive({ payload: { a: 12 }, units: { a: 'mA' } });
    const [msg] = await got;
    expect(msg).toMatchObject({ payload: { a: 5 }, units: { a: 'bar' } });
  });

  it('scales a batch and marks out-of-range tags uncertain', async () => {
    await load(scaleNode, flow);
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('s').receive({ payload: { a: 20, b: 2 }, timestamp: 1 });
    const [msg] = await got;
    expect(msg.payload).toEqual({ a: 10, b: -1.25 });
    expect(msg.quality).toEqual({ a: 'good', b: 'uncertain' });
  });

  it.each([['text'], [NaN], [[1, 2]], [undefined]])('reports %p through done(err) and keeps running', async (bad) => {
    await load(scaleNode, flow);
    const s = helper.getNode('s');
    const out = helper.getNode('out');
    const got = collect(out);
    const err = nextError(s);
    s.receive({ topic: 'p', payload: bad });
    expect(String((await err).error)).toMatch(/payload|must be a number/);
    s.receive({ topic: 'p', payload: 4 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([0]);
  });

  it('logs a clear error for impossible settings', async () => {
    const bad = [{ id: 's', type: 'plantwire-scale', inLow: '5', inHigh: '5', outLow: '0', outHigh: '1', wires: [] }];
    const statuses: unknown[] = [];
    await load(scaleNode, bad);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/inLow and inHigh must differ/);
    void statuses;
  });
});
