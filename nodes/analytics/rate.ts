/**
 * plantwire-rate: counters to rates (rollover and reset aware), or rates to running totals. The
 * per-tag state lives in the node context, so totals survive a redeploy, and a Node-RED restart
 * too when a persistent context store is configured.
 */
import { errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, Send } from '../shared/red';
import { completionWatch } from '../shared/completion';
import { HELD, onSyncInput, settleLater } from '../shared/input';
import { type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { CounterRate, type RateSample } from './counter-rate';
import { anyNotGood, handleSamples, shortNumber, type SampleInput, type SendResults } from './sample-output';
import { afterLoad, SavedState, type StateContext } from '../shared/saved-state';

interface RateDef extends NodeDef {
  mode: string;
  per: string;
  rollover: string;
}

/** Context key of the saved state: `{ mode, per, tags: { [tag]: { v, ts, q, total, c } } }`. */
const STATE_KEY = 'plantwire-rate';

export = function register(RED: NodeAPI): void {
  function RateNode(this: Node, config: RateDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: CounterRate;
    try {
      engine = new CounterRate({
        mode: choiceSetting(config.mode, 'mode', ['rate', 'total'] as const, 'rate'),
        per: choiceSetting(config.per, 'per', ['s', 'min', 'h'] as const, 's'),
        rollover: numberSetting(config.rollover, 'rollover', 0),
      });
    } catch (err) {
      status.set('error', RED._('rate.status.config'));
      this.error(errorMessage(err));
      return;
    }
    const readOptions = { defaultTag: config.name || 'value' };
    const unit = `/${config.per || 's'}`;

    // The newest figures, read by the status text functions when the throttled status shows them.
    let shownValue: unknown;
    let shownCount = 0;
    let shownBatch = false;
    const statusText = (): string => {
      const text = shownBatch ? RED._('rate.status.batch', { count: shownCount }) : `${shortNumber(shownValue)}${config.mode === 'total' ? '' : unit}`;
      return text + (engine.resets ? ` ${RED._('rate.status.resets', { count: engine.resets })}` : '');
    };
    const baselineText = (): string => RED._('rate.status.baseline');
    const show = (last: RateSample, count: number, batch: boolean, notGood: boolean): void => {
      shownValue = last.value;
      shownCount = count;
      shownBatch = batch;
      status.update(notGood ? 'busy' : 'ok', statusText);
    };

    const input: SampleInput<RateSample> = {
      read: readOptions,
      reset: (tag) => {
        engine.reset(tag);
        saved.saveNow();
        status.set('stopped', RED._('rate.status.reset'));
      },
      push: (samples, batch) => {
        const out: RateSample[] = engine.push(samples);
        saved.save();
        const last = out[out.length - 1];
        if (last) show(last, out.length, batch, anyNotGood(out));
        else status.update('ok', baselineText);
        return out;
      },
      pushOne: (tag, value, quality, ts, unit) => {
        const r = engine.pushOne(tag, value, quality, ts, unit);
        saved.save();
        if (r) show(r, 1, false, r.quality !== 'good');
        else status.update('ok', baselineText);
        return r;
      },
      rejected: () => status.set('error', RED._('rate.status.rejected')),
      clone: (x) => RED.util.cloneMessage(x as NodeMessage) as SampleMessage,
    };
    /** Handles one message; throws when it is refused. */
    const handle = (msg: NodeMessageInFlow, send: Send): void => handleSamples(msg as unknown as SampleMessage, send as SendResults, input);

    status.set('stopped', RED._('rate.status.waiting'));
    // Totals and counters kept in the node context; messages wait for an asynchronous store's answer.
    const saved = new SavedState(this.context() as unknown as StateContext, {
      key: STATE_KEY,
      restore: (state) => {
        const n = engine.restore(state);
        if (n > 0) status.set('ok', RED._('rate.status.restored', { count: n }));
      },
      snapshot: () => engine.state,
      failed: (what, err) => node.error(RED._(what === 'load' ? 'rate.error.load' : 'rate.error.save', { error: err.message })),
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      saved.close(new Error(RED._('rate.error.closed')));
      done();
    });

    // Until the saved state is back (an asynchronous store), messages wait for it, in order.
    const afterState = afterLoad(
      saved,
      (msg, send, done) => {
        handle(msg, send);
        done();
      },
      () => undefined, // handleSamples has shown the refusal
    );
    onSyncInput(this, (msg, send, done) => {
      if (saved.ready) {
        handle(msg, send);
        return;
      }
      afterState(msg, send, settleLater(node, done));
      return HELD;
    }, completionWatch(RED, this));
  }
  RED.nodes.registerType('plantwire-rate', RateNode);
};
