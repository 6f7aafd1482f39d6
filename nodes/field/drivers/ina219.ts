/**
 * Texas Instruments INA219 current / power monitor (datasheet SBOS448, section 8.5): the
 * calibration register is computed from the shunt resistance and the largest expected current,
 * then the chip reports bus voltage, shunt voltage, current and power.
 */
import { ConfigError } from '../../shared/errors';
import { WordRegisterModel } from '../i2c-bus';
import { bad, drift, good, round, type DeviceSpec, type DriverContext, type EnvironmentSource, type Reading, type SensorDriver } from './driver';

const REG_CONFIG = 0x00;
const REG_SHUNT = 0x01;
const REG_BUS = 0x02;
const REG_POWER = 0x03;
const REG_CURRENT = 0x04;
const REG_CALIBRATION = 0x05;
/** Shunt voltage ranges (PGA /1, /2, /4, /8), volts. */
const SHUNT_RANGES = [0.04, 0.08, 0.16, 0.32];

export interface Ina219Options {
  /** Shunt resistor, ohms. */
  shunt: number;
  /** Largest current expected, amperes. */
  maxCurrent: number;
}

export interface Ina219Calibration {
  /** Value for the calibration register. */
  cal: number;
  /** Amperes per bit of the current register, as the truncated calibration makes it. */
  currentLsb: number;
  /** Watts per bit of the power register: 20 × currentLsb. */
  powerLsb: number;
  /** PGA setting 0-3 for the smallest shunt range that holds maxCurrent × shunt. */
  pga: number;
  config: number;
}

/**
 * Datasheet 8.5.1, equations 1-3: Current_LSB = Max_Expected_I / 2^15, Cal = trunc(0.04096 /
 * (Current_LSB × R_SHUNT)), Power_LSB = 20 × Current_LSB. Bit 0 of the calibration register is
 * not used, so Cal is even; the current LSB is then recomputed from the Cal actually written.
 */
export function ina219Calibration(o: Ina219Options): Ina219Calibration {
  const wanted = o.maxCurrent / 32768;
  const exact = Math.trunc(0.04096 / (wanted * o.shunt));
  // Range check before masking: 65536 and above would otherwise wrap to a small, much coarser calibration
  // (65535 is fine: bit 0 is unused, so it is written as 65534).
  if (exact > 0xffff) {
    // Cal fits when maxCurrent × shunt is above 0.04096 × 32768 / 65536 = 20.48 mV.
    let minCurrent = Math.ceil((0.02048 / o.shunt) * 1e4) / 1e4;
    if (Math.trunc(0.04096 / ((minCurrent / 32768) * o.shunt)) > 0xffff) minCurrent = round(minCurrent + 1e-4, 4);
    throw new ConfigError(
      `INA219: shunt ${o.shunt} Ω with max current ${o.maxCurrent} A needs calibration ${exact}, above the chip's 65534: ` +
        `raise the max current to at least ${minCurrent} A or use a larger shunt (max current × shunt must be above 20.48 mV)`,
    );
  }
  const cal = exact & 0xfffe;
  if (cal < 2) {
    throw new ConfigError(`INA219: shunt ${o.shunt} Ω with max current ${o.maxCurrent} A gives calibration ${cal}, below 2: lower the max current or use a smaller shunt`);
  }
  const pga = SHUNT_RANGES.findIndex((r) => o.maxCurrent * o.shunt <= r * (1 + 1e-9)); // 3.2 × 0.1 is 0.32000000000000006
  if (pga < 0) throw new ConfigError(`INA219: ${o.maxCurrent} A across ${o.shunt} Ω is ${round(o.maxCurrent * o.shunt * 1000, 1)} mV, beyond the 320 mV shunt range`);
  const currentLsb = 0.04096 / (cal * o.shunt);
  // BRNG 32 V, PGA as chosen, 12-bit bus and shunt ADC, shunt and bus continuous (table 4).
  const config = 0x2000 | (pga << 11) | (0x3 << 7) | (0x3 << 3) | 0x7;
  return { cal, currentLsb, powerLsb: 20 * currentLsb, pga, config };
}

export function ina219Options(raw: Record<string, unknown>): Ina219Options {
  const shunt = raw.shunt === undefined || raw.shunt === '' ? 0.1 : Number(raw.shunt);
  const maxCurrent = raw.maxCurrent === undefined || raw.maxCurrent === '' ? 2 : Number(raw.maxCurrent);
  if (!Number.isFinite(shunt) || shunt <= 0) throw new ConfigError(`INA219 shunt must be a resistance in ohms above 0, not ${String(raw.shunt)}`);
  if (!Number.isFinite(maxCurrent) || maxCurrent <= 0) throw new ConfigError(`INA219 max current must be amperes above 0, not ${String(raw.maxCurrent)}`);
  const o = { shunt, maxCurrent };
  ina219Calibration(o); // throws ConfigError for impossible pairs
  return o;
}

