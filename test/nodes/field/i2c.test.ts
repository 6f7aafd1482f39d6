import { collect, helper, load, nextError, nextMessages, sleep, startServer, stop, type TestNode } from '../../helpers/red';
import { ByteRegisterModel, resetSimulatedI2cBuses, simulatedI2cBus } from '../../../nodes/field/i2c-bus';
import { Bme280Simulator } from '../../../nodes/field/drivers/bme280';
import i2cNode = require('../../../nodes/field/i2c');

const errorsLogged = () =>
  helper
    .log()
    .args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20)
    .map((a: unknown[]) => String((a[0] as { msg: unknown }).msg));

const flow = (extra: Record<string, unknown> = {}) => [
  { id: 'i', type: 'plantwire-i2c', backend: 'simulated', bus: '1', address: '0x76', op: 'read', register: '0xD0', length: '1', ...extra, wires: [['out']] },
  { id: 'out', type: 'helper' },
];

describe('plantwire-i2c node', () => {
  beforeEach(async () => {
    resetSimulatedI2cBuses();
    await startServer();
  });
  afterEach(stop);

  it('reads a register: the BME280 chip id', async () => {
    simulatedI2cBus(1).attach(0x76, new Bme280Simulator());
    await load(i2cNode, flow());
    await sleep(20);
    const got = nextMessages(helper.getNode('out'));
    helper.getNode('i').receive({ payload: 'go' });
    const [msg] = await got;
    expect(Buffer.isBuffer(msg.payload)).toBe(true);
    expect([...msg.payload]).toEqual([0x60]);
    expect(msg).toMatchObject({ address: 0x76, register: 0xd0 });
  });

  it('writes an array or a Buffer to a register, and msg.register / msg.length override the settings', async () => {
    const ram = new ByteRegisterModel();
    simulatedI2cBus(1).attach(0x50, ram);
    await load(i2cNode, [
      { id: 'w', type: 'plantwire-i2c', backend: 'simulated', bus: '1', address: '0x50', op: 'write', register: '16', wires: [['out']] },
      { id: 'r', type: 'plantwire-i2c', backend: 'simulated', bus: '1', address: '0x50', op: 'read', register: '16', length: '1', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    await sleep(20);
    const out = helper.getNode('out');
    let got = nextMessages(out);
    helper.getNode('w').receive({ payload: [1, 2, 3] });
    await got;
    got = nextMessages(out);
    helper.getNode('w').receive({ payload: Buffer.from([9]), register: '0x20' });
    await got;
    expect([ram.peek(16), ram.peek(17), ram.peek(18), ram.peek(0x20)]).toEqual([1, 2, 3, 9]);
    got = nextMessages(out);
    helper.getNode('r').receive({ length: 3 });
    expect([...(await got)[0].payload]).toEqual([1, 2, 3]);
  });

  it('a device that does not answer fails the message clearly and the node keeps working', async () => {
    await load(i2cNode, flow({ address: '0x77' }));
    const i: TestNode = helper.getNode('i');
    await sleep(20);
    const err = nextError(i);
    i.receive({ payload: 1 });
    expect(String((await err).error)).toMatch(/no answer from 0x77/);
    simulatedI2cBus(1).attach(0x77, new Bme280Simulator());
    const got = nextMessages(helper.getNode('out'));
    i.receive({ payload: 1 });
    expect([...(await got)[0].payload]).toEqual([0x60]);
  });

  it.each([
    [{ payload: 'text' }, /must be a Buffer, an array of bytes/],
    [{ payload: [1, 256] }, /non-bytes/],
    [{ payload: [1.5] }, /non-bytes/],
    [{ payload: null }, /must be a Buffer/],
    [{ payload: NaN }, /must be a Buffer/],
    [{ payload: new Array(40).fill(1) }, /1-32 bytes/],
    [{ payload: [1], register: 'x' }, /msg.register must be a register/],
    [{ payload: [1], register: 300 }, /msg.register must be a register/],
  ])('refuses write %p through done(err)', async (bad, re) => {
    simulatedI2cBus(1).attach(0x50, new ByteRegisterModel());
    await load(i2cNode, flow({ address: '0x50', op: 'write', register: '0' }));
    const i: TestNode = helper.getNode('i');
    const all = collect(helper.getNode('out'));
    await sleep(20);
    const err = nextError(i);
    i.receive(bad);
    expect(String((await err).error)).toMatch(re);
    i.receive({ payload: [7] });
    await sleep(20);
    expect(all).toHaveLength(1);
  });

  it('refuses a bad msg.length on read', async () => {
    simulatedI2cBus(1).attach(0x76, new Bme280Simulator());
    await load(i2cNode, flow());
    const i: TestNode = helper.getNode('i');
    await sleep(20);
    const err = nextError(i);
    i.receive({ length: 0 });
    expect(String((await err).error)).toMatch(/msg.length must be a byte count 1-32/);
  });

  it('hardware backend without /dev/i2c-1: red status, one error, messages fail clearly', async () => {
    await load(i2cNode, flow({ backend: 'hardware' }));
    const i: TestNode = helper.getNode('i');
    await sleep(1500);
    expect(i.status.lastCall.args[0]).toMatchObject({ fill: 'red' });
    expect(errorsLogged().filter((m) => /\/dev\/i2c-1 does not exist/.test(m))).toHaveLength(1);
    const err = nextError(i);
    i.receive({ payload: 1 });
    expect(String((await err).error)).toMatch(/I2C bus 1 is not available/);
  });

  it.each([[{ address: '0x80' }, /7-bit/], [{ register: '0x1FF' }, /register 0-255/], [{ length: '64' }, /1-32/], [{ op: 'poke' }, /operation must be/]])(
    'refuses settings %p',
    async (bad, re) => {
      await load(i2cNode, flow(bad));
      await sleep(20);
      expect(errorsLogged().join('\n')).toMatch(re);
    },
  );
});
