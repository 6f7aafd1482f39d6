import { Sht3xDriver, Sht3xSimulator, crc8, sht3xHumidity, sht3xTemperature } from '../../../nodes/field/drivers/sht3x';
import { SimulatedI2cBus } from '../../../nodes/field/i2c-bus';

describe('SHT3x CRC-8 and conversion', () => {
  it('matches the datasheet check value: 0xBEEF -> 0x92', () => {
    expect(crc8([0xbe, 0xef])).toBe(0x92);
  });

  it('detects every single-bit error in a word', () => {
    const good = crc8([0x66, 0x5a]);
    for (let bit = 0; bit < 16; bit++) {
      const w = 0x665a ^ (1 << bit);
      expect(crc8([w >> 8, w & 0xff])).not.toBe(good);
    }
  });

  it('converts raw words with the datasheet formulas', () => {
    expect(sht3xTemperature(0)).toBe(-45);
    expect(sht3xTemperature(65535)).toBe(130);
    expect(sht3xHumidity(65535)).toBe(100);
    expect(sht3xHumidity(32768)).toBeCloseTo(50.0008, 3);
  });
});

describe('SHT3x driver on the simulator', () => {
  let now = 0;
  const sleep = (ms: number) => {
    now += ms;
    return Promise.resolve();
  };
  function setup() {
    const bus = new SimulatedI2cBus(1);
    const sim = new Sht3xSimulator(() => ({ temperature: 23.4, humidity: 61.2 }), () => now);
    bus.attach(0x44, sim);
    return { sim, driver: new Sht3xDriver({ bus, address: 0x44, sleep }) };
  }

  it('reads temperature and humidity from a single-shot measurement', async () => {
    const { driver } = setup();
    await driver.init();
    const r = await driver.read();
    expect(r).toEqual([
      { name: 'temperature', value: expect.closeTo(23.4, 2), quality: 'good', unit: '°C' },
      { name: 'humidity', value: expect.closeTo(61.2, 2), quality: 'good', unit: '%RH' },
    ]);
  });

  it('marks a word with a bad CRC bad and keeps the other word', async () => {
    const { driver, sim } = setup();
    await driver.init();
    sim.corrupt = { humidity: true };
    const r = await driver.read();
    expect(r[0]).toMatchObject({ name: 'temperature', quality: 'good' });
    expect(r[1]).toEqual({ name: 'humidity', value: null, quality: 'bad', unit: '%RH' });
    sim.corrupt = { temperature: true, humidity: true };
    expect((await driver.read()).map((x) => x.value)).toEqual([null, null]);
  });

  it('does not acknowledge a read before the measurement is done', async () => {
    const { sim } = setup();
    sim.write(Buffer.from([0x24, 0x00]));
    expect(() => sim.read(6)).toThrow(/not acknowledged/);
    now += 20;
    expect(sim.read(6)).toHaveLength(6);
  });

  it('fails clearly when nothing answers', async () => {
    const { driver, sim } = setup();
    sim.nack = true;
    await expect(driver.read()).rejects.toThrow(/no answer from 0x44/);
  });
});
