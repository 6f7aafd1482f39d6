/** The I2C sensors the sensor node knows, by the name its `device` setting uses. */
import { ads1115 } from './ads1115';
import { bme280 } from './bme280';
import type { DeviceSpec } from './driver';
import { ina219 } from './ina219';
import { sht3x } from './sht3x';

export const DEVICES = { bme280, sht3x, ads1115, ina219 } as const;
export type DeviceName = keyof typeof DEVICES;
export const DEVICE_NAMES = Object.keys(DEVICES) as DeviceName[];

export function deviceSpec(name: DeviceName): DeviceSpec<unknown> {
  return DEVICES[name] as unknown as DeviceSpec<unknown>;
}
