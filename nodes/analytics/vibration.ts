/** plantwire-vibration: FFT-based vibration figures from waveforms or collected samples. */
import { errorMessage, InputError } from '../shared/errors';
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { samplesFromMessage, typeName, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
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
    // At most one status every 250 ms, translated only then: the "collecting" count every sixteenth
    // of a block cost ~1 us a sample in translations (bench/analytics).
    const status = new ThrottledStatus(new StatusReporter(this));
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
    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      done();
    });
    // What the newest message showed, read by the status views when the status is shown.
    let shownRms = 0;
    let shownHz: number | null = null;
    let shownNotGood = false;
    let collected = 0;
    const resultView = () => ({
      health: shownNotGood ? ('busy' as const) : ('ok' as const),
      text: RED._('vibration.status.result', { rms: shownRms.toPrecision(3), hz: shownHz === null ? '-' : shownHz.toFixed(1) }),
    });
    const gapView = () => ({ health: 'busy' as const, text: RED._('vibration.status.gap') });
    const collectingView = () => ({ health: 'busy' as const, text: RED._('vibration.status.collecting', { count: collected, size: fftSize }) });

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
        samples.map((s): unknown => s.value).filter(isWaveform).map((w) => w.length),
      );
      const results: VibrationResult[] = [];
      let failure: unknown;
      // Samples collected towards the next block of the newest tag that gave no result (-1: none).
      let collecting = -1;
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
            else collecting = r.collected;
          }
        } catch (err) {
          failure ??= err;
        }
      }
      if (results.length) {
        const last = results[results.length - 1].figures;
        shownRms = last.rms;
        shownHz = last.dominantHz;
        shownNotGood = results.some((r) => r.quality !== 'good');
        status.refresh(resultView);
        send([results.map(resultMessage)]);
      } else if (gap) {
        status.refresh(gapView);
      } else if (collecting >= 0) {
        collected = collecting;
        status.refresh(collectingView);
      }
      if (failure) throw failure;
      done();
    }
  }
  RED.nodes.registerType('plantwire-vibration', VibrationNode);
};
