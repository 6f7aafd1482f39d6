import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode } from '../../helpers/red';
import { statusesOf, withFigures } from './statuses';
import alarmNode = require('../../../nodes/analytics/alarm');
import { asyncStore, loadWithAsyncStore } from '../../helpers/async-store';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const flow = (extra: Record<string, unknown> = {}): FlowNode[] => [
  { id: 'a', type: 'plantwire-alarm', z: 'f', high: '80', highHigh: '90', low: '', lowLow: '10', hysteresis: '2', onDelay: '0', offDelay: '0', latch: false, priority: 'high', wires: [['out']], ...extra },
  { id: 'out', type: 'helper', z: 'f' },
  { id: 'f', type: 'tab' },
];

/**
 * Loads a flow with a configured context store: with none, Node-RED deletes a node's context when
 * the node is redeployed, so persistence is only meaningful (and only testable) with one.
 */
async function loadWithStore(flowNodes: FlowNode[]): Promise<void> {
  helper.settings({ contextStorage: { default: { module: 'memory' } } });
  await load(alarmNode, flowNodes);
  await (helper as unknown as { _context: { load(): Promise<void> } })._context.load();
}

describe('plantwire-alarm node', () => {
  beforeEach(startServer);
  afterEach(async () => {
    await stop();
    helper.settings({});
  });

  it('raises an alarm from a single sample with tag, priority, quality and event time', async () => {
    await load(alarmNode, flow());
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('a').receive({ topic: 'tank/level', payload: 85, timestamp: T0 });
    const [msg] = await got;
    expect(msg).toMatchObject({
      topic: 'tank/level', priority: 'high', quality: 'good', timestamp: T0,
      payload: { state: 'unack', level: 'H', value: 85, since: T0 },
    });
  });

  it('keeps one alarm per tag of a batch and acknowledges by msg.topic', async () => {
    await load(alarmNode, flow());
    const a = helper.getNode('a');
    const got = nextMessages(helper.getNode('out'), 3);
    a.receive({ payload: { t1: 95, t2: 50, t3: 5 }, quality: { t3: 'uncertain' }, timestamp: T0 });
    a.receive({ topic: 't1', ack: true, timestamp: T0 + 1000 });
    const msgs = await got;
    expect(msgs.map((m) => [m.topic, m.payload.state, m.payload.level, m.quality])).toEqual([
      ['t1', 'unack', 'HH', 'good'],
      ['t3', 'unack', 'LL', 'uncertain'],
      ['t1', 'acked', 'HH', 'good'],
    ]);
  });

  it('lists active alarms, shelves and unshelves, and reset forgets a tag', async () => {
    await load(alarmNode, flow());
    const a = helper.getNode('a');
    const out = helper.getNode('out');
    const got = collect(out);
    a.receive({ topic: 'x', payload: 85, timestamp: T0 });
    a.receive({ topic: 'y', payload: 5, timestamp: T0 + 1 });
    a.receive({ action: 'list' });
    a.receive({ topic: 'x', action: 'shelve', duration: 600, timestamp: T0 + 2 });
    a.receive({ topic: 'x', action: 'unshelve', timestamp: T0 + 3 });
    a.receive({ topic: 'y', reset: true });
    a.receive({ action: 'list' });
    await sleep(50);
    const lists = got.filter((m) => m.topic === 'alarms');
    expect(lists[0].payload.map((x: { tag: string }) => x.tag)).toEqual(['x', 'y']);
    expect(got.filter((m) => m.topic === 'x').map((m) => m.payload.state)).toEqual(['unack', 'shelved', 'unack']);
    expect(lists[1].payload.map((x: { tag: string }) => x.tag)).toEqual(['x']);
  });

  it('reports bad-quality input once without clearing the alarm', async () => {
    await load(alarmNode, flow());
    const a = helper.getNode('a');
    const got = collect(helper.getNode('out'));
    a.receive({ topic: 'p', payload: 85, timestamp: T0 });
    a.receive({ topic: 'p', payload: 50, quality: 'bad', timestamp: T0 + 1 });
    a.receive({ topic: 'p', payload: null, quality: 'bad', timestamp: T0 + 2 });
    await sleep(50);
    expect(got.map((m) => [m.payload.state, m.quality])).toEqual([['unack', 'good'], ['unack', 'bad']]);
  });

  it('keeps showing bad input while the input stays bad, and drops it when good input returns', async () => {
    await load(alarmNode, flow());
    const a = helper.getNode('a');
    a.receive({ topic: 'p', payload: 85, timestamp: T0 });
    a.receive({ topic: 'p', payload: 85, quality: 'bad', timestamp: T0 + 1000 });
    await sleep(300);
    expect(statusesOf(a).at(-1)).toMatchObject({ text: 'alarm.status.bad' });
    // A second bad sample changes no state: the status must not fall back to the alarm count.
    a.receive({ topic: 'p', payload: 85, quality: 'bad', timestamp: T0 + 2000 });
    await sleep(300);
    expect(statusesOf(a).at(-1)).toMatchObject({ text: 'alarm.status.bad' });
    // Nor for a good sample of another tag while this one stays bad.
    a.receive({ topic: 'q', payload: 50, timestamp: T0 + 3000 });
    await sleep(300);
    expect(statusesOf(a).at(-1)).toMatchObject({ text: 'alarm.status.bad' });
    a.receive({ topic: 'p', payload: 85, timestamp: T0 + 4000 });
    await sleep(300);
    expect(statusesOf(a).at(-1)).toMatchObject({ text: 'alarm.status.active' });
  });

  it.each([
    [{ topic: 'p', payload: 'hot' }, /must be a number/],
    [{ topic: 'p', payload: NaN }, /finite/],
    [{ topic: 'p', payload: [1, 2] }, /must be a number/],
    [{ topic: 'p', payload: 1, timestamp: 'yesterday' }, /not a date/],
    [{ topic: 'p', payload: 1, timestamp: T0 - 1000 }, /earlier than the previous/],
    [{ topic: 'nobody', ack: true }, /no alarm for tag "nobody"/],
    [{ ack: true }, /msg.topic/],
    [{ topic: 'p', action: 'shelve' }, /duration/],
    [{ topic: 'p', action: 'explode' }, /msg.action must be/],
  ])('refuses %p through done(err) and keeps running', async (bad, why) => {
    await load(alarmNode, flow());
    const a = helper.getNode('a');
    const got = collect(helper.getNode('out'));
    a.receive({ topic: 'p', payload: 50, timestamp: T0 });
    const err = nextError(a);
    const statuses: Array<{ fill?: string; shape?: string }> = [];
    const setStatus = a.status.bind(a);
    a.status = (st: Parameters<typeof setStatus>[0]) => {
      statuses.push(st as { fill?: string; shape?: string });
      return setStatus(st);
    };
    a.receive(bad);
    expect(String((await err).error)).toMatch(why);
    expect(statuses).toContainEqual(expect.objectContaining({ fill: 'red', shape: 'ring' }));
    a.receive({ topic: 'p', payload: 85, timestamp: T0 + 5000 });
    await sleep(50);
    expect(got.map((m) => m.payload.state)).toEqual(['unack']);
  });

  it('shows its status at most every 250 ms, the newest state once a period ends', async () => {
    await load(withFigures(alarmNode), flow());
    const a = helper.getNode('a');
    // 2,000 samples, the last 1,000 of them above H: one alarm active, unacknowledged.
    for (let i = 0; i < 2000; i++) a.receive({ topic: 'p', payload: i < 1000 ? 50 : 85, timestamp: T0 + i });
    expect(statusesOf(a).length).toBeLessThanOrEqual(2);
    await sleep(300);
    expect(statusesOf(a).length).toBeLessThanOrEqual(3);
    expect(statusesOf(a).pop()).toMatchObject({ fill: 'green', text: 'active 1 1' });
  });

  it('keeps alarm states in the node context across a redeploy', async () => {
    await loadWithStore(flow());
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('a').receive({ topic: 'p', payload: 95, timestamp: T0 });
    await got;
    // A full deploy stops and recreates the node; a changed setting proves it is a new instance.
    await helper.setFlows(flow({ priority: 'critical' }), 'full');
    const after = nextMessages(helper.getNode('out'));
    helper.getNode('a').receive({ topic: 'p', ack: true, timestamp: T0 + 1000 });
    const [msg] = await after;
    expect(msg).toMatchObject({ topic: 'p', priority: 'critical', previous: 'unack', payload: { state: 'acked', level: 'HH', since: T0 + 1000 } });
  });

  it('keeps its states in an asynchronous-only store, holding messages until they are back', async () => {
    const store = asyncStore();
    await loadWithAsyncStore(alarmNode, flow(), store);
    const raised = nextMessages(helper.getNode('out'));
    helper.getNode('a').receive({ topic: 'p', payload: 95, timestamp: T0 });
    await raised;
    expect(store.written.map(([, key]) => key)).toContain('alarms');
    await helper.setFlows(flow({ priority: 'critical' }), 'full');
    // Sent at once: the acknowledgement and the list wait for the saved states, then see them.
    const after = nextMessages(helper.getNode('out'), 2);
    helper.getNode('a').receive({ topic: 'p', ack: true, timestamp: T0 + 1000 });
    helper.getNode('a').receive({ action: 'list' });
    const [ack, list] = await after;
    expect(ack).toMatchObject({ topic: 'p', previous: 'unack', payload: { state: 'acked', level: 'HH' } });
    expect(list.payload).toEqual([expect.objectContaining({ tag: 'p', state: 'acked', level: 'HH' })]);
  });

  it('completes an on-delay by timer when no further sample arrives', async () => {
    await load(alarmNode, flow({ onDelay: '0.05' }));
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('a').receive({ topic: 'p', payload: 85 });
    const [msg] = await got;
    expect(msg.payload).toMatchObject({ state: 'unack', level: 'H', value: 85 });
  });

  it('logs a clear error for limits that do not nest', async () => {
    await load(alarmNode, flow({ high: '95' }));
    await sleep(20);
    const errors = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20);
    expect(errors.map((a: unknown[]) => (a[0] as { msg: string }).msg).join('\n')).toMatch(/limits must increase/);
  });
});

