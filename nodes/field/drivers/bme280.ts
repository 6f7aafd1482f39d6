/**
 * Bosch BME280 temperature / pressure / humidity sensor (datasheet BST-BME280-DS002, rev 1.6):
 * forced-mode measurement with oversampling x1, compensated with the datasheet's integer
 * formulas (section 4.2.3: 32-bit temperature and humidity, 64-bit pressure).
 */
import { DeviceError } from '../../shared/errors';
import { ByteRegisterModel, formatAddress } from '../i2c-bus';
import { bad, drift, good, round, type DeviceSpec, type DriverContext, type Environment, type EnvironmentSource, type Reading, type SensorDriver } from './driver';

export const BME280_CHIP_ID = 0x60;
const REG_CALIB_TP = 0x88; // 0x88..0x9F: dig_T1..dig_P9, 24 bytes
const REG_CALIB_H1 = 0xa1;
const REG_CALIB_H2 = 0xe1; // 0xE1..0xE7: dig_H2..dig_H6
const REG_ID = 0xd0;
const REG_RESET = 0xe0;
const REG_CTRL_HUM = 0xf2;
const REG_STATUS = 0xf3;
const REG_CTRL_MEAS = 0xf4;
const REG_DATA = 0xf7; // press[3], temp[3], hum[2]
const RESET_WORD = 0xb6;
/** Datasheet 9.1: maximum measurement time with all oversampling x1 is 9.3 ms. */
const MEASURE_MS = 10;
/** Values the chip reports for a measurement that was skipped (oversampling 0). */
const SKIPPED_20 = 0x80000;
const SKIPPED_16 = 0x8000;

export interface Bme280Calibration {
  T1: number; T2: number; T3: number;
  P1: number; P2: number; P3: number; P4: number; P5: number; P6: number; P7: number; P8: number; P9: number;
  H1: number; H2: number; H3: number; H4: number; H5: number; H6: number;
}

/** Table 16 of the datasheet: trimming parameters from the 0x88.. and 0xE1.. blocks. */
export function parseCalibration(tp: Buffer, h1: number, h: Buffer): Bme280Calibration {
  const e4 = (h[3] << 24) >> 24; // signed: dig_H4 and dig_H5 are 12-bit signed values split over three bytes
  const e6 = (h[5] << 24) >> 24;
  return {
    T1: tp.readUInt16LE(0), T2: tp.readInt16LE(2), T3: tp.readInt16LE(4),
    P1: tp.readUInt16LE(6), P2: tp.readInt16LE(8), P3: tp.readInt16LE(10), P4: tp.readInt16LE(12),
    P5: tp.readInt16LE(14), P6: tp.readInt16LE(16), P7: tp.readInt16LE(18), P8: tp.readInt16LE(20), P9: tp.readInt16LE(22),
    H1: h1,
    H2: h.readInt16LE(0),
    H3: h[2],
    H4: (e4 * 16) | (h[4] & 0x0f),
    H5: (e6 * 16) | (h[4] >> 4),
    H6: h.readInt8(6),
  };
}

/** Inverse of parseCalibration, for the simulator. */
export function encodeCalibration(c: Bme280Calibration): { tp: Buffer; h1: number; h: Buffer } {
  const tp = Buffer.alloc(24);
  tp.writeUInt16LE(c.T1, 0); tp.writeInt16LE(c.T2, 2); tp.writeInt16LE(c.T3, 4);
  tp.writeUInt16LE(c.P1, 6);
  [c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9].forEach((v, i) => tp.writeInt16LE(v, 8 + 2 * i));
  const h = Buffer.alloc(7);
  h.writeInt16LE(c.H2, 0);
  h[2] = c.H3;
  h[3] = (c.H4 >> 4) & 0xff;
  h[4] = (c.H4 & 0x0f) | ((c.H5 & 0x0f) << 4);
  h[5] = (c.H5 >> 4) & 0xff;
  h.writeInt8(c.H6, 6);
  return { tp, h1: c.H1, h };
}

/** Datasheet 4.2.3, BME280_compensate_T_int32: temperature in 0.01 °C, and t_fine for P and H. */
export function compensateTemperature(adcT: number, c: Bme280Calibration): { centiC: number; tFine: number } {
  const var1 = (((adcT >> 3) - (c.T1 << 1)) * c.T2) >> 11;
  const d = (adcT >> 4) - c.T1;
  const var2 = (((d * d) >> 12) * c.T3) >> 14;
  const tFine = var1 + var2;
  return { centiC: (tFine * 5 + 128) >> 8, tFine };
}

