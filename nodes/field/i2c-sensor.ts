/** plantwire-i2c-sensor: polls a BME280, SHT3x, ADS1115 or INA219 and emits one batch per read. */
import { choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { batchMessage, type Sample } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { DEVICE_NAMES, deviceSpec, type DeviceName } from './drivers';
import { sleep, type Reading } from './drivers/driver';
import { formatAddress, openI2cBus, parseAddress, simulatedI2cBus, type Backend } from './i2c-bus';
import { SensorPoller } from './sensor-poller';

interface I2cSensorDef extends NodeDef {
  backend: string;
  bus: string;
  address: string;
  device: string;
  interval: string;
  prefix: string;
  adsChannels: string;
  adsGain: string;
  adsRate: string;
  adsShunt: string;
  inaShunt: string;
  inaMaxCurrent: string;
}

export = function register(RED: NodeAPI): void {
  function I2cSensorNode(this: Node, config: I2cSensorDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    let poller: SensorPoller;
    let busNumber: number;
    let backend: Backend;
    try {
      backend = choiceSetting(config.backend, 'backend', ['hardware', 'simulated'] as const, 'simulated');
      busNumber = numberSetting(config.bus, 'bus', 1);
      if (!Number.isInteger(busNumber) || busNumber < 0 || busNumber > 255) throw new ConfigError('bus must be an integer 0-255');
      const device = choiceSetting(config.device, 'device', DEVICE_NAMES, 'bme280') as DeviceName;
      const spec = deviceSpec(device);
      const address = config.address ? parseAddress(config.address) : spec.addresses[0];
      const interval = numberSetting(config.interval, 'interval', 5000);
      if (interval !== 0 && (interval < 100 || interval > 86_400_000)) throw new ConfigError('interval must be 0 or 100 ms to 24 h');
      const options = spec.options({
        channels: config.adsChannels, gain: config.adsGain, rate: config.adsRate, shunt: device === 'ina219' ? config.inaShunt : config.adsShunt,
        maxCurrent: config.inaMaxCurrent,
      });
      const prefix = (config.prefix ?? '').trim();
      const tagOf = (r: Reading) => (prefix ? `${prefix}/${r.name}` : r.name);
      const toSamples = (rs: Reading[], ts: number): Sample[] =>
        rs.map((r) => ({ tag: tagOf(r), value: r.value, quality: r.quality, ts, unit: r.unit }));

      if (backend === 'simulated') {
        // Every simulated node on a bus sees the same devices; the first one to need a chip fits it.
        const sim = simulatedI2cBus(busNumber);
        if (!sim.device(address)) sim.attach(address, spec.simulate(options));
      }
      poller = new SensorPoller({
        interval,
        open: async () => {
          const bus = await openI2cBus(busNumber, backend);
          try {
            const driver = spec.create({ bus, address, sleep }, options);
            await driver.init();
            return { driver, close: () => bus.close() };
          } catch (err) {
            await bus.close();
            throw err;
          }
        },
      });
      poller.on('readings', (rs, ts) => {
        const first = rs.find((r) => r.quality === 'good');
        const allGood = rs.every((r) => r.quality === 'good');
        status.set(allGood ? 'ok' : 'busy', first ? `${first.value} ${first.unit}` : RED._('i2c-sensor.status.bad'));
        node.send(batchMessage(toSamples(rs, ts), prefix || undefined) as never);
      });
      poller.on('failure', (f) => {
        const missing = /not found|not installed|cannot open/.test(f.error.message);
        const text = missing
          ? RED._('i2c-sensor.status.nobus', { bus: busNumber, n: f.failures })
          : RED._('i2c-sensor.status.noanswer', { address: formatAddress(address), n: f.failures });
        status.set('error', text);
        // One error per failure episode, not one per retry: a missing bus would flood the log.
        if (f.first) node.error(`${device} at ${formatAddress(address)} on bus ${busNumber} (${backend}): ${f.error.message}; retrying`);
        if (f.stale.length) node.send(batchMessage(toSamples(f.stale, Date.now()), prefix || undefined) as never);
      });
      poller.on('recovered', () => node.log(`${device} at ${formatAddress(address)} answers again`));
    } catch (err) {
      status.set('error', RED._('i2c-sensor.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('busy', RED._('i2c-sensor.status.starting'));
    poller.start();

    onInput(this, (_msg, _send, done) => {
      // Any message asks for a read now; the batch leaves through the normal path.
      void poller.poll();
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      poller.stop().then(() => done(), () => done());
    });
  }
  RED.nodes.registerType('plantwire-i2c-sensor', I2cSensorNode);
};
