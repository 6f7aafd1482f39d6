/**
 * Sensirion SHT3x (SHT30/31/35) humidity and temperature sensor (datasheet "SHT3x-DIS", v6):
 * single-shot measurement, high repeatability, clock stretching disabled (command 0x2400), and a
 * CRC-8 check of every 16-bit word (section 4.12). A word whose CRC fails is reported as bad,
 * never converted.
 */
import { DeviceError } from '../../shared/errors';
import { formatAddress, type I2cDeviceModel } from '../i2c-bus';
import { reason } from '../reason';
import { bad, drift, good, round, type DeviceSpec, type DriverContext, type EnvironmentSource, type Reading, type SensorDriver } from './driver';

const CMD_SINGLE_SHOT_HIGH = 0x2400;
const CMD_SOFT_RESET = 0x30a2;
const CMD_READ_STATUS = 0xf32d;
/** Datasheet table 4: max measurement duration, high repeatability, is 15.5 ms. */
const MEASURE_MS = 16;

/** CRC-8, polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection (datasheet table 19). */
export function crc8(data: ArrayLike<number>): number {
  let crc = 0xff;
  for (let i = 0; i < data.length; i++) {
    crc ^= data[i] & 0xff;
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Datasheet 4.13: T = -45 + 175 * S_T / (2^16 - 1); RH = 100 * S_RH / (2^16 - 1). */
export const sht3xTemperature = (raw: number): number => -45 + (175 * raw) / 65535;
export const sht3xHumidity = (raw: number): number => (100 * raw) / 65535;

const command = (cmd: number): Buffer => Buffer.from([cmd >> 8, cmd & 0xff]);

export class Sht3xDriver implements SensorDriver {
  constructor(private readonly ctx: DriverContext) {}

  async init(): Promise<void> {
    const { bus, address, sleep } = this.ctx;
    await bus.write(address, command(CMD_SOFT_RESET));
    await sleep(2); // soft reset takes at most 1.5 ms
    await bus.write(address, command(CMD_READ_STATUS));
    const s = await bus.read(address, 3);
    if (crc8([s[0], s[1]]) !== s[2]) {
      throw new DeviceError(`device at ${formatAddress(address)} gave a status word with a bad CRC: not an SHT3x, or a noisy bus`);
    }
  }

  async read(): Promise<Reading[]> {
    const { bus, address, sleep } = this.ctx;
    await bus.write(address, command(CMD_SINGLE_SHOT_HIGH));
    await sleep(MEASURE_MS);
    let d: Buffer | undefined;
    // Without clock stretching the sensor does not acknowledge a read until the measurement is done.
    for (let i = 0; !d; i++) {
      try {
        d = await bus.read(address, 6);
      } catch (err) {
        if (i >= 3) throw new DeviceError(`SHT3x at ${formatAddress(address)}: no measurement (${reason(err)})`);
        await sleep(5);
      }
    }
    const t = crc8([d[0], d[1]]) === d[2] ? good('temperature', round(sht3xTemperature(d.readUInt16BE(0)), 2), '°C') : bad('temperature', '°C');
    const h = crc8([d[3], d[4]]) === d[5] ? good('humidity', round(sht3xHumidity(d.readUInt16BE(3)), 2), '%RH') : bad('humidity', '%RH');
    return [t, h];
  }
}

// ---- simulator --------------------------------------------------------------------------------

export const defaultSht3xEnvironment: EnvironmentSource = (now) => ({
  temperature: drift(now, 22, 2, 700),
  humidity: drift(now, 50, 6, 1100),
});

/** Command-level model: single-shot, soft reset and status; reads NACK while a measurement runs. */
export class Sht3xSimulator implements I2cDeviceModel {
  nack = false;
  /** Flip one bit of the next frames' temperature / humidity CRC (a noisy bus). */
  corrupt: { temperature?: boolean; humidity?: boolean } = {};
  private result?: Buffer;
  private readyAt = 0;

  constructor(
    private readonly env: EnvironmentSource = defaultSht3xEnvironment,
    private readonly now: () => number = Date.now,
  ) {}

  write(data: Buffer): void {
    if (data.length < 2) return;
    const cmd = data.readUInt16BE(0);
    if (cmd === CMD_SOFT_RESET) {
      this.result = undefined;
    } else if (cmd === CMD_READ_STATUS) {
      this.result = Buffer.from([0x00, 0x00, crc8([0x00, 0x00])]);
      this.readyAt = this.now();
    } else if (cmd === CMD_SINGLE_SHOT_HIGH) {
      const e = this.env(this.now());
      const rawT = Math.max(0, Math.min(65535, Math.round(((e.temperature + 45) * 65535) / 175)));
      const rawH = Math.max(0, Math.min(65535, Math.round((e.humidity * 65535) / 100)));
      this.result = this.frame(rawT, rawH);
      this.readyAt = this.now() + 12; // typical duration, high repeatability
    }
  }

  private frame(rawT: number, rawH: number): Buffer {
    const f = Buffer.from([rawT >> 8, rawT & 0xff, 0, rawH >> 8, rawH & 0xff, 0]);
    f[2] = crc8([f[0], f[1]]) ^ (this.corrupt.temperature ? 0x01 : 0);
    f[5] = crc8([f[3], f[4]]) ^ (this.corrupt.humidity ? 0x01 : 0);
    return f;
  }

  read(length: number): Buffer {
    if (!this.result || this.now() < this.readyAt) {
      throw new DeviceError('SHT3x read not acknowledged (no measurement ready)');
    }
    const out = Buffer.alloc(length);
    this.result.copy(out, 0, 0, Math.min(length, this.result.length));
    if (this.result.length === 6) this.result = undefined; // a result is read once
    return out;
  }
}

export const sht3x: DeviceSpec<Record<string, never>> = {
  name: 'sht3x',
  addresses: [0x44, 0x45],
  options: () => ({}),
  create: (ctx) => new Sht3xDriver(ctx),
  simulate: (_o, env, now) => new Sht3xSimulator(env, now),
};
