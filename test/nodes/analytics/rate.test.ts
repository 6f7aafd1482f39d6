import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode } from '../../helpers/red';
import rateNode = require('../../../nodes/analytics/rate');
import { statusesOf, withFigures } from './statuses';
import { asyncStore, loadWithAsyncStore } from '../../helpers/async-store';

/** Loads with a real (memory) context store, the one a redeploy keeps node context in. */
async function loadWithStore(flowNodes: FlowNode[]): Promise<void> {
  helper.settings({ contextStorage: { default: { module: 'memory' } } });
  await load(rateNode, flowNodes);
  await (helper as unknown as { _context: { load(): Promise<void> } })._context.load();
}

const flow = (o: Record<string, unknown> = {}): FlowNode[] => [
  { id: 'n', type: 'plantwire-rate', mode: 'rate', per: 's', rollover: '65536', wires: [['out']], ...o },
  { id: 'out', type: 'helper' },
];

describe('plantwire-rate node', () => {
  beforeEach(startServer);
  afterEach(async () => {
    await stop();
    helper.settings({});
  });

  it('turns a single counter into a rate across a 16-bit rollover, in event time', async () => {
    await load(rateNode, flow({ per: 'min' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'cycles', payload: 65530, timestamp: 0 });
    n.receive({ topic: 'cycles', payload: 2, timestamp: 60_000, keep: 1 });
    await sleep(50);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ topic: 'cycles', payload: 8, quality: 'good', timestamp: 60_000, keep: 1 });
  });

  it('shows the newest rate and the resets counted', async () => {
    await load(withFigures(rateNode), flow());
    const n = helper.getNode('n');
    const got = nextMessages(helper.getNode('out'), 3);
    n.receive({ topic: 'c', payload: 0, timestamp: 0 });
    n.receive({ topic: 'c', payload: 10, timestamp: 1000 });
    n.receive({ topic: 'c', payload: 30, timestamp: 2000 });
    n.receive({ topic: 'c', payload: 5, timestamp: 3000 });
    expect((await got).map((m) => [m.payload, m.quality, m.counterReset])).toEqual([
      [10, 'good', undefined],
      [20, 'good', undefined],
      [5, 'uncertain', true],
    ]);
    // The newest status shows when the status period (250 ms) ends.
    await sleep(400);
    const shown = statusesOf(n);
    expect(shown[shown.length - 1]).toEqual({ fill: 'yellow', shape: 'ring', text: '5/s resets 1' });
  });

  it('gives a rate the unit of the counter per the chosen unit: pcs per minute is pcs/min', async () => {
    await load(rateNode, flow({ per: 'min', rollover: '0' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ topic: 'parts', payload: 0, unit: 'pcs', timestamp: 0 });
    n.receive({ topic: 'parts', payload: 1000, unit: 'pcs', timestamp: 60_000 });
    n.receive({ payload: { parts: 1100, other: 5 }, units: { parts: 'pcs' }, timestamp: 120_000 });
    await sleep(50);
    expect(got[0]).toMatchObject({ topic: 'parts', payload: 1000, unit: 'pcs/min' });
    expect(got[1]).toMatchObject({ payload: { parts: 100 }, units: { parts: 'pcs/min' } });
  });

  it('gives a total of m3/h per hour the unit m3, and a total of a unit not in "/h" none', async () => {
    await load(rateNode, flow({ mode: 'total', per: 'h', rollover: '0' }));
    const totals = collect(helper.getNode('out'));
    const t = helper.getNode('n');
    t.receive({ topic: 'flow', payload: 36, unit: 'm3/h', timestamp: 0 });
    t.receive({ topic: 'flow', payload: 36, unit: 'm3/h', timestamp: 3_600_000 });
    t.receive({ topic: 'power', payload: 5, unit: 'kW', timestamp: 0 });
    await sleep(50);
    expect(totals.map((m) => [m.payload, m.unit])).toEqual([
      [0, 'm3'],
      [36, 'm3'],
      [0, undefined],
    ]);
  });

  it('flags a device reset: never negative, uncertain, counterReset', async () => {
    await load(rateNode, flow());
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 5000, b: 10 }, timestamp: 0 });
    n.receive({ payload: { a: 12, b: 20 }, timestamp: 2000 });
    await sleep(50);
    expect(got[0]).toMatchObject({ payload: { a: 6, b: 5 }, quality: { a: 'uncertain', b: 'good' } });
  });

  it('keeps a running total in the node context across a redeploy', async () => {
    const f = flow({ mode: 'total', per: 'h', rollover: '0' });
    await loadWithStore(f);
    let got = collect(helper.getNode('out'));
    let n = helper.getNode('n');
    n.receive({ topic: 'flow', payload: 36, timestamp: 0 });
    n.receive({ topic: 'flow', payload: 36, timestamp: 100_000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([0, 1]);
    // A full deploy stops and recreates the node; a changed name proves it is a new instance.
    await helper.setFlows(flow({ mode: 'total', per: 'h', rollover: '0', name: 'again' }), 'full');
    expect(helper.getNode('n').name).toBe('again');
    got = collect(helper.getNode('out'));
    n = helper.getNode('n');
    n.receive({ topic: 'flow', payload: 36, timestamp: 200_000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([2]);
  });

  it('takes back state a persistent store returns at start, and ignores it for another unit', async () => {
    const f = flow({ mode: 'total', per: 's', rollover: '0' });
    await loadWithStore(f);
    const saved = { mode: 'total', per: 's', tags: { kwh: { v: 2, ts: 1000, q: 'good', total: 500, c: 0 } } };
    helper.getNode('n').context().set('plantwire-rate', saved);
    await helper.setFlows(flow({ mode: 'total', per: 's', rollover: '0', name: 'restarted' }), 'full');
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('n').receive({ topic: 'kwh', payload: 2, timestamp: 2000 });
    expect((await got)[0].payload).toBe(502);

    helper.getNode('n').context().set('plantwire-rate', saved); // saved in m3/s, the node now counts per hour
    await helper.setFlows(flow({ mode: 'total', per: 'h', rollover: '0', name: 'other' }), 'full');
    const again = nextMessages(helper.getNode('out'));
    helper.getNode('n').receive({ topic: 'kwh', payload: 2, timestamp: 3000 });
    expect((await again)[0].payload).toBe(0);
  });

  it('holds messages until an asynchronous store has returned the saved state, then handles them in order', async () => {
    const store = asyncStore();
    const f = flow({ mode: 'total', per: 's', rollover: '0' });
    await loadWithAsyncStore(rateNode, f, store);
    let got = nextMessages(helper.getNode('out'), 1);
    helper.getNode('n').receive({ topic: 'kwh', payload: 100, timestamp: 0 });
    await got;
    await helper.setFlows(flow({ mode: 'total', per: 's', rollover: '0', name: 'slow' }), 'full');
    got = nextMessages(helper.getNode('out'), 2);
    const n = helper.getNode('n');
    n.receive({ topic: 'kwh', payload: 1, timestamp: 1000 });
    n.receive({ topic: 'kwh', payload: 1, timestamp: 2000 });
    // 100 kWh/s held for the first second (trapezoid 50.5), then 1 kWh/s: the total goes on from the saved one.
    expect((await got).map((m) => m.payload)).toEqual([50.5, 51.5]);
    expect(store.written.length).toBeGreaterThan(0);
  });

  it('clears one tag on msg.reset with its topic, every tag without', async () => {
    await load(rateNode, flow({ mode: 'total', per: 's', rollover: '0' }));
    const got = collect(helper.getNode('out'));
    const n = helper.getNode('n');
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 0 });
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 1000 });
    n.receive({ topic: 'a', reset: true });
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 2000 });
    n.receive({ reset: true });
    n.receive({ payload: { a: 1, b: 1 }, timestamp: 3000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([{ a: 0, b: 0 }, { a: 1, b: 1 }, { a: 0, b: 2 }, { a: 0, b: 0 }]);
    expect((helper.getNode('n').context().get('plantwire-rate') as { tags: unknown }).tags).toEqual({
      a: expect.objectContaining({ total: 0 }),
      b: expect.objectContaining({ total: 0 }),
    });
  });

  it.each([
    [{ topic: 'c', payload: 'many' }, /must be a number/],
    [{ topic: 'c', payload: NaN }, /not a finite number/],
    [{ topic: 'c', payload: 70000, timestamp: 2000 }, /outside 0..65535/],
    [{ topic: 'c', payload: 5, timestamp: 1000 }, /same as the previous/],
    [{ topic: 'c', payload: 5, timestamp: 10 }, /older than/],
    [{ topic: 'c', payload: 5, timestamp: Infinity }, /timestamp/],
  ])('reports %p through done(err) and keeps running', async (bad, msg) => {
    await load(rateNode, flow());
    const n = helper.getNode('n');
    const got = collect(helper.getNode('out'));
    n.receive({ topic: 'c', payload: 0, timestamp: 1000 });
    const err = nextError(n);
    n.receive(bad);
    expect(String((await err).error)).toMatch(msg);
    n.receive({ topic: 'c', payload: 10, timestamp: 2000 });
    await sleep(50);
    expect(got.map((m) => m.payload)).toEqual([10]);
  });

  it('logs a clear error for impossible settings', async () => {
    await load(rateNode, [{ id: 'n', type: 'plantwire-rate', mode: 'rate', per: 'week', rollover: '0', wires: [] }]);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/per must be one of s, min, h/);
  });
});
