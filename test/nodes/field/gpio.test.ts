import fs = require('fs');
import os = require('os');
import path = require('path');
import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type FlowNode, type Msg, type TestNode } from '../../helpers/red';
import { until } from '../modbus/ports';
import { simulatedGpio } from '../../../nodes/field/gpio-bus';
import gpioIn = require('../../../nodes/field/gpio-in');
import gpioOut = require('../../../nodes/field/gpio-out');

const errorsLogged = () =>
  helper
    .log()
    .args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20)
    .map((a: unknown[]) => String((a[0] as { msg: unknown }).msg));

/** n pulses on a simulated pin: counted at once by an input without debounce. */
function pulses(pin: number, n: number): void {
  for (let i = 0; i < n; i++) {
    simulatedGpio.set(pin, 1);
    simulatedGpio.set(pin, 0);
  }
}

/** Until node `id` has its line open (count mode then shows its total), after its saved total was read. */
async function lineOpen(id: string): Promise<TestNode> {
  const g: TestNode = helper.getNode(id);
  await until(
    () => g.status.getCalls().some((c: { thisValue: unknown; args: Array<{ text?: string }> }) => c.thisValue === g && c.args[0]?.text === 'gpio-in.status.count'),
    `GPIO line of ${id} to open`,
  );
  // A report needs time since the line opened for its rate (milliseconds).
  await sleep(5);
  return g;
}

/** The count report that `g` sends when asked (any message), instead of waiting for its timer. */
async function report(g: TestNode): Promise<Msg> {
  const got = nextMessages(helper.getNode('out'), 1, 2000);
  g.receive({});
  return (await got)[0];
}

/**
 * Starts `flow` (its gpio-in node `g` in count mode), waits for the line, makes `n` pulses on `pin`
 * and returns the node and the count report it sends when asked.
 */
async function loadAndPulse(modules: unknown[], flow: FlowNode[], pin: number, n: number): Promise<{ g: TestNode; msg: Msg }> {
  await load(modules, flow);
  const g: TestNode = await lineOpen('g');
  pulses(pin, n);
  return { g, msg: await report(g) };
}

