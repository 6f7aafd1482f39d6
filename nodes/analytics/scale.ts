/** plantwire-scale: linear scaling with clamp; out-of-range input is marked uncertain. */
import { errorMessage } from '../shared/errors';
import { boolSetting, numberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { isBatchMessage, samplesFromMessage, writeSamples, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { LinearScale } from './scaling';

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
    const status = new StatusReporter(this);
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

    onInput(this, (msg, send, done) => {
      const m = msg as unknown as SampleMessage;
      const batch = isBatchMessage(m);
      const out = samplesFromMessage(m, { defaultTag: config.name || 'value' }).map((s) => engine.apply(s));
      const first = out[0];
      if (first) {
        const text = batch ? RED._('scale.status.batch', { count: out.length }) : String(first.value);
        status.set(out.some((s) => s.quality !== 'good') ? 'busy' : 'ok', text);
      }
      send(writeSamples(m, out, batch) as unknown as typeof msg);
      done();
    });
  }
  RED.nodes.registerType('plantwire-scale', ScaleNode);
};
