import { Backoff } from '../../../nodes/shared/backoff';
import { Bme280Simulator } from '../../../nodes/field/drivers/bme280';
import { deviceSpec } from '../../../nodes/field/drivers';
import { openHardwareI2cBus, openI2cBus, SimulatedI2cBus, type I2cBus } from '../../../nodes/field/i2c-bus';
import { SensorPoller, type FailureEvent } from '../../../nodes/field/sensor-poller';
import type { Reading } from '../../../nodes/field/drivers/driver';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pollerOn(bus: I2cBus, interval: number) {
  const spec = deviceSpec('bme280');
  return new SensorPoller({
    interval,
    backoff: new Backoff({ initial: 1000, max: 8000, jitter: 0 }),
    open: async () => {
      const driver = spec.create({ bus, address: 0x76, sleep }, {});
      await driver.init();
      return { driver, close: () => bus.close() };
    },
  });
}

describe('SensorPoller', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('closes a sensor whose open() resolves after stop()', async () => {
    let closed = 0;
    let reads = 0;
    const p = new SensorPoller({
      interval: 1000,
      open: () =>
        new Promise((r) =>
          setTimeout(() => r({ driver: { read: async () => { reads++; return []; } } as never, close: async () => void closed++ }), 20),
        ),
    });
    const readings = jest.fn();
    p.on('readings', readings);
    p.start();
    await jest.advanceTimersByTimeAsync(5);
    await p.stop();
    expect(closed).toBe(0); // still opening
    await jest.advanceTimersByTimeAsync(50);
    expect(closed).toBe(1);
    await jest.advanceTimersByTimeAsync(5000);
    expect(reads).toBe(0);
    expect(readings).not.toHaveBeenCalled();
  });

  it('reads every interval', async () => {
    const bus = new SimulatedI2cBus(1);
    bus.attach(0x76, new Bme280Simulator(() => ({ temperature: 20, humidity: 50, pressure: 1000 })));
    const p = pollerOn(bus, 5000);
    const got: Reading[][] = [];
    p.on('readings', (r) => got.push(r));
    p.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(got).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(5000);
    expect(got).toHaveLength(2);
    expect(got[1].find((r) => r.name === 'temperature')?.value).toBe(20);
    await p.stop();
    await jest.advanceTimersByTimeAsync(20000);
    expect(got).toHaveLength(2);
  });

  it('reports one failure episode, backs off, emits stale values as bad and recovers', async () => {
    const bus = new SimulatedI2cBus(1);
    const sim = new Bme280Simulator(() => ({ temperature: 20, humidity: 50, pressure: 1000 }));
    bus.attach(0x76, sim);
    const p = pollerOn(bus, 500);
    const failures: FailureEvent[] = [];
    let readings = 0;
    let recovered = 0;
    p.on('failure', (f) => failures.push(f));
    p.on('readings', () => readings++);
    p.on('recovered', () => recovered++);
    p.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(readings).toBe(1);
    sim.nack = true;
    await jest.advanceTimersByTimeAsync(500 + 1000 + 2000 + 4000 + 50);
    expect(failures.map((f) => f.first)).toEqual([true, false, false, false]);
    expect(failures.map((f) => f.retryIn)).toEqual([1000, 2000, 4000, 8000]);
    expect(failures[0].stale.every((r) => r.quality === 'bad' && typeof r.value === 'number')).toBe(true);
    expect(failures[0].error.message).toMatch(/no answer from 0x76/);
    sim.nack = false;
    await jest.advanceTimersByTimeAsync(8000);
    expect(recovered).toBe(1);
    expect(readings).toBe(2);
    await jest.advanceTimersByTimeAsync(500);
    expect(readings).toBe(3); // back on the normal interval
    await p.stop();
  });

  it('with interval 0 reads only when asked', async () => {
    const bus = new SimulatedI2cBus(1);
    bus.attach(0x76, new Bme280Simulator());
    const p = pollerOn(bus, 0);
    let n = 0;
    p.on('readings', () => n++);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(n).toBe(0);
    const first = p.poll();
    await jest.advanceTimersByTimeAsync(100);
    await first;
    expect(n).toBe(1);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(n).toBe(1);
    await p.stop();
  });
});

describe('hardware I2C bus on a machine without one', () => {
  it('says the bus is missing instead of failing later (i2c-bus opens lazily)', async () => {
    // This machine has no /dev/i2c-*: the real probe must refuse, not hand back a bus that scans empty.
    await expect(openI2cBus(1, 'hardware')).rejects.toThrow(/I2C bus 1 not found: \/dev\/i2c-1 does not exist/);
  });

  it('the real i2c-bus module opens without complaint and fails only on the first transfer', async () => {
    // Why the device file is probed first: past the probe, the addon itself says nothing until a read.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bus = await openHardwareI2cBus(1, { exists: () => true, load: () => require('i2c-bus') });
    await expect(bus.readRegister(0x76, 0xd0, 1)).rejects.toThrow(/no answer from 0x76 on I2C bus 1: ENOENT/);
    await bus.close();
  });

  it('reports a missing or broken i2c-bus module clearly', async () => {
    const deps = { exists: () => true, load: () => { throw new Error("Cannot find module 'i2c-bus'"); } };
    await expect(openHardwareI2cBus(3, deps)).rejects.toThrow(/optional i2c-bus module is not installed/);
  });

  it('wraps kernel errors of the real module with the address', async () => {
    const fake = {
      openPromisified: async () => ({
        readI2cBlock: async () => { throw Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' }); },
        writeI2cBlock: async () => ({ bytesWritten: 0, buffer: Buffer.alloc(0) }),
        i2cRead: async (_a: number, n: number, b: Buffer) => ({ bytesRead: n - 1, buffer: b }),
        i2cWrite: async () => ({ bytesWritten: 0, buffer: Buffer.alloc(0) }),
        close: async () => undefined,
      }),
    };
    const bus = await openHardwareI2cBus(1, { exists: () => true, load: () => fake });
    await expect(bus.readRegister(0x76, 0xd0, 1)).rejects.toThrow(/no answer from 0x76 on I2C bus 1: Remote I\/O error/);
    await expect(bus.read(0x44, 6)).rejects.toThrow(/short read/);
    await expect(bus.read(0x44, 0)).rejects.toThrow(/length must be an integer 1-32/);
  });
});
