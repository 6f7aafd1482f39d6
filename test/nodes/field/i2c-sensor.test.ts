import fs = require('fs');
import { collect, helper, load, nextMessages, sleep, startServer, stop, type TestNode } from '../../helpers/red';
import { resetSimulatedI2cBuses, simulatedI2cBus } from '../../../nodes/field/i2c-bus';
import sensorNode = require('../../../nodes/field/i2c-sensor');
import { until } from '../modbus/ports';

function statuses(node: TestNode): { fill?: string; shape?: string; text?: string }[] {
  const got: { fill?: string; text?: string }[] = [];
  const orig = node.status.bind(node);
  node.status = (s: { fill?: string; text?: string }) => {
    got.push(s);
    return orig(s);
  };
  return got;
}

const errorsLogged = () =>
  helper
    .log()
    .args.filter((a: unknown[]) => (a[0] as { level: number }).level === 20)
    .map((a: unknown[]) => String((a[0] as { msg: unknown }).msg));

describe('plantwire-i2c-sensor node', () => {
  beforeEach(async () => {
    resetSimulatedI2cBuses();
    await startServer();
  });
  afterEach(stop);

  it('emits a BME280 batch with units from the simulated backend', async () => {
    await load(sensorNode, [
      { id: 's', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '1', address: '0x76', device: 'bme280', interval: '200', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const [msg] = await nextMessages(helper.getNode('out'));
    expect(Object.keys(msg.payload).sort()).toEqual(['humidity', 'pressure', 'temperature']);
    expect(msg.units).toEqual({ temperature: '°C', humidity: '%RH', pressure: 'hPa' });
    expect(msg.quality).toEqual({ temperature: 'good', humidity: 'good', pressure: 'good' });
    expect(msg.payload.temperature).toBeGreaterThan(15);
    expect(msg.payload.pressure).toBeGreaterThan(1000);
    expect(typeof msg.timestamp).toBe('number');
  });

  it('prefixes tags and reads an ADS1115 loop in mA on request (interval 0)', async () => {
    await load(sensorNode, [
      {
        id: 's', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '2', address: '0x48', device: 'ads1115', interval: '0',
        prefix: 'tank1', adsChannels: '0,1', adsGain: '6.144', adsRate: '860', adsShunt: '250', wires: [['out']],
      },
      { id: 'out', type: 'helper' },
    ]);
    const out = helper.getNode('out');
    const all = collect(out);
    await sleep(300);
    expect(all).toHaveLength(0);
    const got = nextMessages(out);
    helper.getNode('s').receive({ payload: 'read' });
    const [msg] = await got;
    expect(msg.topic).toBe('tank1');
    expect(Object.keys(msg.payload)).toEqual(['tank1/ain0', 'tank1/ain1']);
    expect(msg.units['tank1/ain0']).toBe('mA');
    expect(msg.payload['tank1/ain0']).toBeGreaterThanOrEqual(4);
    expect(msg.payload['tank1/ain0']).toBeLessThanOrEqual(20);
  });

  it('a chip that stops answering gives bad quality, a red status and one error', async () => {
    await load(sensorNode, [
      { id: 's', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '3', address: '0x44', device: 'sht3x', interval: '150', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const out = helper.getNode('out');
    const st = statuses(helper.getNode('s'));
    await nextMessages(out);
    const model = simulatedI2cBus(3).device(0x44);
    if (!model) throw new Error('no simulated SHT3x');
    model.nack = true;
    const [bad] = await nextMessages(out, 1, 3000);
    expect(bad.quality).toEqual({ temperature: 'bad', humidity: 'bad' });
    expect(typeof bad.payload.temperature).toBe('number'); // the last value, marked bad
    await sleep(1500);
    expect(st.some((s) => s.fill === 'red')).toBe(true);
    expect(errorsLogged().filter((m) => /no answer from 0x44/.test(m))).toHaveLength(1);
    // A bad reading of a retry already under way may still arrive first: wait for the good one.
    const got = collect(out);
    model.nack = false;
    await until(() => got.some((m) => m.quality.temperature === 'good'), 'a good reading', 8000);
    expect(got.find((m) => m.quality.temperature === 'good')?.quality).toEqual({ temperature: 'good', humidity: 'good' });
  });

  it('hardware backend on this machine (no /dev/i2c-*): red status, one error, retries, no crash', async () => {
    const probe = jest.spyOn(fs, 'existsSync');
    await load(sensorNode, [
      { id: 's', type: 'plantwire-i2c-sensor', backend: 'hardware', bus: '1', address: '0x76', device: 'bme280', interval: '1000', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const s: TestNode = helper.getNode('s');
    const got = collect(helper.getNode('out'));
    await sleep(2600); // attempts at 0, ~1 s and ~2.6-3 s: backoff from 1 s, doubling
    // The real probe ran more than once: the node retries rather than giving up.
    const probes = probe.mock.calls.filter((c) => c[0] === '/dev/i2c-1').length;
    expect(probes).toBeGreaterThanOrEqual(2);
    expect(probes).toBeLessThanOrEqual(4);
    const last = s.status.lastCall.args[0];
    expect(last).toMatchObject({ fill: 'red', shape: 'ring' });
    expect(last.text).toMatch(/nobus|no I2C bus/);
    const errs = errorsLogged();
    expect(errs.filter((m) => /\/dev\/i2c-1 does not exist/.test(m))).toHaveLength(1);
    expect(got).toHaveLength(0);
    s.receive({ payload: 1 }); // a read request while the bus is missing is harmless
    await sleep(50);
    expect(errorsLogged().filter((m) => /\/dev\/i2c-1/.test(m))).toHaveLength(1);
    probe.mockRestore();
  });

  it.each([
    [{ device: 'bmx999' }, /device must be one of/],
    [{ address: '0x99' }, /7-bit I2C address/],
    [{ interval: '-5' }, /interval/],
    [{ device: 'ads1115', adsChannels: '7' }, /channel "7"/],
    [{ device: 'ina219', inaShunt: '10', inaMaxCurrent: '5' }, /320 mV/],
  ])('refuses bad settings %p with a clear error', async (bad, re) => {
    await load(sensorNode, [{ id: 's', type: 'plantwire-i2c-sensor', backend: 'simulated', bus: '1', device: 'bme280', interval: '1000', ...bad, wires: [] }]);
    await sleep(20);
    expect(errorsLogged().join('\n')).toMatch(re);
  });
});
