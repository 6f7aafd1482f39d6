/** plantwire-scale: linear scaling with clamp; out-of-range input is marked uncertain. */
import { errorMessage } from '../shared/errors';
import { boolSetting, numberSetting } from '../shared/config';
import { completionWatch } from '../shared/completion';
import { onSyncInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { isBatchMessage, samplesFromMessage, writeSamples, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { anyNotGood } from './sample-output';
import { LinearScale } from './scaling';
import { ThrottledStatus } from '../shared/throttled-status';

interface ScaleDef extends NodeDef {
  inLow: string;
  inHigh: string;
  outLow: string;
  outHigh: string;
  clamp: boolean;
  unit?: string;
}

export = function register(RED: NodeAPI): void {
  function ScaleNode(this: Node, config: ScaleDef): void {
    RED.nodes.createNode(this, config);
    // At most one status every 250 ms: a status per message cost more than the scaling (bench/analytics).
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: LinearScale;
    try {
      engine = new LinearScale({
        inLow: numberSetting(config.inLow, 'inLow', 4),
        inHigh: numberSetting(config.inHigh, 'inHigh', 20),
        outLow: numberSetting(config.outLow, 'outLow', 0),
        outHigh: numberSetting(config.outHigh, 'outHigh', 100),
        clamp: boolSetting(config.clamp),
        unit: typeof config.unit === 'string' ? config.unit.trim() : '',
      });
    } catch (err) {
      status.set('error', RED._('scale.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('scale.status.waiting'));
    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      done();
    });
    const readOptions = { defaultTag: config.name || 'value' };
    // The newest figures, read by the status text when the throttled status shows it.
    let shownFirst: unknown;
    let shownCount = 0;
    let shownBatch = false;
    const statusText = (): string => (shownBatch ? RED._('scale.status.batch', { count: shownCount }) : String(shownFirst));

    onSyncInput(this, (msg, send) => {
      const m = msg as unknown as SampleMessage;
      const batch = isBatchMessage(m);
      const out = samplesFromMessage(m, readOptions);
      for (let i = 0; i < out.length; i++) out[i] = engine.apply(out[i]);
      const first = out[0];
      if (first) {
        shownFirst = first.value;
        shownCount = out.length;
        shownBatch = batch;
        status.update(anyNotGood(out) ? 'busy' : 'ok', statusText);
      }
      send(writeSamples(m, out, batch) as unknown as typeof msg);
    }, completionWatch(RED, this));
  }
  RED.nodes.registerType('plantwire-scale', ScaleNode);
};
