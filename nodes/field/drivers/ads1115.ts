/**
 * Texas Instruments ADS1115 16-bit ADC (datasheet SBAS444, section 9.6): single-shot conversions
 * on single-ended or differential inputs, programmable full-scale range (PGA) and data rate.
 * With `shunt` set, each channel reads the current through that resistor in mA (a 4-20 mA loop
 * across 250 Ω); scaling to engineering units is left to plantwire-scale.
 */
import { ConfigError, DeviceError } from '../../shared/errors';
import { formatAddress, WordRegisterModel } from '../i2c-bus';
import { bad, drift, good, round, type DeviceSpec, type DriverContext, type EnvironmentSource, type Reading, type SensorDriver } from './driver';

const REG_CONVERSION = 0x00;
const REG_CONFIG = 0x01;
const OS = 0x8000;
const MODE_SINGLE = 0x0100;
const COMP_DISABLE = 0x0003;

/** MUX[14:12], table 8: differential pairs and single-ended inputs against GND. */
export const ADS1115_MUX: Readonly<Record<string, number>> = {
  '0-1': 0, '0-3': 1, '1-3': 2, '2-3': 3, '0': 4, '1': 5, '2': 6, '3': 7,
};
/** PGA[11:9]: full-scale range in volts (±FSR). */
export const ADS1115_FSR: readonly number[] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256];
/** DR[7:5]: samples per second. */
export const ADS1115_RATES: readonly number[] = [8, 16, 32, 64, 128, 250, 475, 860];

export interface Ads1115Options {
  /** Inputs to convert, in order: '0'..'3' single-ended, '0-1', '0-3', '1-3', '2-3' differential. */
  channels: string[];
  /** Full-scale range, volts. */
  fsr: number;
  /** Data rate, samples per second. */
  rate: number;
  /** Shunt resistor in ohms: report mA instead of V. */
  shunt?: number;
}

export function configWord(mux: string, fsr: number, rate: number): number {
  return OS | (ADS1115_MUX[mux] << 12) | (ADS1115_FSR.indexOf(fsr) << 9) | MODE_SINGLE | (ADS1115_RATES.indexOf(rate) << 5) | COMP_DISABLE;
}

/** Volts of a conversion result: one LSB is FSR / 2^15 (table 3). */
export const codeToVolts = (code: number, fsr: number): number => (code * fsr) / 32768;

export const channelTag = (mux: string): string => 'ain' + mux.replace('-', '_');

export function ads1115Options(raw: Record<string, unknown>): Ads1115Options {
  const list = String(raw.channels ?? '0').split(/[,\s]+/).filter((c) => c !== '');
  if (list.length === 0 || list.length > 8) throw new ConfigError('ADS1115 channels: give 1 to 8 inputs, e.g. "0,1" or "0-1"');
  for (const c of list) {
    if (!(c in ADS1115_MUX)) throw new ConfigError(`ADS1115 channel "${c}" is not one of 0, 1, 2, 3, 0-1, 0-3, 1-3, 2-3`);
  }
  if (new Set(list).size !== list.length) throw new ConfigError('ADS1115 channels are listed twice');
  const fsr = raw.gain === undefined || raw.gain === '' ? 4.096 : Number(raw.gain);
  if (!ADS1115_FSR.includes(fsr)) throw new ConfigError(`ADS1115 gain must be a range of ${ADS1115_FSR.join(', ')} V, not ${String(raw.gain)}`);
  const rate = raw.rate === undefined || raw.rate === '' ? 128 : Number(raw.rate);
  if (!ADS1115_RATES.includes(rate)) throw new ConfigError(`ADS1115 data rate must be one of ${ADS1115_RATES.join(', ')} SPS, not ${String(raw.rate)}`);
  let shunt: number | undefined;
  if (raw.shunt !== undefined && raw.shunt !== '' && raw.shunt !== null) {
    shunt = Number(raw.shunt);
    if (!Number.isFinite(shunt) || shunt <= 0) throw new ConfigError(`ADS1115 shunt must be a resistance in ohms above 0, not ${String(raw.shunt)}`);
  }
  return { channels: list, fsr, rate, shunt };
}

export class Ads1115Driver implements SensorDriver {
  constructor(private readonly ctx: DriverContext, private readonly o: Ads1115Options) {}

