import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode } from '../../helpers/red';
import oeeNode = require('../../../nodes/analytics/oee');
import { asyncStore, loadWithAsyncStore } from '../../helpers/async-store';

const H = 3_600_000;
const DAY = Date.UTC(2026, 2, 10);
const at = (hours: number) => DAY + hours * H;
const flow = (extra: Record<string, unknown> = {}): FlowNode[] => [
  { id: 'o', type: 'plantwire-oee', z: 'f', idealCycleTime: '2', period: '0', resetAt: '06:00, 14:00, 22:00', timeZone: 'UTC', countMode: 'increment', rollover: '0', wires: [['out']], ...extra },
  { id: 'out', type: 'helper', z: 'f' },
  { id: 'f', type: 'tab' },
];

/** With no configured context store Node-RED deletes a node's context on redeploy; persistence needs one. */
async function loadWithStore(flowNodes: FlowNode[]): Promise<void> {
  helper.settings({ contextStorage: { default: { module: 'memory' } } });
  await load(oeeNode, flowNodes);
  await (helper as unknown as { _context: { load(): Promise<void> } })._context.load();
}

describe('plantwire-oee node', () => {
  beforeEach(startServer);
  afterEach(async () => {
    await stop();
    helper.settings({});
  });

  it('computes figures from single-form state and counts, on request', async () => {
    await load(oeeNode, flow());
    const o = helper.getNode('o');
    o.receive({ topic: 'state', payload: 'running', timestamp: at(6) });
    o.receive({ topic: 'good', payload: 1500, timestamp: at(7) });
    o.receive({ topic: 'reject', payload: 100, timestamp: at(7) });
    o.receive({ topic: 'state', payload: false, timestamp: at(7) });
    o.receive({ topic: 'state', payload: 'stopped', timestamp: at(8) });
    const got = nextMessages(helper.getNode('out'));
    o.receive({ action: 'report' });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'oee', closing: false, shiftStart: at(6), quality: 'good' });
    expect(msg.payload).toMatchObject({ runTime: 3600, good: 1500, total: 1600 });
    expect(msg.payload.plannedTime).toBeGreaterThanOrEqual(7200);
    expect(msg.payload.performance).toBeCloseTo((2 * 1600) / 3600, 12);
    expect(msg.payload.quality).toBeCloseTo(1500 / 1600, 12);
  });

  it('sends the closing shift\'s figures when a sample passes a shift start, per line (batch form)', async () => {
    await load(oeeNode, flow());
    const o = helper.getNode('o');
    const out = collect(helper.getNode('out'));
    o.receive({ payload: { 'l1/state': true, 'l2/state': false }, timestamp: at(10) });
    o.receive({ payload: { 'l1/good': 3600, 'l1/reject': 0, 'l2/good': 10 }, timestamp: at(12) });
    o.receive({ payload: { 'l1/state': true, 'l2/state': true }, timestamp: at(14.5) });
    await sleep(100);
    expect(out.map((m) => [m.topic, m.closing, m.timestamp])).toEqual([['l1', true, at(14)], ['l2', true, at(14)]]);
    expect(out[0].payload).toEqual({ availability: 1, performance: 0.5, quality: 1, oee: 0.5, runTime: 4 * 3600, plannedTime: 4 * 3600, good: 3600, total: 3600 });
    // No run time: performance is undefined, but OEE = good x ideal cycle time / planned time is not.
    expect(out[1].payload).toMatchObject({ availability: 0, performance: null, quality: 1, oee: (10 * 2) / (4 * 3600), good: 10 });
  });

  it('msg.reset forgets one line', async () => {
    await load(oeeNode, flow());
    const o = helper.getNode('o');
    o.receive({ topic: 'a/state', payload: true, timestamp: at(6) });
    o.receive({ topic: 'b/state', payload: true, timestamp: at(6) });
    o.receive({ topic: 'a/good', payload: 5, timestamp: at(7) });
    o.receive({ topic: 'a', reset: true });
    const got = nextMessages(helper.getNode('out'));
    o.receive({ action: 'report' });
    const [msg] = await got;
    expect(msg.topic).toBe('b');
  });

  it.each([
    [{ topic: 'speed', payload: 5 }, /state, good or reject/],
    [{ topic: 'state', payload: 'sleeping' }, /"running"\/"stopped"/],
    [{ topic: 'good', payload: -3 }, /negative/],
    [{ topic: 'good', payload: 'ten' }, /a count must be a number/],
    [{ topic: 'good', payload: NaN }, /finite/],
    [{ topic: 'good', payload: 1, timestamp: at(5) }, /earlier than line/],
    [{ topic: 'nowhere', action: 'report' }, /no OEE data for line "nowhere"/],
  ])('refuses %p through done(err) and keeps running', async (bad, why) => {
    await load(oeeNode, flow());
    const o = helper.getNode('o');
    o.receive({ topic: 'state', payload: true, timestamp: at(6) });
    const err = nextError(o);
    const statuses: Array<{ fill?: string; shape?: string }> = [];
    const setStatus = o.status.bind(o);
    o.status = (st: Parameters<typeof setStatus>[0]) => {
      statuses.push(st as { fill?: string; shape?: string });
      return setStatus(st);
    };
    o.receive(bad);
    expect(String((await err).error)).toMatch(why);
    expect(statuses).toContainEqual(expect.objectContaining({ fill: 'red', shape: 'ring' }));
    o.receive({ topic: 'good', payload: 7, timestamp: at(6.5) });
    const got = nextMessages(helper.getNode('out'));
    o.receive({ action: 'report' });
    expect((await got)[0].payload.good).toBe(7);
  });

  it('keeps counters in the node context across a redeploy', async () => {
    await loadWithStore(flow());
    const o = helper.getNode('o');
    o.receive({ topic: 'state', payload: true, timestamp: at(6) });
    o.receive({ topic: 'good', payload: 1200, timestamp: at(7) });
    await sleep(50);
    await helper.setFlows(flow({ idealCycleTime: '3' }), 'full');
    const o2 = helper.getNode('o');
    o2.receive({ topic: 'good', payload: 300, timestamp: at(8) });
    const got = nextMessages(helper.getNode('out'));
    o2.receive({ action: 'report' });
    const [msg] = await got;
    expect(msg.payload).toMatchObject({ good: 1500, total: 1500 });
    // Running since 06:00; the report is at event time now (08:00 plus the moments since that sample arrived).
    expect(msg.payload.runTime).toBeGreaterThanOrEqual(7200);
    expect(msg.payload.runTime).toBeLessThan(7260);
    expect(msg.payload.performance).toBeCloseTo((3 * 1500) / msg.payload.runTime, 12);
    expect(msg.shiftStart).toBe(at(6));
  });

  it('keeps counters in an asynchronous-only store, holding messages until they are back', async () => {
    const store = asyncStore();
    await loadWithAsyncStore(oeeNode, flow(), store);
    const o = helper.getNode('o');
    o.receive({ topic: 'state', payload: true, timestamp: at(6) });
    o.receive({ topic: 'good', payload: 1200, timestamp: at(7) });
    // Both wait for the store's first answer (100 ms), then count.
    await sleep(250);
    expect(store.written.map(([, key]) => key)).toContain('oee');
    await helper.setFlows(flow({ idealCycleTime: '3' }), 'full');
    const o2 = helper.getNode('o');
    const got = nextMessages(helper.getNode('out'));
    // Sent at once: both wait for the saved counters, then add to them.
    o2.receive({ topic: 'good', payload: 300, timestamp: at(8) });
    o2.receive({ action: 'report' });
    const [msg] = await got;
    expect(msg.payload).toMatchObject({ good: 1500, total: 1500 });
    expect(msg.shiftStart).toBe(at(6));
  });

  it('reports every period by itself', async () => {
    await load(oeeNode, flow({ period: '1', resetAt: '' }));
    const got = nextMessages(helper.getNode('out'), 1, 4000);
    helper.getNode('o').receive({ topic: 'state', payload: true });
    const [msg] = await got;
    expect(msg).toMatchObject({ topic: 'oee', closing: false });
    expect(msg.payload.availability).toBeCloseTo(1, 6);
  });

  it('logs a clear error for an impossible shift time or time zone', async () => {
    await load(oeeNode, [...flow({ resetAt: '6h' }).slice(0, 1), { ...flow()[0], id: 'o2', timeZone: 'Moon/Base' }]);
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    const text = errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n');
    expect(text).toMatch(/resetAt: "6h" is not a time of day/);
    expect(text).toMatch(/"Moon\/Base" is not an IANA time zone/);
  });
});

describe('OEE example flow', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('imports and runs: the report button gives figures of line packer1', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const example = require('../../../examples/OEE of a packaging line.json') as FlowNode[];
    const oee = example.find((n) => n.type === 'plantwire-oee')!;
    (oee.wires as string[][])[0].push('probe');
    const core = ['common/20-inject.js', 'common/21-debug.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await load([...core, oeeNode], [...example, { id: 'probe', type: 'helper', z: oee.z as string }]);
    await sleep(1500);
    const got = nextMessages(helper.getNode('probe'));
    helper.getNode('pwoee.report').receive({});
    const [msg] = await got;
    expect(msg.topic).toBe('packer1');
    expect(msg.payload.good).toBeGreaterThanOrEqual(1);
    expect(msg.payload.availability).toBeCloseTo(1, 3);
  });
});
