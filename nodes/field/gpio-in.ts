/** plantwire-gpio-in: a digital input as a state (on/off) or as a pulse counter with a rate. */
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, DeviceError, InputError, errorMessage } from '../shared/errors';
import { onInput, type InputHandler } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { batchMessage, singleMessage } from '../shared/sample';
import { afterLoad, SavedState, type StateContext } from '../shared/saved-state';
import { StatusReporter } from '../shared/status';
import { openGpioChip, simulatedGpio, type GpioLine } from './gpio-bus';
import { GpioInput, type CountEvent, type Edge, type InputMode, type StateEvent } from './gpio-input';
import { Reopener } from './reopen';

interface GpioInDef extends NodeDef {
  backend: string;
  pin: string;
  edge: string;
  debounce: string;
  activeLow: boolean;
  mode: string;
  interval: string;
  tag: string;
  simFrequency: string;
}

const TOTAL_KEY = 'total';
/**
 * Node-RED starts nodes one after another: a message sent while this node starts may reach a
 * node that is not listening yet, so the state at start is sent a moment later.
 */
const START_REPORT_MS = 250;

export = function register(RED: NodeAPI): void {
  function GpioInNode(this: Node, config: GpioInDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    const context = this.context();
    let engine: GpioInput;
    let reopener: Reopener<GpioLine>;
    let stopPulses: (() => void) | undefined;
    let startTimer: NodeJS.Timeout | undefined;
    let started = false;
    let startState: StateEvent | undefined;
    let tag: string;
    let mode: InputMode;
    try {
      const backend = choiceSetting(config.backend, 'backend', ['hardware', 'simulated'] as const, 'simulated');
      const pin = numberSetting(config.pin, 'pin');
      if (!Number.isInteger(pin) || pin < 0 || pin > 1023) throw new ConfigError('pin must be a Linux GPIO number 0-1023');
      mode = choiceSetting(config.mode, 'mode', ['state', 'count'] as const, 'state');
      const simFrequency = numberSetting(config.simFrequency, 'simulated pulse frequency', 0);
      if (simFrequency < 0 || simFrequency > 500) throw new ConfigError('simulated pulse frequency must be 0-500 Hz');
      tag = (config.tag ?? '').trim() || `gpio${pin}`;
      engine = new GpioInput({
        edge: choiceSetting(config.edge, 'edge', ['rising', 'falling', 'both'] as const, 'both') as Edge,
        debounce: numberSetting(config.debounce, 'debounce', 0),
        activeLow: boolSetting(config.activeLow),
        mode,
        reportInterval: numberSetting(config.interval, 'report interval', 1000),
      });
      engine.on('state', (e) => {
        status.set('ok', RED._(e.active ? 'gpio-in.status.on' : 'gpio-in.status.off'));
        if (!started) {
          startState = e;
          return;
        }
        node.send(singleMessage({ tag, value: e.active, quality: 'good', ts: e.ts }) as never);
      });
      engine.on('count', (e: CountEvent) => {
        // Kept in node context: with a persistent context store the total survives a restart.
        saved.save();
        const rate = Math.round(e.rate * 1000) / 1000;
        status.set('ok', RED._('gpio-in.status.count', { total: e.total, rate }));
        node.send(
          batchMessage(
            [
              { tag: `${tag}/count`, value: e.total, quality: 'good', ts: e.ts, unit: 'pulses' },
              { tag: `${tag}/rate`, value: rate, quality: 'good', ts: e.ts, unit: 'pulses/s' },
            ],
            tag,
          ) as never,
        );
      });
      reopener = new Reopener<GpioLine>({
        open: () => openGpioChip(backend).openInput(pin),
        opened: (line) => {
          line.watch(
            (level) => engine.level(level),
            (err) => {
              engine.stop();
              line.close();
              status.set('error', RED._('gpio-in.status.failed'));
              node.error(`GPIO ${pin}: ${err.message}; reopening`);
              reopener.lost();
            },
          );
          engine.start(line.read());
          if (!started && !startTimer) {
            startTimer = setTimeout(() => {
              started = true;
              if (startState) node.send(singleMessage({ tag, value: startState.active, quality: 'good', ts: startState.ts }) as never);
            }, START_REPORT_MS);
          }
          if (mode === 'count') status.set('ok', RED._('gpio-in.status.count', { total: engine.total, rate: 0 }));
          if (backend === 'simulated' && simFrequency > 0) stopPulses = simulatedGpio.pulses(pin, simFrequency);
        },
        failed: (err, first, attempt) => {
          status.set('error', RED._('gpio-in.status.nogpio', { n: attempt }));
          if (first) node.error(`GPIO ${pin} (${backend}): ${err.message}; retrying`);
        },
      });
    } catch (err) {
      status.set('error', RED._('gpio-in.status.config'));
      this.error(errorMessage(err));
      return;
    }
    // The pulse total kept in the node context, read back (from any store, asynchronous-only ones
    // included) before the line opens, so that no pulse is counted on a total about to be replaced.
    const saved = new SavedState(context as unknown as StateContext, {
      key: TOTAL_KEY,
      restore: (total) => {
        if (mode === 'count') engine.restoreTotal(total);
      },
      snapshot: () => engine.total,
      failed: (what, err) => node.error(RED._(what === 'load' ? 'gpio-in.error.load' : 'gpio-in.error.save', { error: err.message })),
    });
    saved.whenReady((err) => {
      if (!err) void reopener.start();
    });

    const handler: InputHandler = (msg, send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      if (m.reset !== undefined && m.reset !== true && m.reset !== false) {
        throw new InputError('msg.reset must be true to reset the pulse total');
      }
      if (!reopener.current) throw new DeviceError(`GPIO ${config.pin} is not available (see the node status)`, { code: 'UNAVAILABLE' });
      if (m.reset === true) {
        engine.resetTotal();
        saved.saveNow();
      }
      // A message asks for the present state (or count); it leaves through the normal path.
      if (mode === 'count') engine.report();
      else {
        const e = engine.current();
        send(singleMessage({ tag, value: e.active, quality: 'good', ts: e.ts }) as never);
      }
      done();
    };
    onInput(this, afterLoad(saved, handler, () => undefined));

    this.on('close', (_removed: boolean, done: () => void) => {
      stopPulses?.();
      if (startTimer) clearTimeout(startTimer);
      engine.stop();
      // Pulses since the last report count too.
      if (mode === 'count') saved.saveNow();
      saved.close(new Error(RED._('gpio-in.error.closed')));
      reopener.stop()?.close();
      done();
    });
  }
  RED.nodes.registerType('plantwire-gpio-in', GpioInNode);
};
