/**
 * Faults against a real peer (pymodbus over TCP), through plantwire-modbus-read in Node-RED:
 * - the peer is killed mid-poll: every tag goes on with quality bad and its last value, the status
 *   turns red, and when the peer is back the node reads good values again without a redeploy;
 * - a unit that never answers next to one that does on the same connection: the good unit keeps
 *   its poll rate (its polls are counted over a window, against a window without the dead unit).
 */
import { helper, load, startServer, stop, type FlowNode, type Msg, type TestNode } from '../helpers/red';
import { startPymodbus, type PymodbusPeer } from './lib/peers';
import { freePort, sleep } from './lib/procs';
import { typedMap } from './lib/modbus-values';
import { lastStatus, until } from './lib/red-status';
import connectionNode = require('../../nodes/modbus/modbus-connection');
import readNode = require('../../nodes/modbus/modbus-read');

const nodes = [connectionNode, readNode];
const get = (id: string): TestNode => helper.getNode(id);
const map = typedMap('holding', 0, 0);
const tags = map.tags.slice(0, 30);
const expected = Object.fromEntries(tags.map((t) => [t.name, map.expected[t.name]]));

let peer: PymodbusPeer | undefined;

beforeAll(async () => {
  await startServer();
});

afterAll(async () => {
  await stop();
  await peer?.stop();
});

afterEach(async () => {
  await helper.unload();
  await peer?.stop();
  peer = undefined;
});

function collector(id: string): Msg[] {
  const got: Msg[] = [];
  get(id).on('input', (m: Msg) => got.push(m));
  return got;
}

const allGood = (m: Msg) => Object.values(m.quality ?? {}).every((q) => q === 'good') && tags.every((t) => Object.is(m.payload[t.name], expected[t.name]));
const allBad = (m: Msg) => tags.every((t) => m.quality?.[t.name] === 'bad');

describe('the peer killed and restarted mid-poll', () => {
  it('goes on with bad quality and last values, then recovers by itself', async () => {
    const port = await freePort();
    peer = await startPymodbus({ units: [1], values: map.peer }, { tcpPort: port });
    const flow: FlowNode[] = [
      { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 500 },
      { id: 'read', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 200, output: 'batch', tags, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    await load(nodes, flow);
    const got = collector('out');
    await until(() => got.filter(allGood).length >= 3, 'three good polls');
    expect(lastStatus(get('read'))?.fill).toBe('green');

    await peer.proc.stop('SIGKILL');
    await peer.stop(); // already gone: removes its map file
    const killedAt = got.length;
    await until(() => got.slice(killedAt).some(allBad), 'a poll with every tag bad', 30000);
    const bad = got.slice(killedAt).find(allBad) as Msg;
    // the last values are kept, marked bad, never dropped or zeroed
    expect(bad.payload).toEqual(expected);
    await until(() => lastStatus(get('read'))?.fill === 'red', 'a red status');
    expect(lastStatus(get('read'))?.shape).toBe('ring');

    peer = await startPymodbus({ units: [1], values: map.peer }, { tcpPort: port });
    const restartedAt = got.length;
    await until(() => got.slice(restartedAt).some(allGood), 'a good poll after the restart, without a redeploy', 60000);
    await until(() => lastStatus(get('read'))?.fill === 'green', 'a green status again');
  });
});

describe('a unit that never answers next to one that does', () => {
  it('leaves the good unit its poll rate on the same connection', async () => {
    const port = await freePort();
    // unit 9 is not held by the peer: pymodbus ignores requests to it (no answer at all)
    peer = await startPymodbus({ units: [1], values: map.peer }, { tcpPort: port });
    const conn = { id: 'conn', type: 'plantwire-modbus-connection', transport: 'tcp', host: '127.0.0.1', port, timeout: 1000 };
    const good = { id: 'good', type: 'plantwire-modbus-read', connection: 'conn', unitId: 1, interval: 200, output: 'batch', tags, wires: [['goodOut']] };
    const dead = { id: 'dead', type: 'plantwire-modbus-read', connection: 'conn', unitId: 9, interval: 200, output: 'batch', tags, wires: [['deadOut']] };
    const helpers = [{ id: 'goodOut', type: 'helper' }, { id: 'deadOut', type: 'helper' }];
    const WINDOW = 6000;

    // Control window: the good unit alone.
    await load(nodes, [conn, good, ...helpers] as FlowNode[]);
    let goodMsgs = collector('goodOut');
    await until(() => goodMsgs.length >= 2, 'the good unit to poll');
    let from = goodMsgs.length;
    await sleep(WINDOW);
    const alone = goodMsgs.slice(from).filter(allGood).length;
    await helper.unload();

    // The same window with a dead unit polled as often on the same connection.
    await load(nodes, [conn, good, dead, ...helpers] as FlowNode[]);
    goodMsgs = collector('goodOut');
    const deadMsgs = collector('deadOut');
    await until(() => goodMsgs.length >= 2 && deadMsgs.length >= 1, 'both units to be polled', 30000);
    from = goodMsgs.length;
    const deadFrom = deadMsgs.length;
    await sleep(WINDOW);
    const besideDead = goodMsgs.slice(from);
    const goodPolls = besideDead.filter(allGood).length;

    // Every poll of the good unit was good; the dead unit's tags are bad; statuses say so.
    expect(besideDead.filter((m) => !allGood(m))).toEqual([]);
    expect(deadMsgs.slice(deadFrom).length).toBeGreaterThan(0);
    expect(deadMsgs.every((m) => tags.every((t) => m.quality?.[t.name] === 'bad'))).toBe(true);
    expect(lastStatus(get('dead'))?.fill).toBe('red');
    expect(lastStatus(get('good'))?.fill).toBe('green');
    // Without a per-unit breaker each dead poll holds the line for a 1 s timeout and the good unit
    // falls to about one poll a second (a sixth of its rate). Each breaker probe still holds the
    // line for one timeout, so the bound is 40 %: far above the unprotected sixth.
    expect(alone).toBeGreaterThan(5);
    expect(goodPolls).toBeGreaterThanOrEqual(Math.ceil(alone * 0.4));

    // Later, with the breaker open, the probes come further apart (backoff 2 s, 4 s, 8 s ... with
    // jitter): over the next two windows the dead unit holds the line for one or two timeouts.
    from = goodMsgs.length;
    await sleep(2 * WINDOW);
    const later = goodMsgs.slice(from);
    expect(later.filter((m) => !allGood(m))).toEqual([]);
    console.log(
      `good unit polls in ${WINDOW} ms: alone ${alone}, beside a dead unit ${goodPolls} (first window), ` +
        `${(later.length / 2).toFixed(1)} a window over the next two`,
    );
    expect(later.length).toBeGreaterThanOrEqual(Math.ceil(2 * alone * 0.7));
  });
});
