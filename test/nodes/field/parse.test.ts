import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type TestNode } from '../../helpers/red';
import parseNode = require('../../../nodes/field/parse');

const PATTERN = '^(?<status>ST|US),(?<mode>GS|NT),(?<weight>[-+]?\\d+(?:\\.\\d+)?)\\s*(?<weight_unit>[a-z]+)$';

const flow = (extra: Record<string, unknown> = {}) => [
  { id: 'p', type: 'plantwire-parse', format: 'regex', pattern: PATTERN, onError: 'bad', ...extra, wires: [['out']] },
  { id: 'out', type: 'helper' },
];

describe('plantwire-parse node', () => {
  beforeEach(startServer);
  afterEach(stop);

  it('turns a weighing-indicator frame into a batch with units, keeping other properties', async () => {
    await load(parseNode, flow());
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('p').receive({ payload: 'ST,GS,+0012.34 kg\r\n', port: '/dev/ttyUSB0' });
    const [msg] = await got;
    expect(msg.payload).toEqual({ status: 'ST', mode: 'GS', weight: 12.34 });
    expect(msg.quality).toEqual({ status: 'good', mode: 'good', weight: 'good' });
    expect(msg.units).toEqual({ weight: 'kg' });
    expect(msg.port).toBe('/dev/ttyUSB0');
    expect(typeof msg.timestamp).toBe('number');
    expect(msg.frame).toBeUndefined();
  });

  it('a malformed frame gives every tag quality bad with the raw frame attached', async () => {
    await load(parseNode, flow());
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('p').receive({ payload: 'ST,GS,+0012.3', timestamp: 1000 });
    const [msg] = await got;
    expect(msg.payload).toEqual({ status: null, mode: null, weight: null });
    expect(msg.quality).toEqual({ status: 'bad', mode: 'bad', weight: 'bad' });
    expect(msg.frame).toBe('ST,GS,+0012.3');
    expect(msg.error).toMatch(/does not match/);
    expect(msg.timestamp).toBe(1000);
  });

  it('with onError "error" a malformed frame is a clear error and nothing is sent', async () => {
    await load(parseNode, flow({ onError: 'error' }));
    const p: TestNode = helper.getNode('p');
    const all = collect(helper.getNode('out'));
    const err = nextError(p);
    p.receive({ payload: 'garbage' });
    expect(String((await err).error)).toMatch(/malformed frame: the frame does not match the pattern: "garbage"/);
    p.receive({ payload: 'US,NT,-1.5 kg' });
    await sleep(30);
    expect(all.map((m) => m.payload.weight)).toEqual([-1.5]);
  });

  it('parses delimited frames with fields from the editor', async () => {
    await load(parseNode, flow({ format: 'delimited', delimiter: ',', fields: [{ name: 'flow', index: 2, unit: 'm3/h' }, { name: 'temp', index: 3, unit: '°C' }] }));
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('p').receive({ payload: Buffer.from('FM,01,12.75,18.2\n') });
    const [msg] = await got;
    expect(msg.payload).toEqual({ flow: 12.75, temp: 18.2 });
    expect(msg.units).toEqual({ flow: 'm3/h', temp: '°C' });
  });

  it('decodes binary frames with the Modbus codec', async () => {
    await load(parseNode, flow({ format: 'binary', fields: [{ name: 'level', offset: 1, type: 'uint16', order: 'BA', scale: 0.01, unit: 'm' }] }));
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('p').receive({ payload: Buffer.from([0xaa, 0x34, 0x12, 0x55]) });
    const [msg] = await got;
    expect(msg.payload.level).toBeCloseTo(46.6, 6); // 0x1234 = 4660
    expect(msg.units).toEqual({ level: 'm' });
  });

  it.each([[42], [null], [{ a: 1 }], [NaN], [Infinity], [undefined], ['x'.repeat(70000)]])(
    'refuses %p through done(err) and keeps running',
    async (bad) => {
      await load(parseNode, flow());
      const p: TestNode = helper.getNode('p');
      const all = collect(helper.getNode('out'));
      const err = nextError(p);
      p.receive({ payload: bad });
      expect(String((await err).error)).toMatch(/must be a frame|larger than/);
      p.receive({ payload: 'ST,GS,1 kg' });
      await sleep(30);
      expect(all).toHaveLength(1);
      expect(all[0].payload.weight).toBe(1);
    },
  );

  it('refuses a bad msg.timestamp', async () => {
    await load(parseNode, flow());
    const p: TestNode = helper.getNode('p');
    const err = nextError(p);
    p.receive({ payload: 'ST,GS,1 kg', timestamp: 'yesterday-ish' });
    expect(String((await err).error)).toMatch(/timestamp/);
  });

  it.each([
    [{ pattern: '(' }, /does not compile/],
    [{ format: 'csv' }, /format must be one of/],
    [{ format: 'delimited', fields: 'not json' }, /fields must be/],
    [{ format: 'binary', fields: [{ name: 'x', offset: 0, type: 'float32', order: 'BA' }] }, /takes byte order/],
  ])('refuses settings %p with a clear error', async (bad, re) => {
    await load(parseNode, flow(bad));
    await sleep(20);
    const errs = helper.log().args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20).map((a: unknown[]) => String((a[0] as { msg: unknown }).msg));
    expect(errs.join('\n')).toMatch(re);
  });
});
