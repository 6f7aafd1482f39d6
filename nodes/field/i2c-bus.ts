/**
 * I2C bus adapter: one interface, a hardware implementation over the optional `i2c-bus` addon
 * (loaded lazily, so the palette installs where the addon does not build), and a simulated bus
 * of register-level device models used by the `simulated` backend and the tests.
 * No node-red import here.
 */
import * as fs from 'fs';
import { DeviceError, InputError } from '../shared/errors';
import { reason } from './reason';

export type Backend = 'hardware' | 'simulated';

export interface I2cBus {
  readonly busNumber: number;
  readonly backend: Backend;
  /** Writes the register pointer, then reads `length` bytes (an SMBus I2C block read). */
  readRegister(address: number, register: number, length: number): Promise<Buffer>;
  /** Writes the register pointer followed by `data` in one transaction. */
  writeRegister(address: number, register: number, data: Buffer): Promise<void>;
  /** A plain write transaction (command words such as the SHT3x's). */
  write(address: number, data: Buffer): Promise<void>;
  /** A plain read transaction. */
  read(address: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** SMBus block transfers carry at most 32 bytes (Linux I2C_SMBUS_BLOCK_MAX). */
export const I2C_BLOCK_MAX = 32;

export function formatAddress(address: number): string {
  return '0x' + address.toString(16).padStart(2, '0');
}

/** Reads "0x76", "118" or 118 as a 7-bit address (0x03-0x77: the others are reserved by the I2C spec). */
export function parseAddress(raw: unknown, what = 'address'): number {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0x03 || n > 0x77) {
    throw new InputError(`${what} must be a 7-bit I2C address 0x03-0x77, not ${JSON.stringify(raw)}`);
  }
  return n;
}

function checkTransfer(address: number, length: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) throw new InputError(`bad I2C address ${address}`);
  if (!Number.isInteger(length) || length < 1 || length > I2C_BLOCK_MAX) {
    throw new InputError(`length must be an integer 1-${I2C_BLOCK_MAX}, not ${length}`);
  }
}

// ---- hardware ---------------------------------------------------------------------------------

/** The part of i2c-bus's PromisifiedBus we use. */
interface PromisifiedBus {
  readI2cBlock(addr: number, cmd: number, length: number, buf: Buffer): Promise<{ bytesRead: number; buffer: Buffer }>;
  writeI2cBlock(addr: number, cmd: number, length: number, buf: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }>;
  i2cRead(addr: number, length: number, buf: Buffer): Promise<{ bytesRead: number; buffer: Buffer }>;
  i2cWrite(addr: number, length: number, buf: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }>;
  close(): Promise<void>;
}
interface I2cBusModule {
  openPromisified(bus: number): Promise<PromisifiedBus>;
}

export interface HardwareDeps {
  exists(path: string): boolean;
  load(): I2cBusModule;
}

const defaultDeps: HardwareDeps = {
  exists: (p) => fs.existsSync(p),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: () => require('i2c-bus') as I2cBusModule,
};

class HardwareI2cBus implements I2cBus {
  readonly backend = 'hardware' as const;
  constructor(readonly busNumber: number, private readonly bus: PromisifiedBus) {}

  private fail(address: number, err: unknown): DeviceError {
    return new DeviceError(`no answer from ${formatAddress(address)} on I2C bus ${this.busNumber}: ${reason(err)}`, { cause: err });
  }

  async readRegister(address: number, register: number, length: number): Promise<Buffer> {
    checkTransfer(address, length);
    const buf = Buffer.alloc(length);
    let r: { bytesRead: number };
    try {
      r = await this.bus.readI2cBlock(address, register, length, buf);
    } catch (err) {
      throw this.fail(address, err);
    }
    if (r.bytesRead !== length) throw new DeviceError(`short read from ${formatAddress(address)}: ${r.bytesRead} of ${length} bytes`);
    return buf;
  }

  async writeRegister(address: number, register: number, data: Buffer): Promise<void> {
    checkTransfer(address, Math.max(1, data.length));
    try {
      await this.bus.writeI2cBlock(address, register, data.length, data);
    } catch (err) {
      throw this.fail(address, err);
    }
  }

  async write(address: number, data: Buffer): Promise<void> {
    checkTransfer(address, data.length);
    try {
      await this.bus.i2cWrite(address, data.length, data);
    } catch (err) {
      throw this.fail(address, err);
    }
  }

  async read(address: number, length: number): Promise<Buffer> {
    checkTransfer(address, length);
    const buf = Buffer.alloc(length);
    let r: { bytesRead: number };
    try {
      r = await this.bus.i2cRead(address, length, buf);
    } catch (err) {
      throw this.fail(address, err);
    }
    if (r.bytesRead !== length) throw new DeviceError(`short read from ${formatAddress(address)}: ${r.bytesRead} of ${length} bytes`);
    return buf;
  }

  async close(): Promise<void> {
    await this.bus.close().catch(() => undefined);
  }
}

/**
 * Opens /dev/i2c-<bus> through i2c-bus. The device file is checked first because i2c-bus opens
 * lazily: openPromisified() resolves and scanSync() returns [] on a machine that has no bus at
 * all, which would look like "no devices" rather than "no bus".
 */
export async function openHardwareI2cBus(busNumber: number, deps: HardwareDeps = defaultDeps): Promise<I2cBus> {
  const path = `/dev/i2c-${busNumber}`;
  if (!deps.exists(path)) {
    throw new DeviceError(`I2C bus ${busNumber} not found: ${path} does not exist (enable I2C on this machine, or use the simulated backend)`, {
      code: 'UNAVAILABLE',
    });
  }
  let mod: I2cBusModule;
  try {
    mod = deps.load();
  } catch (err) {
    throw new DeviceError(`the optional i2c-bus module is not installed or did not build: ${reason(err)}`, {
      code: 'UNAVAILABLE',
      cause: err,
    });
  }
  try {
    return new HardwareI2cBus(busNumber, await mod.openPromisified(busNumber));
  } catch (err) {
    throw new DeviceError(`cannot open ${path}: ${reason(err)}`, { code: 'UNAVAILABLE', cause: err });
  }
}

