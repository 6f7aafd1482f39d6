import {
  Ads1115Driver,
  Ads1115Simulator,
  ads1115Options,
  codeToVolts,
  configWord,
} from '../../../nodes/field/drivers/ads1115';
import { SimulatedI2cBus } from '../../../nodes/field/i2c-bus';

describe('ADS1115 config and scaling', () => {
  it('builds the config register as the datasheet lays it out', () => {
    // OS=1, MUX=100 (AIN0/GND), PGA=010 (±2.048 V), MODE=1, DR=100 (128 SPS), COMP_QUE=11
    expect(configWord('0', 2.048, 128)).toBe(0xc583);
    // MUX=000 (AIN0-AIN1), PGA=001 (±4.096 V), DR=111 (860 SPS)
    expect(configWord('0-1', 4.096, 860)).toBe(0x83e3);
  });

  it('scales codes by FSR / 2^15', () => {
    expect(codeToVolts(16384, 4.096)).toBe(2.048);
    expect(codeToVolts(-32768, 0.256)).toBe(-0.256);
  });

  it('validates its settings', () => {
    expect(ads1115Options({ channels: '0, 2-3', gain: '1.024', rate: '250' })).toEqual({ channels: ['0', '2-3'], fsr: 1.024, rate: 250, shunt: undefined });
    expect(() => ads1115Options({ channels: '4' })).toThrow(/"4" is not one of/);
    expect(() => ads1115Options({ channels: '0', gain: '3' })).toThrow(/gain/);
    expect(() => ads1115Options({ channels: '0', rate: '100' })).toThrow(/data rate/);
    expect(() => ads1115Options({ channels: '0', shunt: '-5' })).toThrow(/shunt/);
    expect(() => ads1115Options({ channels: '1,1' })).toThrow(/twice/);
  });
});

describe('ADS1115 driver on the simulator', () => {
  let now = 0;
  const sleep = (ms: number) => {
    now += ms;
    return Promise.resolve();
  };
  const env = { ain0: 3.0, ain1: 1.25, ain2: 0.5, ain3: 0.25 };
  function setup(raw: Record<string, unknown>) {
    const bus = new SimulatedI2cBus(1);
    const sim = new Ads1115Simulator(() => env, () => now);
    bus.attach(0x48, sim);
    return { bus, sim, driver: new Ads1115Driver({ bus, address: 0x48, sleep }, ads1115Options(raw)) };
  }

  it('converts single-ended and differential inputs', async () => {
    const { driver } = setup({ channels: '0,1,2-3', gain: '4.096', rate: '128' });
    await driver.init();
    const r = await driver.read();
    expect(r.map((x) => x.name)).toEqual(['ain0', 'ain1', 'ain2_3']);
    expect(r[0].value).toBeCloseTo(3.0, 3);
    expect(r[1].value).toBeCloseTo(1.25, 3);
    expect(r[2].value).toBeCloseTo(0.25, 3);
    expect(r.every((x) => x.unit === 'V' && x.quality === 'good')).toBe(true);
  });

  it('reads a 4-20 mA loop across a 250 Ω shunt in mA', async () => {
    const { driver } = setup({ channels: '0', gain: '4.096', shunt: '250' });
    const [r] = await driver.read();
    expect(r).toMatchObject({ name: 'ain0', unit: 'mA', quality: 'good' });
    expect(r.value).toBeCloseTo(12, 2);
  });

  it('marks a clipped input (beyond the full-scale range) bad', async () => {
    const { driver } = setup({ channels: '0,2', gain: '2.048' });
    const r = await driver.read();
    expect(r[0]).toMatchObject({ value: null, quality: 'bad' });
    expect(r[1]).toMatchObject({ quality: 'good' });
  });

  it('waits for the conversion: OS reads 0 until 1/DR has passed', async () => {
    const { bus } = setup({ channels: '0' });
    const w = configWord('1', 4.096, 8);
    await bus.writeRegister(0x48, 1, Buffer.from([w >> 8, w & 0xff]));
    expect((await bus.readRegister(0x48, 1, 2)).readUInt16BE(0) & 0x8000).toBe(0);
    now += 130;
    expect((await bus.readRegister(0x48, 1, 2)).readUInt16BE(0) & 0x8000).toBe(0x8000);
    expect(codeToVolts((await bus.readRegister(0x48, 0, 2)).readInt16BE(0), 4.096)).toBeCloseTo(1.25, 3);
  });
});