/**
 * Stops the flows as a Node-RED restart does, keeping every node context (the helper's unload
 * wipes them, as a fresh test wants; a restart must not).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function stopKeepingContext(ctx: any): Promise<void> {
  const clean = ctx.clean;
  ctx.clean = () => Promise.resolve();
  await helper.unload();
  ctx.clean = clean;
}

describe('plantwire-gpio-in node', () => {
  beforeEach(async () => {
    simulatedGpio.reset();
    await startServer();
  });
  afterEach(stop);

  it('state mode: sends the start state, then debounced changes as single samples', async () => {
    await load(gpioIn, [
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '4', edge: 'both', debounce: '20', activeLow: true, mode: 'state', tag: 'door', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const out = helper.getNode('out');
    const all = collect(out);
    await sleep(300); // the start state goes out once downstream nodes have started
    // pin low at start with activeLow: active
    simulatedGpio.set(4, 1);
    await sleep(3);
    simulatedGpio.set(4, 0); // bounce back within the debounce time
    await sleep(3);
    simulatedGpio.set(4, 1);
    // The change goes out once the level held for 20 ms (a timer, late on a loaded machine); a
    // bounce that got through would have come first.
    await until(() => all.length >= 2, 'the debounced change', 2000);
    await sleep(40);
    expect(all.map((m) => [m.topic, m.payload, m.quality])).toEqual([
      ['door', true, 'good'],
      ['door', false, 'good'],
    ]);
    expect(typeof all[1].timestamp).toBe('number');
  });

  it('count mode: batches of total and rate, total kept across a Node-RED restart (file context store), reset by msg.reset', async () => {
    // The total lives in node context; with a persistent store (localfilesystem) it survives a restart.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ctx = (helper as any)._context;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-ctx-'));
    const fileStore = { contextStorage: { default: { module: 'localfilesystem', config: { dir, flushInterval: 0 } } } };
    // Runs after the helper initialised the runtime and before it starts the flows, as Node-RED
    // loads its context stores before starting flows.
    const withFileStore = () => {
      ctx.init(fileStore);
      return ctx.load();
    };
    const flow = [
      // Reports when asked (a timer of 10 min never fires here): a loaded machine cannot split the pulses over two reports.
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '6', edge: 'rising', debounce: '0', mode: 'count', interval: '600000', tag: 'fm1', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    const { msg: first } = await loadAndPulse([gpioIn, withFileStore], flow, 6, 7);
    expect(first.topic).toBe('fm1');
    expect(first.payload['fm1/count']).toBe(7);
    expect(first.payload['fm1/rate']).toBeGreaterThan(0);
    expect(first.units).toEqual({ 'fm1/count': 'pulses', 'fm1/rate': 'pulses/s' });

    // Restart: stop the flows, close the context store (it flushes to disk), start again from disk.
    await stopKeepingContext(ctx);
    await ctx.close();
    expect(fs.readdirSync(path.join(dir, 'context')).length).toBeGreaterThan(0);
    const { g, msg: after } = await loadAndPulse([gpioIn, withFileStore], flow, 6, 3);
    expect(after.payload['fm1/count']).toBe(10);

    const got = nextMessages(helper.getNode('out'), 1, 2000);
    g.receive({ reset: true });
    expect((await got)[0].payload['fm1/count']).toBe(0);
    await ctx.close();
    ctx.init({}); // back to the helper's memory store before the directory goes
    await ctx.load();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('count mode: the total kept in a file context store without cache (asynchronous only), read back before counting', async () => {
    // Node-RED's file store with its cache off answers only through callbacks (a synchronous get throws).
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ctx = (helper as any)._context;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-ctx-'));
    const withFileStore = () => {
      ctx.init({ contextStorage: { default: { module: 'localfilesystem', config: { dir, cache: false } } } });
      return ctx.load();
    };
    const flow = [
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '7', edge: 'rising', debounce: '0', mode: 'count', interval: '600000', tag: 'fm2', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ];
    // Pulses count only once the saved total is read back and the line opens.
    const { msg: first } = await loadAndPulse([gpioIn, withFileStore], flow, 7, 5);
    expect(first.payload['fm2/count']).toBe(5);
    expect(errorsLogged()).toEqual([]);
    // Restart, as in the test above; the store writes its files itself (no cache to flush).
    await stopKeepingContext(ctx);
    await sleep(100);
    await ctx.close();
    const { msg: after } = await loadAndPulse([gpioIn, withFileStore], flow, 7, 2);
    expect(after.payload['fm2/count']).toBe(7);
    await ctx.close();
    ctx.init({});
    await ctx.load();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('simulated backend generates pulses at the configured frequency for demos', async () => {
    await load(gpioIn, [
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '7', edge: 'rising', mode: 'count', interval: '400', simFrequency: '50', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const [, second] = await nextMessages(helper.getNode('out'), 2, 3000);
    expect(second.payload['gpio7/count']).toBeGreaterThan(5);
    expect(second.payload['gpio7/rate']).toBeGreaterThan(0);
  });

  it('refuses a bad msg.reset through done(err) and keeps running', async () => {
    await load(gpioIn, [
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '8', mode: 'state', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const g: TestNode = helper.getNode('g');
    await sleep(20);
    const err = nextError(g);
    g.receive({ reset: 'yes' });
    expect(String((await err).error)).toMatch(/msg.reset must be true/);
    const got = nextMessages(helper.getNode('out'));
    g.receive({ payload: 'read' });
    expect((await got)[0]).toMatchObject({ topic: 'gpio8', payload: false });
  });

  it('hardware backend without /sys/class/gpio: red status, one error, retries, no crash', async () => {
    const probe = jest.spyOn(fs, 'existsSync');
    await load(gpioIn, [{ id: 'g', type: 'plantwire-gpio-in', backend: 'hardware', pin: '17', mode: 'state', wires: [['out']] }, { id: 'out', type: 'helper' }]);
    const g: TestNode = helper.getNode('g');
    await sleep(2200);
    expect(probe.mock.calls.filter((c) => c[0] === '/sys/class/gpio/export').length).toBeGreaterThanOrEqual(2);
    probe.mockRestore();
    expect(g.status.lastCall.args[0]).toMatchObject({ fill: 'red', shape: 'ring' });
    expect(errorsLogged().filter((m) => /\/sys\/class\/gpio does not exist/.test(m))).toHaveLength(1);
    const err = nextError(g);
    g.receive({ payload: 1 });
    expect(String((await err).error)).toMatch(/not available/);
  });

  it.each([[{ pin: '' }, /pin is required/], [{ pin: '5', edge: 'up' }, /edge must be/], [{ pin: '5', mode: 'count', interval: '5' }, /report interval/]])(
    'refuses bad settings %p',
    async (bad, re) => {
      await load(gpioIn, [{ id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', ...bad, wires: [] }]);
      await sleep(20);
      expect(errorsLogged().join('\n')).toMatch(re);
    },
  );
});

describe('plantwire-gpio-out node', () => {
  beforeEach(async () => {
    simulatedGpio.reset();
    await startServer();
  });
  afterEach(stop);

  const flow = (extra: Record<string, unknown> = {}) => [
    { id: 'o', type: 'plantwire-gpio-out', backend: 'simulated', pin: '22', initial: '0', activeLow: false, ...extra, wires: [] },
  ];

  it('sets the initial level, follows payloads and honours activeLow', async () => {
    await load(gpioOut, flow({ activeLow: true, initial: '0' }));
    await sleep(20);
    expect(simulatedGpio.get(22)).toBe(1); // inactive with activeLow is high
    const o: TestNode = helper.getNode('o');
    o.receive({ payload: 'on' });
    await sleep(10);
    expect(simulatedGpio.get(22)).toBe(0);
    o.receive({ payload: false });
    await sleep(10);
    expect(simulatedGpio.get(22)).toBe(1);
  });

  it('takes initial as "1", 1 or true, and refuses anything else', async () => {
    await load(gpioOut, [
      { id: 'a', type: 'plantwire-gpio-out', backend: 'simulated', pin: '30', initial: '1', wires: [] },
      { id: 'b', type: 'plantwire-gpio-out', backend: 'simulated', pin: '31', initial: true, wires: [] },
      { id: 'c', type: 'plantwire-gpio-out', backend: 'simulated', pin: '32', initial: 'maybe', wires: [] },
    ]);
    await sleep(20);
    expect([simulatedGpio.get(30), simulatedGpio.get(31), simulatedGpio.get(32)]).toEqual([1, 1, 0]);
    expect(errorsLogged().join('\n')).toMatch(/initial must be one of 0, 1/);
  });

  it('pulses for msg.pulse ms, and for the configured pulse on a true payload', async () => {
    await load(gpioOut, flow({ pulse: '60' }));
    const o: TestNode = helper.getNode('o');
    await sleep(20);
    o.receive({ payload: true });
    await sleep(15);
    expect(simulatedGpio.get(22)).toBe(1);
    await sleep(100);
    expect(simulatedGpio.get(22)).toBe(0);
    o.receive({ pulse: 150 });
    await sleep(90);
    expect(simulatedGpio.get(22)).toBe(1);
    await sleep(120);
    expect(simulatedGpio.get(22)).toBe(0);
  });

  it('drives a simulated gpio-in on the same pin (loopback for demos)', async () => {
    await load([gpioIn, gpioOut], [
      ...flow(),
      { id: 'g', type: 'plantwire-gpio-in', backend: 'simulated', pin: '22', edge: 'both', mode: 'state', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const got: Msg[] = collect(helper.getNode('out'));
    await sleep(300);
    helper.getNode('o').receive({ payload: 1 });
    await sleep(20);
    expect(got.map((m) => m.payload)).toEqual([false, true]);
  });

  it.each([['banana'], [NaN], [null], [{ a: 1 }], [[1, 0]], [Infinity]])('refuses payload %p through done(err) and keeps running', async (bad) => {
    await load(gpioOut, flow());
    const o: TestNode = helper.getNode('o');
    await sleep(20);
    const err = nextError(o);
    o.receive({ payload: bad });
    expect(String((await err).error)).toMatch(/msg.payload must be true\/false/);
    o.receive({ payload: 1 });
    await sleep(10);
    expect(simulatedGpio.get(22)).toBe(1);
  });

  it('refuses a bad msg.pulse', async () => {
    await load(gpioOut, flow());
    const o: TestNode = helper.getNode('o');
    await sleep(20);
    const err = nextError(o);
    o.receive({ pulse: -3 });
    expect(String((await err).error)).toMatch(/msg.pulse must be a duration/);
  });

  it('hardware backend on this machine: red status and one error; messages fail clearly', async () => {
    await load(gpioOut, flow({ backend: 'hardware' }));
    const o: TestNode = helper.getNode('o');
    await sleep(100);
    expect(o.status.lastCall.args[0]).toMatchObject({ fill: 'red' });
    const err = nextError(o);
    o.receive({ payload: true });
    expect(String((await err).error)).toMatch(/GPIO 22 is not available/);
    expect(errorsLogged().filter((m) => /sys\/class\/gpio/.test(m))).toHaveLength(1);
  });
});
