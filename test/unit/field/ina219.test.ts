import { Ina219Driver, Ina219Simulator, ina219Calibration, ina219Options } from '../../../nodes/field/drivers/ina219';
import { SimulatedI2cBus } from '../../../nodes/field/i2c-bus';

describe('INA219 calibration', () => {
  it('follows the datasheet equations: 0.1 Ω, 3.2 A -> Cal trunc(4194.3) = 4194', () => {
    const c = ina219Calibration({ shunt: 0.1, maxCurrent: 3.2 });
    // Current_LSB = 3.2 / 2^15 = 97.656 µA; Cal = trunc(0.04096 / (97.656e-6 × 0.1)) = 4194
    expect(c.cal).toBe(4194);
    expect(c.currentLsb).toBeCloseTo(0.04096 / (4194 * 0.1), 15);
    expect(c.powerLsb).toBeCloseTo(20 * c.currentLsb, 15);
    expect(c.pga).toBe(3); // 320 mV range
    // 10 A through 10 mΩ: trunc(13421.77) = 13421, bit 0 unused -> 13420; 100 mV fits the 160 mV range.
    expect(ina219Calibration({ shunt: 0.01, maxCurrent: 10 })).toMatchObject({ cal: 13420, pga: 2 });
  });

  it('picks the smallest shunt range and keeps Cal even', () => {
    const c = ina219Calibration({ shunt: 0.1, maxCurrent: 0.4 });
    expect(c.pga).toBe(0); // 40 mV holds 0.4 A × 0.1 Ω
    expect(c.cal % 2).toBe(0);
    expect(c.cal).toBe(Math.trunc(0.04096 / ((0.4 / 32768) * 0.1)) & 0xfffe);
  });

  it('refuses settings the chip cannot do', () => {
    expect(() => ina219Options({ shunt: '1', maxCurrent: '1' })).toThrow(/320 mV/);
    expect(() => ina219Options({ shunt: '0', maxCurrent: '1' })).toThrow(/shunt/);
    expect(() => ina219Options({ shunt: '0.1', maxCurrent: 'abc' })).toThrow(/max current/);
  });

  it('refuses a calibration above 65534 instead of wrapping it to a small value', () => {
    // 0.1 Ω, 0.2 A: Cal = trunc(67108.9) = 67108, beyond the 16-bit register (it used to wrap to 1572).
    expect(() => ina219Calibration({ shunt: 0.1, maxCurrent: 0.2 })).toThrow(/shunt 0\.1 Ω with max current 0\.2 A needs calibration 67108.*raise the max current to at least 0\.2049 A/);
    expect(() => ina219Options({ shunt: '0.01', maxCurrent: '1' })).toThrow(/65534/);
    expect(() => ina219Calibration({ shunt: 0.01, maxCurrent: 2.048 })).toThrow(/needs calibration 65536.*at least 2\.0481 A/);
    // The suggested current is enough; 65535 is written as 65534 (bit 0 unused).
    expect(ina219Calibration({ shunt: 0.1, maxCurrent: 0.2049 }).cal).toBeLessThanOrEqual(65534);
    expect(ina219Calibration({ shunt: 0.01, maxCurrent: 2.0481 }).cal).toBe(65532); // trunc(65532.8)
  });
});

describe('INA219 driver on the simulator', () => {
  let env = { busVoltage: 12.0, current: 0.5 };
  const sleep = () => Promise.resolve();
  function setup() {
    const bus = new SimulatedI2cBus(1);
    const sim = new Ina219Simulator(0.1, () => env, () => 0);
    bus.attach(0x40, sim);
    return { sim, driver: new Ina219Driver({ bus, address: 0x40, sleep }, { shunt: 0.1, maxCurrent: 2 }) };
  }

  it('reads bus voltage, shunt voltage, current and power', async () => {
    env = { busVoltage: 12.0, current: 0.5 };
    const { driver } = setup();
    await driver.init();
    const by = Object.fromEntries((await driver.read()).map((r) => [r.name, r]));
    expect(by.busVoltage).toMatchObject({ value: 12, unit: 'V', quality: 'good' });
    expect(by.shuntVoltage).toMatchObject({ value: 50, unit: 'mV' });
    expect(by.current.value).toBeCloseTo(500, 0);
    expect(by.current.unit).toBe('mA');
    expect(by.power.value).toBeCloseTo(6000, -1);
    expect(by.power.unit).toBe('mW');
  });

  it('rewrites the calibration after the chip lost it (power-on reset)', async () => {
    env = { busVoltage: 5.0, current: 0.2 };
    const { driver, sim } = setup();
    await driver.init();
    sim.powerOn();
    const by = Object.fromEntries((await driver.read()).map((r) => [r.name, r.value]));
    expect(by.current).toBeCloseTo(200, 0);
  });

  it('marks current and power bad on a math overflow', async () => {
    env = { busVoltage: 12.0, current: 3.5 };
    const { driver } = setup();
    await driver.init();
    const r = await driver.read();
    expect(r.filter((x) => x.quality === 'bad').map((x) => x.name)).toEqual(['current', 'power']);
    expect(r.find((x) => x.name === 'current')?.value).toBeNull();
  });
});
