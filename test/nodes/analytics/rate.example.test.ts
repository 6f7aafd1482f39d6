/**
 * The shipped example "Counter to rate and resample" runs on its own: load it as it is (debug nodes
 * swapped for helper nodes) and check what reaches them.
 */
import fs from 'fs';
import path from 'path';
import { helper, load, nextMessages, sleep, startServer, stop, type FlowNode, type Msg } from '../../helpers/red';
import rateNode = require('../../../nodes/analytics/rate');
import resampleNode = require('../../../nodes/analytics/resample');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const functionNode = require('@node-red/nodes/core/function/10-function.js');

const file = path.join(__dirname, '../../../examples/Counter to rate and resample.json');

function exampleFlow(): FlowNode[] {
  const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as FlowNode[];
  return flow.map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper', wires: [] } : n));
}

describe('example: Counter to rate and resample', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('is a flow array whose wires all lead to nodes in it', () => {
    const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<FlowNode & { wires?: string[][] }>;
    const ids = new Set(flow.map((n) => n.id));
    expect(ids.size).toBe(flow.length);
    for (const n of flow) for (const out of n.wires ?? []) for (const id of out) expect(ids.has(id)).toBe(true);
  });

  it('runs alone: each rate is what the counter rose over the time between its readings, and a growing total', async () => {
    await load([injectNode, functionNode, rateNode, resampleNode], exampleFlow());
    const rates = nextMessages(helper.getNode('pwrate.dbgrate'), 4, 15_000);
    const totals = nextMessages(helper.getNode('pwrate.dbgtot'), 3, 15_000);
    const got: Msg[] = await rates;
    for (const m of got) {
      expect(m.topic).toBe('filler1/bottles');
      expect(m.payload).toBeGreaterThan(0);
    }
    // The counter rises by 40 to 60 bottles a tick, wherever it wrapped; a tick's time is what its
    // timestamps say (a loaded machine fires the 1 s inject late, so no bound in wall time holds).
    for (let i = 1; i < got.length; i++) {
      const minutes = ((got[i].timestamp as number) - (got[i - 1].timestamp as number)) / 60_000;
      const bottles = (got[i].payload as number) * minutes;
      expect(bottles).toBeGreaterThanOrEqual(40 - 1e-6);
      expect(bottles).toBeLessThanOrEqual(60 + 1e-6);
    }
    const t = (await totals).map((m) => m.payload as number);
    expect(t[0]).toBe(0);
    expect(t[2]).toBeGreaterThan(t[1]);
    await sleep(10);
  });
});