describe('alarm example flow', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('imports and runs: a low level raises LL after the 3 s on-delay, the list button answers, the simulation is tracked', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const example = require('../../../examples/Alarm handling with acknowledge.json') as FlowNode[];
    const alarm = example.find((n) => n.type === 'plantwire-alarm')!;
    (alarm.wires as string[][])[0].push('probe');
    const core = ['common/20-inject.js', 'function/10-function.js', 'common/21-debug.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await load([...core, alarmNode], [...example, { id: 'probe', type: 'helper', z: alarm.z as string }]);
    const probe = helper.getNode('probe');
    const raised = new Promise<Record<string, unknown>>((resolve) =>
      probe.on('input', (m: Record<string, unknown>) => { if (m.topic === 'demo/level') resolve(m); }),
    );
    helper.getNode(alarm.id).receive({ topic: 'demo/level', payload: 5 });
    expect(await raised).toMatchObject({ priority: 'high', payload: { state: 'unack', level: 'LL', value: 5 } });
    const list = new Promise<Record<string, unknown>>((resolve) =>
      probe.on('input', (m: Record<string, unknown>) => { if (m.topic === 'alarms') resolve(m); }),
    );
    helper.getNode('pwalm.list').receive({});
    expect(((await list).payload as Array<{ tag: string }>).map((x) => x.tag)).toContain('demo/level');
    // The simulated tank level arrives every second, so its tag is known to the alarm node.
    await sleep(300);
    expect(helper.getNode(alarm.id).context().get('alarms')).toHaveProperty(['tank1/level']);
  });
});
