/**
 * plantwire-rate: counters to rates (rollover and reset aware), or rates to running totals. The
 * per-tag state lives in the node context, so totals survive a redeploy, and a Node-RED restart
 * too when a persistent context store is configured.
 */
import { InputError, errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import type { Done, Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, Send } from '../shared/red';
import { HELD, onSyncInput, settleLater } from '../shared/input';
import { type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { CounterRate, type RateSample } from './counter-rate';
import { anyNotGood, handleSamples, shortNumber, type SampleInput, type SendResults } from './sample-output';

interface RateDef extends NodeDef {
  mode: string;
  per: string;
  rollover: string;
}

/** Context key of the saved state: `{ mode, per, tags: { [tag]: { v, ts, q, total, c } } }`. */
const STATE_KEY = 'plantwire-rate';
const SAVE_EVERY_MS = 1000;

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
    const ctx = this.context();
    const readOptions = { defaultTag: config.name || 'value' };
    const unit = `/${config.per || 's'}`;
    // Saved at once, then at most once a second while messages flow, and on close: a context set per
    // message halved the node's throughput (bench/analytics), and a file store without cache would
    // write a file each time. The file store flushes every 30 s by default anyway.
    // A write opens a quiet period (a timer, no clock read per message); what changes during it is
    // written when it ends.
    let saveTimer: ReturnType<typeof setTimeout> | undefined;
    let dirty = false;
    const writeState = (): void => {
      dirty = false;
      ctx.set(STATE_KEY, engine.state, (err?: Error) => {
        // Asynchronous store failure: no done() to report it through.
        if (err) node.error(RED._('rate.error.save', { error: err.message }));
      });
    };
    const quietEnd = (): void => {
      saveTimer = undefined;
      if (!dirty) return;
      writeState();
      saveTimer = setTimeout(quietEnd, SAVE_EVERY_MS);
    };
    const save = (now = false): void => {
      if (!now && saveTimer) {
        dirty = true;
        return;
      }
      writeState();
      saveTimer ??= setTimeout(quietEnd, SAVE_EVERY_MS);
    };

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

    // The saved state may come from an asynchronous store: hold messages until it is back.
    let ready = false;
    const waiting: Array<[NodeMessageInFlow, Send, Done]> = [];

    const input: SampleInput<RateSample> = {
      read: readOptions,
      reset: (tag) => {
        engine.reset(tag);
        save(true);
        status.set('stopped', RED._('rate.status.reset'));
      },
      push: (samples, batch) => {
        const out: RateSample[] = engine.push(samples);
        save();
        const last = out[out.length - 1];
        if (last) show(last, out.length, batch, anyNotGood(out));
        else status.update('ok', baselineText);
        return out;
      },
      pushOne: (tag, value, quality, ts, unit) => {
        const r = engine.pushOne(tag, value, quality, ts, unit);
        save();
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
    ctx.get(STATE_KEY, (err: Error | undefined, saved: unknown) => {
      if (err) node.error(RED._('rate.error.load', { error: err.message }));
      else {
        const n = engine.restore(saved);
        if (n > 0) status.set('ok', RED._('rate.status.restored', { count: n }));
      }
      ready = true;
      for (const [msg, send, done] of waiting.splice(0)) {
        try {
          handle(msg, send);
          done();
        } catch (e) {
          done(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      if (saveTimer) clearTimeout(saveTimer);
      saveTimer = undefined;
      if (dirty) writeState();
      for (const [, , d] of waiting.splice(0)) d(new Error(RED._('rate.error.closed')));
      done();
    });

    onSyncInput(this, (msg, send, done) => {
      if (!ready) {
        if (waiting.length >= 10_000) throw new InputError('the saved state is still loading and 10000 messages are waiting');
        waiting.push([msg, send, settleLater(node, done)]);
        return HELD;
      }
      handle(msg, send);
    });
  }
  RED.nodes.registerType('plantwire-rate', RateNode);
};