  async init(): Promise<void> {
    const { bus, address } = this.ctx;
    const cfg = (await bus.readRegister(address, REG_CONFIG, 2)).readUInt16BE(0);
    // Bits 1:0 of an idle ADS1115 read back as written; a config of 0xFFFF is a floating bus.
    if (cfg === 0xffff) throw new DeviceError(`ADS1115 at ${formatAddress(address)}: config register reads 0xFFFF`);
  }

  private async convert(mux: string): Promise<number> {
    const { bus, address, sleep } = this.ctx;
    const word = configWord(mux, this.o.fsr, this.o.rate);
    await bus.writeRegister(address, REG_CONFIG, Buffer.from([word >> 8, word & 0xff]));
    // One conversion takes 1/DR; the internal oscillator may run up to 10% slow (table 7.5).
    await sleep(Math.ceil(1100 / this.o.rate) + 1);
    for (let i = 0; !((await bus.readRegister(address, REG_CONFIG, 2)).readUInt16BE(0) & OS); i++) {
      if (i >= 5) throw new DeviceError(`ADS1115 at ${formatAddress(address)}: conversion did not finish`);
      await sleep(Math.ceil(1000 / this.o.rate));
    }
    return (await bus.readRegister(address, REG_CONVERSION, 2)).readInt16BE(0);
  }

  async read(): Promise<Reading[]> {
    const out: Reading[] = [];
    const unit = this.o.shunt ? 'mA' : 'V';
    for (const mux of this.o.channels) {
      const code = await this.convert(mux);
      const tag = channelTag(mux);
      // A code at either end of the range is clipped: the input is at or beyond ±FSR, its value unknown.
      if (code === 32767 || code === -32768) {
        out.push(bad(tag, unit));
        continue;
      }
      const volts = codeToVolts(code, this.o.fsr);
      out.push(good(tag, this.o.shunt ? round((volts / this.o.shunt) * 1000, 4) : round(volts, 6), unit));
    }
    return out;
  }
}

// ---- simulator --------------------------------------------------------------------------------

/** Input voltages: ain0 a 4-20 mA loop (12 mA ± 6 mA) across 250 Ω, ain1 a slow 0-3.3 V signal. */
export const defaultAds1115Environment: EnvironmentSource = (now) => ({
  ain0: drift(now, 0.012, 0.006, 300) * 250,
  ain1: drift(now, 1.65, 1.2, 120),
  ain2: 0.5,
  ain3: 0,
});

export class Ads1115Simulator extends WordRegisterModel {
  private readyAt = 0;
  private result = 0;

  constructor(
    private readonly env: EnvironmentSource = defaultAds1115Environment,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.regs[REG_CONFIG] = 0x8583; // power-on default
    this.regs[0x02] = 0x8000;
    this.regs[0x03] = 0x7fff;
  }

  private volts(mux: number): number {
    const e = this.env(this.now());
    const a = (i: number) => e[`ain${i}`] ?? 0;
    const pairs: [number, number | null][] = [[0, 1], [0, 3], [1, 3], [2, 3], [0, null], [1, null], [2, null], [3, null]];
    const [p, n] = pairs[mux];
    return a(p) - (n === null ? 0 : a(n));
  }

  protected override writeWord(reg: number, value: number): void {
    if (reg === REG_CONVERSION) return; // read-only
    if (reg !== REG_CONFIG) {
      this.regs[reg] = value;
      return;
    }
    this.regs[REG_CONFIG] = value & ~OS;
    if (value & OS && value & MODE_SINGLE) {
      const fsr = ADS1115_FSR[Math.min(5, (value >> 9) & 0x07)];
      const rate = ADS1115_RATES[(value >> 5) & 0x07];
      this.result = Math.max(-32768, Math.min(32767, Math.round((this.volts((value >> 12) & 0x07) * 32768) / fsr)));
      this.readyAt = this.now() + 1000 / rate;
    }
  }

  protected override readWord(reg: number): number {
    const done = this.now() >= this.readyAt;
    if (reg === REG_CONFIG) return this.regs[REG_CONFIG] | (done ? OS : 0);
    if (reg === REG_CONVERSION) {
      if (done) this.regs[REG_CONVERSION] = this.result & 0xffff;
      return this.regs[REG_CONVERSION];
    }
    return this.regs[reg];
  }
}

export const ads1115: DeviceSpec<Ads1115Options> = {
  name: 'ads1115',
  addresses: [0x48, 0x49, 0x4a, 0x4b],
  options: ads1115Options,
  create: (ctx, o) => new Ads1115Driver(ctx, o),
  simulate: (_o, env, now) => new Ads1115Simulator(env, now),
};
