/**
 * GPIO adapter: one interface, a hardware implementation over the optional `onoff` module
 * (Linux sysfs GPIO, loaded lazily so the palette installs where its addon does not build) and
 * a simulated pin model that tests drive and that demos feed with pulses. Levels here are
 * electrical (0/1); active-low and edges are the input engine's business.
 * No node-red import here.
 */
import * as fs from 'fs';
import { DeviceError, InputError } from '../shared/errors';
import type { Backend } from './i2c-bus';
import { reason } from './reason';

export type Level = 0 | 1;

export interface GpioLine {
  readonly pin: number;
  read(): Level;
  write(level: Level): void;
  /** Calls back on every electrical change of an input line; errors go to `onError`. */
  watch(onChange: (level: Level) => void, onError: (err: Error) => void): void;
  close(): void;
}

export interface GpioChip {
  readonly backend: Backend;
  openInput(pin: number): GpioLine;
  openOutput(pin: number, level: Level): GpioLine;
}

export function checkPin(pin: number): void {
  if (!Number.isInteger(pin) || pin < 0 || pin > 1023) throw new InputError(`pin must be a Linux GPIO number 0-1023, not ${pin}`);
}

// ---- hardware (onoff) -------------------------------------------------------------------------

interface OnoffGpio {
  readSync(): number;
  writeSync(v: number): void;
  watch(cb: (err: Error | null | undefined, value: number) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
interface OnoffModule {
  Gpio: { new (pin: number, direction: string, edge?: string): OnoffGpio; accessible: boolean };
}

export interface GpioHardwareDeps {
  exists(path: string): boolean;
  load(): OnoffModule;
}

const defaultDeps: GpioHardwareDeps = {
  exists: (p) => fs.existsSync(p),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: () => require('onoff') as OnoffModule,
};

class OnoffLine implements GpioLine {
  constructor(readonly pin: number, private readonly g: OnoffGpio) {}
  read(): Level {
    return this.g.readSync() ? 1 : 0;
  }
  write(level: Level): void {
    this.g.writeSync(level);
  }
  watch(onChange: (level: Level) => void, onError: (err: Error) => void): void {
    this.g.watch((err, value) => (err ? onError(new DeviceError(`GPIO ${this.pin}: ${reason(err)}`, { cause: err })) : onChange(value ? 1 : 0)));
  }
  close(): void {
    try {
      this.g.unwatchAll();
      this.g.unexport();
    } catch {
      // the pin may already be gone with the hardware; nothing left to release
    }
  }
}

export class OnoffGpioChip implements GpioChip {
  readonly backend = 'hardware' as const;
  private readonly mod: OnoffModule;

  /**
   * Checks for sysfs GPIO before loading onoff: on a machine without it, onoff would throw on
   * the first export with an ENOENT that does not say what is missing.
   */
  constructor(deps: GpioHardwareDeps = defaultDeps) {
    if (!deps.exists('/sys/class/gpio/export')) {
      throw new DeviceError('no GPIO on this machine: /sys/class/gpio does not exist (sysfs GPIO missing or disabled in the kernel; use the simulated backend)', {
        code: 'UNAVAILABLE',
      });
    }
    try {
      this.mod = deps.load();
    } catch (err) {
      throw new DeviceError(`the optional onoff module is not installed or did not build: ${reason(err)}`, {
        code: 'UNAVAILABLE',
        cause: err,
      });
    }
    if (!this.mod.Gpio.accessible) {
      throw new DeviceError('GPIO is not accessible to this user: add it to the gpio group', { code: 'UNAVAILABLE' });
    }
  }

  private open(pin: number, direction: string, edge?: string): OnoffGpio {
    checkPin(pin);
    try {
      return new this.mod.Gpio(pin, direction, edge);
    } catch (err) {
      throw new DeviceError(`cannot open GPIO ${pin}: ${reason(err)}`, { cause: err });
    }
  }

  openInput(pin: number): GpioLine {
    return new OnoffLine(pin, this.open(pin, 'in', 'both'));
  }

  openOutput(pin: number, level: Level): GpioLine {
    // 'high' / 'low' set the direction and the level in one step, so the pin never glitches.
    return new OnoffLine(pin, this.open(pin, level ? 'high' : 'low'));
  }
}

// ---- simulation -------------------------------------------------------------------------------

interface SimPin {
  level: Level;
  watchers: Set<(level: Level) => void>;
  generator?: NodeJS.Timeout;
}

/**
 * A bank of simulated pins shared by the process: an output written on pin 17 is seen by an
 * input on pin 17, so demo flows can loop back. Tests drive inputs with `set`.
 */
export class SimulatedGpioChip implements GpioChip {
  readonly backend = 'simulated' as const;
  private readonly pins = new Map<number, SimPin>();

  private pin(n: number): SimPin {
    checkPin(n);
    let p = this.pins.get(n);
    if (!p) {
      p = { level: 0, watchers: new Set() };
      this.pins.set(n, p);
    }
    return p;
  }

  /** Drives a pin's electrical level; watchers hear only real changes, as with edge interrupts. */
  set(n: number, level: Level): void {
    const p = this.pin(n);
    if (p.level === level) return;
    p.level = level;
    for (const w of [...p.watchers]) w(level);
  }

  get(n: number): Level {
    return this.pin(n).level;
  }

  /**
   * Square wave on a pin: one rising edge per period (a flow meter's reed contact for demos).
   * Timer resolution caps it at 500 Hz. Returns a stop function.
   */
  pulses(n: number, hz: number): () => void {
    const p = this.pin(n);
    if (p.generator) clearInterval(p.generator);
    const half = Math.max(1, Math.round(500 / Math.min(500, Math.max(0.001, hz))));
    const timer = setInterval(() => this.set(n, p.level ? 0 : 1), half);
    p.generator = timer;
    return () => {
      clearInterval(timer);
      if (p.generator === timer) p.generator = undefined;
    };
  }

  openInput(n: number): GpioLine {
    const p = this.pin(n);
    const mine = new Set<(level: Level) => void>();
    return {
      pin: n,
      read: () => p.level,
      write: () => {
        throw new DeviceError(`GPIO ${n} is an input`);
      },
      watch: (cb) => {
        mine.add(cb);
        p.watchers.add(cb);
      },
      close: () => {
        for (const cb of mine) p.watchers.delete(cb);
      },
    };
  }

  openOutput(n: number, level: Level): GpioLine {
    this.set(n, level);
    return {
      pin: n,
      read: () => this.get(n),
      write: (l) => this.set(n, l),
      watch: () => undefined,
      close: () => undefined,
    };
  }

  /** Tests start from a quiet bank. */
  reset(): void {
    for (const p of this.pins.values()) if (p.generator) clearInterval(p.generator);
    this.pins.clear();
  }
}

export const simulatedGpio = new SimulatedGpioChip();

export function openGpioChip(backend: Backend, deps?: GpioHardwareDeps): GpioChip {
  return backend === 'simulated' ? simulatedGpio : new OnoffGpioChip(deps);
}