/** Datasheet 4.2.3, BME280_compensate_P_int64: pressure in Pa as Q24.8 (divide by 256). */
export function compensatePressure(adcP: number, tFine: number, c: Bme280Calibration): number {
  let var1 = BigInt(tFine) - 128000n;
  let var2 = var1 * var1 * BigInt(c.P6);
  var2 = var2 + ((var1 * BigInt(c.P5)) << 17n);
  var2 = var2 + (BigInt(c.P4) << 35n);
  var1 = ((var1 * var1 * BigInt(c.P3)) >> 8n) + ((var1 * BigInt(c.P2)) << 12n);
  var1 = (((1n << 47n) + var1) * BigInt(c.P1)) >> 33n;
  if (var1 === 0n) return 0; // avoids a division by zero, as the datasheet does
  let p = 1048576n - BigInt(adcP);
  p = (((p << 31n) - var2) * 3125n) / var1;
  var1 = (BigInt(c.P9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = (BigInt(c.P8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (BigInt(c.P7) << 4n);
  return Number(BigInt.asUintN(32, p));
}

/** Datasheet 4.2.3, bme280_compensate_H_int32: humidity in %RH as Q22.10 (divide by 1024). */
export function compensateHumidity(adcH: number, tFine: number, c: Bme280Calibration): number {
  let v = tFine - 76800;
  v =
    ((((adcH << 14) - (c.H4 << 20) - c.H5 * v) + 16384) >> 15) *
    (((((((v * c.H6) >> 10) * (((v * c.H3) >> 11) + 32768)) >> 10) + 2097152) * c.H2 + 8192) >> 14);
  v = v - (((((v >> 15) * (v >> 15)) >> 7) * c.H1) >> 4);
  v = v < 0 ? 0 : v;
  v = v > 419430400 ? 419430400 : v;
  return v >>> 12;
}

export class Bme280Driver implements SensorDriver {
  private cal?: Bme280Calibration;
  constructor(private readonly ctx: DriverContext) {}

  async init(): Promise<void> {
    const { bus, address } = this.ctx;
    const id = (await bus.readRegister(address, REG_ID, 1))[0];
    if (id !== BME280_CHIP_ID) {
      const what = id === 0x58 ? 'a BMP280 (no humidity)' : `chip id ${formatAddress(id)}`;
      throw new DeviceError(`device at ${formatAddress(address)} is ${what}, not a BME280 (chip id 0x60)`);
    }
    const tp = await bus.readRegister(address, REG_CALIB_TP, 24);
    const h1 = (await bus.readRegister(address, REG_CALIB_H1, 1))[0];
    const h = await bus.readRegister(address, REG_CALIB_H2, 7);
    const cal = parseCalibration(tp, h1, h);
    // Erased or unreadable trimming memory reads as all zeros or all ones; compensating with it gives nonsense.
    if (cal.T1 === 0 || cal.P1 === 0 || cal.T1 === 0xffff || cal.P1 === 0xffff) {
      throw new DeviceError(`BME280 at ${formatAddress(address)}: calibration data is invalid`);
    }
    this.cal = cal;
  }

  async read(): Promise<Reading[]> {
    if (!this.cal) await this.init();
    const cal = this.cal as Bme280Calibration;
    const { bus, address, sleep } = this.ctx;
    // ctrl_hum takes effect only on the following write to ctrl_meas (datasheet 5.4.3).
    await bus.writeRegister(address, REG_CTRL_HUM, Buffer.from([0x01]));
    await bus.writeRegister(address, REG_CTRL_MEAS, Buffer.from([(1 << 5) | (1 << 2) | 0x01])); // T x1, P x1, forced
    await sleep(MEASURE_MS);
    for (let i = 0; (await bus.readRegister(address, REG_STATUS, 1))[0] & 0x08; i++) {
      if (i >= 5) throw new DeviceError(`BME280 at ${formatAddress(address)}: measurement did not finish`);
      await sleep(2);
    }
    const d = await bus.readRegister(address, REG_DATA, 8);
    const adcP = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4);
    const adcT = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4);
    const adcH = (d[6] << 8) | d[7];
    if (adcT === SKIPPED_20) {
      // Without temperature there is no t_fine, so neither pressure nor humidity can be compensated.
      return [bad('temperature', '°C'), bad('humidity', '%RH'), bad('pressure', 'hPa')];
    }
    const t = compensateTemperature(adcT, cal);
    const out: Reading[] = [good('temperature', t.centiC / 100, '°C')];
    out.push(adcH === SKIPPED_16 ? bad('humidity', '%RH') : good('humidity', round(compensateHumidity(adcH, t.tFine, cal) / 1024, 3), '%RH'));
    out.push(adcP === SKIPPED_20 ? bad('pressure', 'hPa') : good('pressure', round(compensatePressure(adcP, t.tFine, cal) / 25600, 4), 'hPa'));
    return out;
  }
}

// ---- simulator --------------------------------------------------------------------------------

/** Trimming values of the datasheet's worked example (T, P) and of a typical part (H). */
export const EXAMPLE_CALIBRATION: Bme280Calibration = {
  T1: 27504, T2: 26435, T3: -1000,
  P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
  H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
};

/** Smallest x in [lo, hi] with f(x) >= target for an increasing f (or <= for a decreasing one). */
function search(lo: number, hi: number, f: (x: number) => number, target: number, increasing: boolean): number {
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const v = f(mid);
    if (increasing ? v >= target : v <= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Raw ADC words that the compensation formulas turn back into the given conditions. */
export function rawForEnvironment(env: Environment, c: Bme280Calibration): { adcT: number; adcP: number; adcH: number } {
  const adcT = search(0, 0xfffff, (x) => compensateTemperature(x, c).centiC, Math.round(env.temperature * 100), true);
  const tFine = compensateTemperature(adcT, c).tFine;
  const adcP = search(0, 0xfffff, (x) => compensatePressure(x, tFine, c), Math.round(env.pressure * 25600), false);
  const adcH = search(0, 0xffff, (x) => compensateHumidity(x, tFine, c), Math.round(env.humidity * 1024), true);
  return { adcT, adcP, adcH };
}

export const defaultBme280Environment: EnvironmentSource = (now) => ({
  temperature: drift(now, 24, 3, 600),
  humidity: drift(now, 45, 8, 900),
  pressure: drift(now, 1013.25, 1.5, 1800),
});

export class Bme280Simulator extends ByteRegisterModel {
  /** Quantities the simulated chip reports as skipped (0x80000 / 0x8000). */
  readonly skip = new Set<'temperature' | 'pressure' | 'humidity'>();
  private pending?: Buffer;
  private readyAt = 0;

  constructor(
    private readonly env: EnvironmentSource = defaultBme280Environment,
    private readonly now: () => number = Date.now,
    readonly calibration: Bme280Calibration = EXAMPLE_CALIBRATION,
  ) {
    super();
    this.powerOn();
  }

  private powerOn(): void {
    this.regs.fill(0);
    const { tp, h1, h } = encodeCalibration(this.calibration);
    tp.copy(Buffer.from(this.regs.buffer), REG_CALIB_TP);
    this.regs[REG_CALIB_H1] = h1;
    h.copy(Buffer.from(this.regs.buffer), REG_CALIB_H2);
    this.regs[REG_ID] = BME280_CHIP_ID;
    this.regs.set([0x80, 0, 0, 0x80, 0, 0, 0x80, 0], REG_DATA); // reset values of the data registers
    this.pending = undefined;
  }

  protected override writeByte(reg: number, value: number): void {
    if (reg === REG_RESET) {
      if (value === RESET_WORD) this.powerOn();
      return;
    }
    if (reg === REG_CTRL_HUM || reg === 0xf5) {
      this.regs[reg] = value;
      return;
    }
    if (reg !== REG_CTRL_MEAS) return; // everything else is read-only
    this.regs[reg] = value;
    if ((value & 0x03) === 0x01 || (value & 0x03) === 0x02) this.measure(value);
  }

  private measure(ctrlMeas: number): void {
    const raw = rawForEnvironment(this.env(this.now()), this.calibration);
    const osrsT = ctrlMeas >> 5;
    const osrsP = (ctrlMeas >> 2) & 0x07;
    const osrsH = this.regs[REG_CTRL_HUM] & 0x07;
    const t = osrsT === 0 || this.skip.has('temperature') ? SKIPPED_20 : raw.adcT;
    const p = osrsP === 0 || this.skip.has('pressure') ? SKIPPED_20 : raw.adcP;
    const hu = osrsH === 0 || this.skip.has('humidity') ? SKIPPED_16 : raw.adcH;
    this.pending = Buffer.from([p >> 12, (p >> 4) & 0xff, (p & 0x0f) << 4, t >> 12, (t >> 4) & 0xff, (t & 0x0f) << 4, hu >> 8, hu & 0xff]);
    this.readyAt = this.now() + 9; // typical measurement time at x1 (datasheet 9.1)
  }

  protected override readByte(reg: number): number {
    const measuring = this.pending !== undefined && this.now() < this.readyAt;
    if (this.pending && !measuring) {
      this.regs.set(this.pending, REG_DATA);
      this.pending = undefined;
      this.regs[REG_CTRL_MEAS] &= 0xfc; // forced mode returns to sleep when done
    }
    if (reg === REG_STATUS) return measuring ? 0x08 : 0x00;
    return this.regs[reg];
  }
}

export const bme280: DeviceSpec<Record<string, never>> = {
  name: 'bme280',
  addresses: [0x76, 0x77],
  options: (raw) => {
    void raw;
    return {};
  },
  create: (ctx) => new Bme280Driver(ctx),
  simulate: (_o, env, now) => new Bme280Simulator(env, now),
};
