/**
 * The analytics nodes with a synchronous input path (stats, deadband, rate, resample, scale,
 * anomaly) mark a message done only when something observes it: a Complete node in the flows,
 * an onComplete hook, metrics logging, or `plantwireAlwaysDone` in the settings
 * (nodes/shared/completion.ts). These tests count the runtime's completions of the node under
 * test (its Node.prototype._complete) and check what each observer receives.
 */
import { helper, load, nextMessages, sleep, startServer, stop, type FlowNode, type Msg, type TestNode } from '../../helpers/red';
import statsNode = require('../../../nodes/analytics/stats');
import deadbandNode = require('../../../nodes/analytics/deadband');
import rateNode = require('../../../nodes/analytics/rate');
import resampleNode = require('../../../nodes/analytics/resample');
import scaleNode = require('../../../nodes/analytics/scale');
import anomalyNode = require('../../../nodes/analytics/anomaly');
import type { NodeAPI } from '../../../nodes/shared/red';

// Node-RED's own modules, as the runtime under test loads them (the same instances in this file).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const util = require('@node-red/util') as {
  hooks: { add(id: string, fn: (ev: { msg: Msg; node: { id: string } }) => void): void; remove(id: string): void };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const NodeProto = require('@node-red/runtime/lib/nodes/Node').prototype as { _complete(msg: Msg, err?: Error): void };

/** What RED.log.metric() answers the nodes under test (whether a log handler takes metrics). */
let metricsOn = false;

/**
 * The test helper's node API has no `hooks` (a real runtime's has, RED.hooks since Node-RED 2):
 * give the node module the runtime's own, as Node-RED does; and a RED.log.metric() the tests set.
 */
const withHooks = (register: (RED: NodeAPI) => void) => (RED: NodeAPI) => {
  (RED as unknown as { hooks: unknown }).hooks = util.hooks;
  (RED.log as unknown as { metric: () => boolean }).metric = () => metricsOn;
  return register(RED);
};

type Register = (RED: NodeAPI) => void;
const kinds = ([
  ['stats', statsNode as Register, { id: 'n', type: 'plantwire-stats', window: 'count', size: '3', emit: 'sample', stats: ['mean'] }],
  ['deadband', deadbandNode as Register, { id: 'n', type: 'plantwire-deadband', mode: 'absolute', deadband: '1', heartbeat: '0' }],
  ['rate', rateNode as Register, { id: 'n', type: 'plantwire-rate', mode: 'rate', per: 's', rollover: '65536' }],
  ['resample', resampleNode as Register, { id: 'n', type: 'plantwire-resample', interval: '10', aggregate: 'mean', fill: 'none' }],
  ['scale', scaleNode as Register, { id: 'n', type: 'plantwire-scale', inLow: '4', inHigh: '20', outLow: '0', outHigh: '10' }],
  ['anomaly', anomalyNode as Register, { id: 'n', type: 'plantwire-anomaly', method: 'zscore', window: '10', threshold: '3', warmup: '4' }],
] as Array<[string, Register, FlowNode]>).map(([name, reg, def]): [string, Register, FlowNode] => [name, reg, { ...def, wires: [['out']] }]);

async function waitFor(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/** Completions the runtime records for node `n` (its Node.prototype._complete, with or without error). */
function completionsOfN(spy: jest.SpyInstance): Msg[] {
  return spy.mock.calls.filter((_c, i) => (spy.mock.contexts[i] as { id: string }).id === 'n').map((c) => c[0] as Msg);
}

/** Sends `count` plain samples of one tag, 1 s apart in event time from `t0`, and waits for them to be handled. */
async function feed(n: TestNode, count: number, t0: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    ids.push(id);
    n.receive({ _msgid: id, topic: 'x', payload: 10 + (i % 2) * 5, timestamp: t0 + i * 1000 });
  }
  await sleep(50);
  return ids;
}

