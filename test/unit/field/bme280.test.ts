import fc from 'fast-check';
import {
  Bme280Driver,
  Bme280Simulator,
  EXAMPLE_CALIBRATION,
  compensateHumidity,
  compensatePressure,
  compensateTemperature,
  encodeCalibration,
  parseCalibration,
  rawForEnvironment,
} from '../../../nodes/field/drivers/bme280';
import { SimulatedI2cBus } from '../../../nodes/field/i2c-bus';

const noWait = () => Promise.resolve();

describe('BME280 compensation (datasheet integer formulas)', () => {
  // The worked example of the Bosch datasheet (BMP280 3.12, identical T and P formulas in the BME280).
  it('gives 25.08 °C and t_fine 128422 for adc_T 519888', () => {
    const t = compensateTemperature(519888, EXAMPLE_CALIBRATION);
    expect(t.centiC).toBe(2508);
    expect(t.tFine).toBe(128422);
  });

  it('gives 100653 Pa for adc_P 415148 at that temperature', () => {
    const q24_8 = compensatePressure(415148, 128422, EXAMPLE_CALIBRATION);
    expect(Math.floor(q24_8 / 256)).toBe(100653);
    expect(q24_8 / 256).toBeCloseTo(100653.27, 1);
  });

  it('keeps humidity within 0..100 %RH and increasing with adc_H', () => {
    const tFine = 128422;
    let last = -1;
    for (let adc = 0; adc <= 0xffff; adc += 1024) {
      const h = compensateHumidity(adc, tFine, EXAMPLE_CALIBRATION) / 1024;
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(100);
      expect(h).toBeGreaterThanOrEqual(last);
      last = h;
    }
    expect(last).toBe(100);
  });

  it('reads signed 12-bit dig_H4 / dig_H5 from their shared nibbles', () => {
    const c = { ...EXAMPLE_CALIBRATION, H4: -300, H5: -77 };
    const { tp, h1, h } = encodeCalibration(c);
    expect(parseCalibration(tp, h1, h)).toEqual(c);
  });
});

describe('BME280 driver on the register-level simulator', () => {
  let now = 1_000_000;
  const clock = () => now;
  const sleep = (ms: number) => {
    now += ms;
    return Promise.resolve();
  };

  function setup(env = { temperature: 21.5, humidity: 40, pressure: 1002.3 }) {
    const bus = new SimulatedI2cBus(1);
    const sim = new Bme280Simulator(() => env, clock);
    bus.attach(0x76, sim);
    return { bus, sim, driver: new Bme280Driver({ bus, address: 0x76, sleep }) };
  }

  it('measures what the simulated air holds, within the sensor resolution', async () => {
    const { driver } = setup();
    await driver.init();
    const r = await driver.read();
    const by = Object.fromEntries(r.map((x) => [x.name, x]));
    expect(by.temperature).toMatchObject({ value: 21.5, quality: 'good', unit: '°C' });
    expect(by.humidity.value).toBeCloseTo(40, 1);
    expect(by.pressure.value).toBeCloseTo(1002.3, 1);
    expect(by.pressure.unit).toBe('hPa');
    expect(by.humidity.unit).toBe('%RH');
  });

  it('round-trips raw words: the simulator inverts the compensation', () => {
    const raw = rawForEnvironment({ temperature: -10, humidity: 85, pressure: 950 }, EXAMPLE_CALIBRATION);
    const t = compensateTemperature(raw.adcT, EXAMPLE_CALIBRATION);
    expect(t.centiC).toBe(-1000);
    expect(compensatePressure(raw.adcP, t.tFine, EXAMPLE_CALIBRATION) / 25600).toBeCloseTo(950, 2);
    expect(compensateHumidity(raw.adcH, t.tFine, EXAMPLE_CALIBRATION) / 1024).toBeCloseTo(85, 1);
  });

  it('reads any plausible air back within the resolution of the integer formulas', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: -40, max: 85, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 300, max: 1100, noNaN: true }),
        async (temperature, humidity, pressure) => {
          const { driver } = setup({ temperature, humidity, pressure });
          const by = Object.fromEntries((await driver.read()).map((x) => [x.name, x.value as number]));
          expect(Math.abs(by.temperature - temperature)).toBeLessThanOrEqual(0.011);
          expect(Math.abs(by.pressure - pressure)).toBeLessThan(0.05);
          expect(Math.abs(by.humidity - humidity)).toBeLessThan(0.1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('waits for the measurement: reading data without waiting gives the reset values', async () => {
    const { bus } = setup();
    await bus.writeRegister(0x76, 0xf2, Buffer.from([1]));
    await bus.writeRegister(0x76, 0xf4, Buffer.from([0x25]));
    expect((await bus.readRegister(0x76, 0xf3, 1))[0] & 0x08).toBe(0x08);
    expect([...(await bus.readRegister(0x76, 0xfa, 3))]).toEqual([0x80, 0, 0]);
  });

  it('reports a skipped humidity measurement as bad, never as a number', async () => {
    const { driver, sim } = setup();
    sim.skip.add('humidity');
    const r = await driver.read();
    expect(r.find((x) => x.name === 'humidity')).toMatchObject({ value: null, quality: 'bad' });
    expect(r.find((x) => x.name === 'temperature')?.quality).toBe('good');
    sim.skip.add('temperature');
    expect((await driver.read()).every((x) => x.quality === 'bad' && x.value === null)).toBe(true);
  });

  it('refuses a chip that is not a BME280', async () => {
    const { driver, sim } = setup();
    (sim as unknown as { regs: Uint8Array }).regs[0xd0] = 0x58;
    await expect(driver.init()).rejects.toThrow(/BMP280/);
  });

  it('fails with a DeviceError when the chip does not answer', async () => {
    const { driver, sim } = setup();
    sim.nack = true;
    await expect(driver.init()).rejects.toThrow(/no answer from 0x76/);
  });

  it('soft reset (0xB6 to 0xE0) restores the power-on state', async () => {
    const { bus, sim } = setup();
    await bus.writeRegister(0x76, 0xf2, Buffer.from([5]));
    await bus.writeRegister(0x76, 0xe0, Buffer.from([0xb6]));
    expect(sim.peek(0xf2)).toBe(0);
    expect(sim.peek(0xd0)).toBe(0x60);
    void noWait;
  });
});