const word = (v: number): Buffer => Buffer.from([(v >> 8) & 0xff, v & 0xff]);

export class Ina219Driver implements SensorDriver {
  private readonly c: Ina219Calibration;
  constructor(private readonly ctx: DriverContext, o: Ina219Options) {
    this.c = ina219Calibration(o);
  }

  async init(): Promise<void> {
    const { bus, address, sleep } = this.ctx;
    await bus.writeRegister(address, REG_CONFIG, word(this.c.config));
    await bus.writeRegister(address, REG_CALIBRATION, word(this.c.cal));
    await sleep(2); // one 12-bit conversion of shunt and bus: 2 × 532 µs
  }

  async read(): Promise<Reading[]> {
    const { bus, address } = this.ctx;
    const r16 = async (reg: number) => (await bus.readRegister(address, reg, 2)).readUInt16BE(0);
    // A brown-out resets the chip and clears the calibration: current and power would then read 0.
    if ((await r16(REG_CALIBRATION)) !== this.c.cal) await this.init();
    const busReg = await r16(REG_BUS);
    const shuntRaw = (await bus.readRegister(address, REG_SHUNT, 2)).readInt16BE(0);
    const currentRaw = (await bus.readRegister(address, REG_CURRENT, 2)).readInt16BE(0);
    const powerRaw = await r16(REG_POWER);
    const busVoltage = good('busVoltage', round((busReg >> 3) * 0.004, 3), 'V');
    const shuntVoltage = good('shuntVoltage', round(shuntRaw * 0.01, 2), 'mV');
    // OVF (bit 0): the power or current calculation overflowed; those two registers are meaningless.
    if (busReg & 0x0001) return [busVoltage, shuntVoltage, bad('current', 'mA'), bad('power', 'mW')];
    return [
      busVoltage,
      shuntVoltage,
      good('current', round(currentRaw * this.c.currentLsb * 1000, 4), 'mA'),
      good('power', round(powerRaw * this.c.powerLsb * 1000, 3), 'mW'),
    ];
  }
}


// ---- simulator --------------------------------------------------------------------------------

/** A 12 V rail feeding a load of about 400 mA. */
export const defaultIna219Environment: EnvironmentSource = (now) => ({
  busVoltage: drift(now, 12, 0.2, 60),
  current: drift(now, 0.4, 0.15, 90),
});

export class Ina219Simulator extends WordRegisterModel {
  constructor(
    /** The resistor actually fitted on the simulated board, ohms. */
    private readonly shunt: number,
    private readonly env: EnvironmentSource = defaultIna219Environment,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.powerOn();
  }

  /** Power-on reset: default config, calibration 0 (so current and power read 0). */
  powerOn(): void {
    this.regs.fill(0);
    this.regs[REG_CONFIG] = 0x399f;
  }

  protected override writeWord(reg: number, value: number): void {
    if (reg === REG_CONFIG) {
      if (value & 0x8000) this.powerOn(); // RST bit
      else this.regs[REG_CONFIG] = value;
    } else if (reg === REG_CALIBRATION) {
      this.regs[REG_CALIBRATION] = value & 0xfffe;
    }
  }

  private measure(): { shunt: number; bus: number; current: number; power: number; ovf: boolean } {
    const e = this.env(this.now());
    const range = SHUNT_RANGES[(this.regs[REG_CONFIG] >> 11) & 0x03];
    const vShunt = Math.max(-range, Math.min(range, e.current * this.shunt));
    const shunt = Math.round(vShunt / 10e-6);
    const bus13 = Math.max(0, Math.min(0x1fff, Math.round(e.busVoltage / 0.004)));
    const cal = this.regs[REG_CALIBRATION];
    const current = Math.trunc((shunt * cal) / 4096);
    const power = Math.trunc((current * bus13) / 5000);
    const ovf = current > 32767 || current < -32768 || Math.abs(power) > 0xffff || Math.abs(e.current * this.shunt) > range;
    return { shunt, bus: bus13, current, power, ovf };
  }

  protected override readWord(reg: number): number {
    if (reg === REG_CONFIG || reg === REG_CALIBRATION) return this.regs[reg];
    const m = this.measure();
    switch (reg) {
      case REG_SHUNT: return m.shunt & 0xffff;
      case REG_BUS: return (m.bus << 3) | 0x0002 | (m.ovf ? 1 : 0);
      case REG_CURRENT: return m.current & 0xffff;
      case REG_POWER: return Math.abs(m.power) & 0xffff;
      default: return 0;
    }
  }
}

export const ina219: DeviceSpec<Ina219Options> = {
  name: 'ina219',
  addresses: [0x40, 0x41, 0x44, 0x45],
  options: ina219Options,
  create: (ctx, o) => new Ina219Driver(ctx, o),
  simulate: (o, env, now) => new Ina219Simulator(o.shunt, env, now),
};
