/** plantwire-gpio-out: drives a digital output from messages, with optional timed pulses. */
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, DeviceError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { StatusReporter } from '../shared/status';
import { openGpioChip, type GpioLine } from './gpio-bus';
import { GpioOutput, parseCommand, parsePulse } from './gpio-output';
import { Reopener } from './reopen';

interface GpioOutDef extends NodeDef {
  backend: string;
  pin: string;
  initial: string;
  activeLow: boolean;
  pulse: string;
}

/** The editor stores "0"/"1"; flows written by hand may say true/false or 1/0. */
function initialSetting(raw: unknown): boolean {
  if (raw === true || raw === 1) return true;
  if (raw === false || raw === 0) return false;
  return choiceSetting(raw, 'initial', ['0', '1'] as const, '0') === '1';
}

export = function register(RED: NodeAPI): void {
  function GpioOutNode(this: Node, config: GpioOutDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    let reopener: Reopener<GpioLine>;
    let output: GpioOutput | undefined;
    let pulseSetting = 0;
    let pin: number;
    const show = () => status.set('ok', RED._(output?.pulsing ? 'gpio-out.status.pulse' : output?.active ? 'gpio-out.status.on' : 'gpio-out.status.off'));
    try {
      const backend = choiceSetting(config.backend, 'backend', ['hardware', 'simulated'] as const, 'simulated');
      pin = numberSetting(config.pin, 'pin');
      if (!Number.isInteger(pin) || pin < 0 || pin > 1023) throw new ConfigError('pin must be a Linux GPIO number 0-1023');
      const initial = initialSetting(config.initial);
      const activeLow = boolSetting(config.activeLow);
      pulseSetting = numberSetting(config.pulse, 'pulse', 0);
      if (pulseSetting !== 0) pulseSetting = parsePulse(pulseSetting, 'pulse');
      reopener = new Reopener<GpioLine>({
        open: () => {
          const level = initial !== activeLow ? 1 : 0;
          return openGpioChip(backend).openOutput(pin, level);
        },
        opened: (line) => {
          output = new GpioOutput((level) => line.write(level), activeLow);
          output.set(initial);
          show();
        },
        failed: (err, first, attempt) => {
          status.set('error', RED._('gpio-out.status.nogpio', { n: attempt }));
          if (first) node.error(`GPIO ${pin} (${backend}): ${err.message}; retrying`);
        },
      });
    } catch (err) {
      status.set('error', RED._('gpio-out.status.config'));
      this.error(errorMessage(err));
      return;
    }
    void reopener.start();

    onInput(this, (msg, _send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      const pulse = m.pulse !== undefined ? parsePulse(m.pulse) : undefined;
      // msg.pulse alone is a pulse command; otherwise the payload says on or off.
      const active = pulse !== undefined && m.payload === undefined ? true : parseCommand(m.payload);
      if (!output) throw new DeviceError(`GPIO ${pin} is not available (see the node status)`, { code: 'UNAVAILABLE' });
      const ms = pulse ?? (pulseSetting > 0 ? pulseSetting : undefined);
      if (active && ms !== undefined) output.pulse(ms, show);
      else output.set(active);
      show();
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      output?.stop();
      reopener.stop()?.close();
      done();
    });
  }
  RED.nodes.registerType('plantwire-gpio-out', GpioOutNode);
};
