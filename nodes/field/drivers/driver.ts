/**
 * What every I2C sensor driver is: a small module with the device's datasheet logic, its own
 * register-level simulator, and a spec that the sensor node and the tests look up by name.
 * A new device is one file in this folder plus one line in `index.ts`.
 */
import type { Quality } from '../../shared/sample';
import type { I2cBus, I2cDeviceModel } from '../i2c-bus';

/** One measured quantity of a poll. A value that failed a check is null with quality bad, never a wrong number. */
export interface Reading {
  name: string;
  value: number | null;
  quality: Quality;
  unit: string;
}

export interface DriverContext {
  bus: I2cBus;
  address: number;
  /** Waits for a conversion; injected so tests run on fake timers. */
  sleep(ms: number): Promise<void>;
}

export interface SensorDriver {
  /** Checks the chip and writes its configuration; run before the first read and after a failure. */
  init(): Promise<void>;
  /** One measurement: triggers a conversion, waits for it, reads and converts it. */
  read(): Promise<Reading[]>;
}

/** Physical conditions a simulator reports; the clock lets demos drift over time. */
export type Environment = Record<string, number>;
export type EnvironmentSource = (now: number) => Environment;

export interface DeviceSpec<O> {
  name: string;
  /** Addresses the chip can be strapped to; the first is the usual default. */
  addresses: readonly number[];
  /** Device settings from the node's config (strings from the editor), validated: throws ConfigError. */
  options(raw: Record<string, unknown>): O;
  create(ctx: DriverContext, options: O): SensorDriver;
  simulate(options: O, env?: EnvironmentSource, now?: () => number): I2cDeviceModel;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A gentle drift for demos: base + amplitude * sin(2π t / period). */
export function drift(now: number, base: number, amplitude: number, periodS: number): number {
  return base + amplitude * Math.sin((2 * Math.PI * (now / 1000)) / periodS);
}

export function good(name: string, value: number, unit: string): Reading {
  return { name, value, quality: 'good', unit };
}

export function bad(name: string, unit: string): Reading {
  return { name, value: null, quality: 'bad', unit };
}

/** Rounds to the resolution a value actually has, so 25.080000000000002 does not travel on. */
export function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
