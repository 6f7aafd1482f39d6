/** plantwire-resample: one value per tag per epoch-aligned time bucket (mean, min, max, last, sum, count). */
import { errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import { completionWatch } from '../shared/completion';
import { onSyncInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { AGGREGATES, Resampler, type ResampleSample } from './buckets';
import { anyNotGood, handleSamples, resultMessages, shortNumber, tickMs, type SampleInput, type SendResults } from './sample-output';

interface ResampleDef extends NodeDef {
  interval: string;
  aggregate: string;
  fill: string;
}

export = function register(RED: NodeAPI): void {
  function ResampleNode(this: Node, config: ResampleDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: Resampler;
    let interval: number;
    try {
      interval = numberSetting(config.interval, 'interval', 60);
      engine = new Resampler({
        interval,
        aggregate: choiceSetting(config.aggregate, 'aggregate', AGGREGATES, 'mean'),
        fill: choiceSetting(config.fill, 'fill', ['none', 'previous'] as const, 'none'),
      });
    } catch (err) {
      status.set('error', RED._('resample.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('resample.status.waiting'));
    const readOptions = { defaultTag: config.name || 'value' };
    let lastBatch = false;

    // The newest figures, read by the status text functions when the throttled status shows them.
    let shownLast: ResampleSample | undefined;
    let shownCount = 0;
    let shownBatch = false;
    const late = (): string => (engine.late ? ` ${RED._('resample.status.late', { count: engine.late })}` : '');
    const openText = (): string => RED._('resample.status.open') + late();
    const statusText = (): string =>
      (shownBatch ? RED._('resample.status.batch', { count: shownCount }) : shortNumber(shownLast!.value)) + late();
    const show = (out: readonly ResampleSample[], batch: boolean): void => {
      const last = out[out.length - 1];
      if (!last) {
        if (engine.late) status.update('busy', openText);
        return;
      }
      shownLast = last;
      shownCount = out.length;
      shownBatch = batch;
      status.update(engine.late || anyNotGood(out) ? 'busy' : 'ok', statusText);
    };

    // Buckets of quiet tags close by this timer, in each tag's estimated event time.
    const timer = setInterval(() => {
      const out = engine.closeDue(Date.now());
      if (!out.length) return;
      show(out, lastBatch);
      node.send([resultMessages(out, lastBatch) as NodeMessage[]]);
    }, tickMs(interval * 1000));
    this.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(timer);
      status.dispose();
      done();
    });

    const input: SampleInput<ResampleSample> = {
      read: readOptions,
      reset: (tag) => {
        engine.reset(tag);
        status.set('stopped', RED._('resample.status.reset'));
      },
      push: (samples, batch) => {
        const out = engine.push(samples, Date.now());
        lastBatch = batch;
        show(out, batch);
        return out;
      },
      rejected: () => status.set('error', RED._('resample.status.rejected')),
      clone: (x) => RED.util.cloneMessage(x as NodeMessage) as SampleMessage,
    };
    onSyncInput(this, (msg, send) => handleSamples(msg as unknown as SampleMessage, send as SendResults, input), completionWatch(RED, this));
  }
  RED.nodes.registerType('plantwire-resample', ResampleNode);
};