describe('completion of analytics messages', () => {
  let spy: jest.SpyInstance;
  beforeEach(async () => {
    await startServer();
    spy = jest.spyOn(NodeProto, '_complete');
  });
  afterEach(async () => {
    spy.mockRestore();
    util.hooks.remove('onComplete.plantwire-test');
    await stop();
  });

  it.each(kinds)('%s: a Complete node in the flow receives every message the node handled', async (_name, reg, def) => {
    await load(withHooks(reg), [def, { id: 'out', type: 'helper' }, { id: 'cmp', type: 'complete', scope: ['n'], wires: [['ok']] }, { id: 'ok', type: 'helper' }]);
    const done = nextMessages(helper.getNode('ok'), 6);
    const ids = await feed(helper.getNode('n'), 6, 1_700_000_000_000, 'c');
    expect((await done).map((m) => m._msgid)).toEqual(ids);
    expect(completionsOfN(spy).map((m) => m._msgid)).toEqual(ids);
  });

  it.each(kinds)('%s: with nothing observing it, the node passes its results on without the runtime completion', async (_name, reg, def) => {
    await load(withHooks(reg), [def, { id: 'out', type: 'helper' }]);
    const out: Msg[] = [];
    helper.getNode('out').on('input', (m: Msg) => out.push(m));
    // 12 samples 1 s apart: resample's 10 s bucket closes too.
    await feed(helper.getNode('n'), 12, 1_700_000_000_000, 'q');
    expect(completionsOfN(spy)).toEqual([]);
    // The node still did its work (resample closes one bucket of the series; the others answer every sample or the changes).
    expect(out.length).toBeGreaterThan(0);
  });

  it('an onComplete hook added while the flow runs sees every message from a second later on, and none are completed once it is removed', async () => {
    await load(withHooks(statsNode as Register), [kinds[0][2], { id: 'out', type: 'helper' }]);
    const n = helper.getNode('n');
    await feed(n, 3, 1_700_000_000_000, 'before');
    expect(completionsOfN(spy)).toEqual([]);
    const seen: string[] = [];
    util.hooks.add('onComplete.plantwire-test', (ev) => {
      if (ev.node.id === 'n') seen.push(ev.msg._msgid);
    });
    // The watch looks at hooks once a second: probe until the hook sees a message (5 s at most).
    let t = 1_700_000_010_000;
    for (let i = 0; seen.length === 0 && i < 50; i++) await feed(n, 1, (t += 1000), `probe${i}`);
    expect(seen.length).toBe(1);
    const ids = await feed(n, 4, (t += 1000), 'hooked');
    expect(seen.slice(1)).toEqual(ids);
    util.hooks.remove('onComplete.plantwire-test');
    const before = completionsOfN(spy).length;
    let last = before;
    for (let i = 0; i < 50; i++) {
      await feed(n, 1, (t += 1000), `gone${i}`);
      const now = completionsOfN(spy).length;
      if (now === last) break;
      last = now;
    }
    const settled = completionsOfN(spy).length;
    await feed(n, 3, (t += 1000), 'after');
    expect(completionsOfN(spy).length).toBe(settled);
  });

  it('a Complete node deployed later (modified nodes only, the node kept running) receives the messages after the deploy', async () => {
    // A disabled Complete node observes nothing (and has the test helper load the node type).
    const base: FlowNode[] = [
      { id: 'tab', type: 'tab', label: 't' },
      { ...kinds[0][2], z: 'tab' },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'off', type: 'complete', scope: ['n'], d: true, z: 'tab', wires: [] },
    ];
    await load(withHooks(statsNode as Register), base);
    const n = helper.getNode('n');
    await feed(n, 2, 1_700_000_000_000, 'early');
    expect(completionsOfN(spy)).toEqual([]);
    // The runtime's own deploy of modified nodes (helper.setFlows waits for an event that this
    // deploy has already sent by the time it listens).
    await (helper as unknown as { _redNodes: { setFlows(f: unknown, c: unknown, t: string): Promise<unknown> } })._redNodes.setFlows(
      [...base, { id: 'cmp', type: 'complete', scope: ['n'], z: 'tab', wires: [['ok']] }, { id: 'ok', type: 'helper', z: 'tab' }],
      {},
      'nodes',
    );
    await waitFor(() => !!helper.getNode('ok'));
    expect(helper.getNode('n')).toBe(n); // not restarted: only the Complete node and its helper were added
    const done = nextMessages(helper.getNode('ok'), 3);
    const ids = await feed(n, 3, 1_700_000_010_000, 'late');
    expect((await done).map((m) => m._msgid)).toEqual(ids);
  });

  it('with metrics logging on, every message is completed (the "done" metric is logged)', async () => {
    metricsOn = true;
    try {
      await load(withHooks(statsNode as Register), [kinds[0][2], { id: 'out', type: 'helper' }]);
      const ids = await feed(helper.getNode('n'), 4, 1_700_000_000_000, 'm');
      expect(completionsOfN(spy).map((m) => m._msgid)).toEqual(ids);
    } finally {
      metricsOn = false;
    }
  });

  it('with plantwireAlwaysDone in the settings, every message is completed', async () => {
    helper.settings({ plantwireAlwaysDone: true } as never);
    try {
      await load(withHooks(statsNode as Register), [kinds[0][2], { id: 'out', type: 'helper' }]);
      const ids = await feed(helper.getNode('n'), 4, 1_700_000_000_000, 'always');
      expect(completionsOfN(spy).map((m) => m._msgid)).toEqual(ids);
    } finally {
      helper.settings({ plantwireAlwaysDone: false } as never);
    }
  });

  it('a refused message reaches Catch and the runtime completion (with its error) even with nothing observing success', async () => {
    await load(withHooks(statsNode as Register), [kinds[0][2], { id: 'out', type: 'helper' }, { id: 'c', type: 'catch', scope: ['n'], uncaught: false, wires: [['err']] }, { id: 'err', type: 'helper' }]);
    const caught = nextMessages(helper.getNode('err'), 1);
    helper.getNode('n').receive({ _msgid: 'bad', topic: 'x', payload: 'not a number' });
    const [m] = await caught;
    expect(m._msgid).toBe('bad');
    expect(m.error.message).toMatch(/number|numeric|value/i);
    const calls = spy.mock.calls.filter((_c, i) => (spy.mock.contexts[i] as { id: string }).id === 'n');
    expect(calls.map((c) => [(c[0] as Msg)._msgid, c[1] instanceof Error])).toEqual([['bad', true]]);
  });
});