// ---- simulation -------------------------------------------------------------------------------

/** A device on a simulated bus, modelled at the register level as the datasheet describes it. */
export interface I2cDeviceModel {
  /** One write transaction from the master (usually a register pointer, then data). */
  write(data: Buffer): void;
  /** One read transaction of `length` bytes. */
  read(length: number): Buffer;
  /** When true the device does not acknowledge its address (unplugged, dead, held in reset). */
  nack?: boolean;
}

export class SimulatedI2cBus implements I2cBus {
  readonly backend = 'simulated' as const;
  private readonly devices = new Map<number, I2cDeviceModel>();

  constructor(readonly busNumber: number) {}

  attach(address: number, model: I2cDeviceModel): void {
    this.devices.set(address, model);
  }

  detach(address: number): void {
    this.devices.delete(address);
  }

  device(address: number): I2cDeviceModel | undefined {
    return this.devices.get(address);
  }

  private target(address: number): I2cDeviceModel {
    const d = this.devices.get(address);
    if (!d || d.nack) {
      throw new DeviceError(`no answer from ${formatAddress(address)} on simulated I2C bus ${this.busNumber} (address not acknowledged)`);
    }
    return d;
  }

  async readRegister(address: number, register: number, length: number): Promise<Buffer> {
    checkTransfer(address, length);
    const d = this.target(address);
    d.write(Buffer.from([register & 0xff]));
    return Buffer.from(d.read(length));
  }

  async writeRegister(address: number, register: number, data: Buffer): Promise<void> {
    checkTransfer(address, Math.max(1, data.length));
    this.target(address).write(Buffer.concat([Buffer.from([register & 0xff]), data]));
  }

  async write(address: number, data: Buffer): Promise<void> {
    checkTransfer(address, data.length);
    this.target(address).write(Buffer.from(data));
  }

  async read(address: number, length: number): Promise<Buffer> {
    checkTransfer(address, length);
    return Buffer.from(this.target(address).read(length));
  }

  async close(): Promise<void> {
    // The simulated bus is shared by every node in the process; closing one user leaves it up.
  }
}

const simulatedBuses = new Map<number, SimulatedI2cBus>();

/** The process-wide simulated bus `n`: every simulated node on bus n sees the same devices. */
export function simulatedI2cBus(busNumber: number): SimulatedI2cBus {
  let bus = simulatedBuses.get(busNumber);
  if (!bus) {
    bus = new SimulatedI2cBus(busNumber);
    simulatedBuses.set(busNumber, bus);
  }
  return bus;
}

/** Tests start from empty simulated buses. */
export function resetSimulatedI2cBuses(): void {
  simulatedBuses.clear();
}

export function openI2cBus(busNumber: number, backend: Backend, deps?: HardwareDeps): Promise<I2cBus> {
  if (!Number.isInteger(busNumber) || busNumber < 0 || busNumber > 255) {
    return Promise.reject(new InputError(`bus must be an integer 0-255, not ${busNumber}`));
  }
  return backend === 'simulated' ? Promise.resolve(simulatedI2cBus(busNumber)) : openHardwareI2cBus(busNumber, deps);
}

// ---- register-file models shared by the device simulators --------------------------------------

/**
 * A device with 8-bit registers and an auto-incrementing pointer (BME280 and most sensors): the
 * first byte written sets the pointer, further bytes are written to consecutive registers.
 */
export class ByteRegisterModel implements I2cDeviceModel {
  nack = false;
  protected readonly regs = new Uint8Array(256);
  protected pointer = 0;

  write(data: Buffer): void {
    if (data.length === 0) return;
    this.pointer = data[0];
    for (let i = 1; i < data.length; i++) {
      this.writeByte(this.pointer, data[i]);
      this.pointer = (this.pointer + 1) & 0xff;
    }
  }

  read(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.readByte(this.pointer);
      this.pointer = (this.pointer + 1) & 0xff;
    }
    return out;
  }

  protected writeByte(reg: number, value: number): void {
    this.regs[reg] = value;
  }

  protected readByte(reg: number): number {
    return this.regs[reg];
  }

  /** Direct register access for tests and demos. */
  peek(reg: number): number {
    return this.readByte(reg);
  }
}

/**
 * A device with 16-bit registers sent MSB first behind an 8-bit pointer (ADS1115, INA219): a write
 * of [pointer, msb, lsb] writes a register, a write of [pointer] selects what the next read returns.
 */
export class WordRegisterModel implements I2cDeviceModel {
  nack = false;
  protected readonly regs = new Uint16Array(256);
  protected pointer = 0;

  write(data: Buffer): void {
    if (data.length === 0) return;
    this.pointer = data[0];
    if (data.length >= 3) this.writeWord(this.pointer, (data[1] << 8) | data[2]);
  }

  read(length: number): Buffer {
    const out = Buffer.alloc(length);
    const w = this.readWord(this.pointer);
    for (let i = 0; i < length; i++) out[i] = i % 2 === 0 ? w >> 8 : w & 0xff;
    return out;
  }

  protected writeWord(reg: number, value: number): void {
    this.regs[reg] = value;
  }

  protected readWord(reg: number): number {
    return this.regs[reg];
  }

  peek(reg: number): number {
    return this.readWord(reg);
  }
}
