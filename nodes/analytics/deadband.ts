/** plantwire-deadband: report by exception (absolute, percent of span, swinging-door compression) with heartbeat. */
import { errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import { completionWatch } from '../shared/completion';
import { onSyncInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { DeadbandFilter, type DeadbandSample } from './deadband-filter';
import { anyNotGood, handleSamples, resultMessages, tickMs, type SampleInput, type SendResults } from './sample-output';

interface DeadbandDef extends NodeDef {
  mode: string;
  deadband: string;
  deviation: string;
  rangeLow: string;
  rangeHigh: string;
  heartbeat: string;
}

export = function register(RED: NodeAPI): void {
  function DeadbandNode(this: Node, config: DeadbandDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new ThrottledStatus(new StatusReporter(this));
    let filter: DeadbandFilter;
    let heartbeat: number;
    try {
      heartbeat = numberSetting(config.heartbeat, 'heartbeat', 0);
      filter = new DeadbandFilter({
        mode: choiceSetting(config.mode, 'mode', ['absolute', 'percent', 'swinging-door'] as const, 'absolute'),
        deadband: numberSetting(config.deadband, 'deadband', 0),
        deviation: numberSetting(config.deviation, 'deviation', 0),
        rangeLow: numberSetting(config.rangeLow, 'rangeLow', 0),
        rangeHigh: numberSetting(config.rangeHigh, 'rangeHigh', 100),
        heartbeat,
      });
    } catch (err) {
      status.set('error', RED._('deadband.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('deadband.status.waiting'));
    const readOptions = { defaultTag: config.name || 'value' };
    let lastBatch = false;
    let seen = 0;
    let passed = 0;

    const statusText = (): string => RED._('deadband.status.passed', { passed, seen });
    const showPassed = (count: number, notGood: boolean): void => {
      passed += count;
      status.update(notGood ? 'busy' : 'ok', statusText);
    };
    const show = (out: readonly DeadbandSample[]): void => showPassed(out.length, anyNotGood(out));
    // The clock only matters to the heartbeat.
    const now = (): number => (heartbeat > 0 ? Date.now() : 0);
    const emit = (out: DeadbandSample[]): void => {
      if (!out.length) return;
      show(out);
      node.send([resultMessages(out, lastBatch) as NodeMessage[]]);
    };

    const timer = heartbeat > 0 ? setInterval(() => emit(filter.heartbeats(Date.now())), tickMs(heartbeat * 1000)) : undefined;
    this.on('close', (_removed: boolean, done: () => void) => {
      if (timer) clearInterval(timer);
      status.dispose();
      done();
    });

    const input: SampleInput<DeadbandSample> = {
      read: readOptions,
      reset: (tag) => {
        filter.reset(tag);
        status.set('stopped', RED._('deadband.status.reset'));
      },
      push: (samples, batch) => {
        const out = filter.push(samples, now());
        seen += samples.length;
        lastBatch = batch;
        show(out);
        return out;
      },
      // Swinging door may archive two points for one sample: it takes push only.
      pushOne: filter.passesOneByOne
        ? (tag, value, quality, ts, unit) => {
            const r = filter.pushOne(tag, value, quality, ts, unit, now());
            seen++;
            lastBatch = false;
            if (r === undefined) showPassed(0, false);
            else showPassed(1, r.quality !== 'good');
            return r;
          }
        : undefined,
      rejected: () => status.set('error', RED._('deadband.status.rejected')),
      clone: (x) => RED.util.cloneMessage(x as NodeMessage) as SampleMessage,
    };
    onSyncInput(this, (msg, send) => {
      const m = msg as unknown as SampleMessage;
      if (m.reset !== true && m.flush === true) {
        // Archive the swinging door's held point(s) now: msg.topic's tag, or all.
        emit(filter.flush(typeof m.topic === 'string' && m.topic !== '' ? m.topic : undefined));
        return;
      }
      handleSamples(m, send as SendResults, input);
    }, completionWatch(RED, this));
  }
  RED.nodes.registerType('plantwire-deadband', DeadbandNode);
};
