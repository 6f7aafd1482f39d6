/** plantwire-vibration: FFT-based vibration figures from waveforms or collected samples. */
import { errorMessage, InputError } from '../shared/errors';
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { samplesFromMessage, typeName, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { isWaveform, parseBands, VibrationEngine, WINDOW_FUNCTIONS, type VibrationResult } from './spectrum';

interface VibrationDef extends NodeDef {
  sampleRate: string;
  fftSize: string;
  windowFn: string;
  bands: string | Array<[number, number]>;
  spectrum: boolean;
}

function resultMessage(r: VibrationResult): NodeMessage {
  return { topic: r.tag, payload: r.figures, quality: r.quality, timestamp: r.ts } as unknown as NodeMessage;
}

export = function register(RED: NodeAPI): void {
  function VibrationNode(this: Node, config: VibrationDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    let engine: VibrationEngine;
    try {
      engine = new VibrationEngine({
        sampleRate: numberSetting(config.sampleRate, 'sampleRate', 1000),
        fftSize: numberSetting(config.fftSize, 'fftSize', 1024),
        windowFn: choiceSetting(config.windowFn, 'windowFn', WINDOW_FUNCTIONS, 'hann'),
        bands: parseBands(config.bands),
        spectrum: boolSetting(config.spectrum),
      });
    } catch (err) {
      status.set('error', RED._('vibration.status.config'));
      this.error(errorMessage(err));
      return;
    }
    const fftSize = engine.o.fftSize;
    status.set('stopped', RED._('vibration.status.waiting'));

    onInput(this, (msg, send, done) => {
      try {
        handle(msg as unknown as SampleMessage, send, done);
      } catch (err) {
        // A refusal shows on the node as well as in Catch and the log.
        status.set('error', RED._('vibration.status.refused'));
        throw err;
      }
    });

    function handle(m: SampleMessage, send: (m: Array<NodeMessage | NodeMessage[] | null>) => void, done: (err?: Error) => void): void {
      if (m.reset === true) {
        engine.reset(typeof m.topic === 'string' && m.topic !== '' ? m.topic : undefined);
        status.set('stopped', RED._('vibration.status.waiting'));
        done();
        return;
      }
      // Waveforms travel as arrays, which plain samples may not be: read values as objects and sort them here.
      const samples = samplesFromMessage(m, { defaultTag: config.name || 'value', allowObjectValues: true });
      engine.admit(
        samples.map((s) => s.tag),
        samples.filter((s) => s.value !== null && typeof s.value !== 'object').map((s) => s.tag),
      );
      const results: VibrationResult[] = [];
      let failure: unknown;
      let collecting: { tag: string; count: number } | undefined;
      let gap = false;
      for (const s of samples) {
        try {
          const v: unknown = s.value;
          if (isWaveform(v) || Buffer.isBuffer(v)) {
            results.push(...engine.waveform(s.tag, v, s.quality, s.ts));
          } else if (v !== null && typeof v === 'object') {
            throw new InputError(`tag "${s.tag}": expected a number or a waveform array, not ${typeName(v)}`);
          } else {
            const r = engine.sample(s);
            if (r.result) results.push(r.result);
            else if (r.gap) gap = true;
            else collecting = { tag: s.tag, count: r.collected };
          }
        } catch (err) {
          failure ??= err;
        }
      }
      if (results.length) {
        const last = results[results.length - 1].figures;
        const hz = last.dominantHz === null ? '-' : last.dominantHz.toFixed(1);
        status.set(results.some((r) => r.quality !== 'good') ? 'busy' : 'ok', RED._('vibration.status.result', { rms: last.rms.toPrecision(3), hz }));
        send([results.map(resultMessage)]);
      } else if (gap) {
        status.set('busy', RED._('vibration.status.gap'));
      } else if (collecting && (collecting.count === 1 || collecting.count % Math.max(1, fftSize / 16) === 0)) {
        // Every sample would be a websocket message to the editor; a sixteenth of a block is enough.
        status.set('busy', RED._('vibration.status.collecting', { count: collecting.count, size: fftSize }));
      }
      if (failure) throw failure;
      done();
    }
  }
  RED.nodes.registerType('plantwire-vibration', VibrationNode);
};
