/** plantwire-oee: availability, performance, quality and OEE per line and shift; counters kept in the node context. */
import { errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { samplesFromMessage, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { afterLoad, SavedState, type StateContext } from '../shared/saved-state';
import { COUNT_MODES, lineOf, OeeEngine, type OeeReport } from './oee-calc';

interface OeeDef extends NodeDef {
  idealCycleTime: string;
  period: string;
  resetAt: string | string[];
  countMode: string;
  rollover: string;
  timeZone: string;
}

/** Context key of the line counters (kept across restarts and redeploys). */
const STORE_KEY = 'oee';

function reportMessage(r: OeeReport): NodeMessage {
  const msg: Record<string, unknown> = {
    topic: r.line || 'oee',
    payload: r.figures,
    quality: r.quality,
    timestamp: r.ts,
    shiftStart: r.shiftStart,
    closing: r.closing,
  };
  // Only on a closing report that covers several shifts of a long gap: other reports look as before.
  if (r.merged) msg.merged = true;
  return msg as unknown as NodeMessage;
}

/** msg.topic names a line ("line1") or one of its signals ("line1/good"). */
function lineFromTopic(topic: unknown): string | undefined {
  if (typeof topic !== 'string' || topic === '') return undefined;
  try {
    return lineOf(topic)[0];
  } catch {
    return topic === 'oee' ? '' : topic;
  }
}

export = function register(RED: NodeAPI): void {
  function OeeNode(this: Node, config: OeeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    // Status at most every 250 ms, translated only then (a translation per sample cost up to ~45 us a
    // message: bench/analytics). Reports (once a period) show at once.
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: OeeEngine;
    try {
      engine = new OeeEngine({
        idealCycleTime: numberSetting(config.idealCycleTime, 'idealCycleTime'),
        period: numberSetting(config.period, 'period', 60),
        resetAt: config.resetAt ?? '',
        countMode: choiceSetting(config.countMode, 'countMode', COUNT_MODES, 'increment'),
        rollover: numberSetting(config.rollover, 'rollover', 0),
        timeZone: typeof config.timeZone === 'string' && config.timeZone.trim() !== '' ? config.timeZone.trim() : undefined,
      });
    } catch (err) {
      status.set('error', RED._('oee.status.config'));
      this.error(errorMessage(err));
      return;
    }

    const show = (reports: OeeReport[]) => {
      const r = reports[reports.length - 1];
      if (!r) return;
      const pct = (v: number | null) => (v === null ? '-' : (v * 100).toFixed(1) + '%');
      status.set(r.quality === 'good' ? 'ok' : 'busy', RED._('oee.status.figures', { oee: pct(r.figures.oee), a: pct(r.figures.availability) }));
    };
    const runningView = () => ({ health: 'ok' as const, text: RED._('oee.status.running', { count: engine.lineNames.length }) });
    const emit = (reports: OeeReport[], send: (m: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void) => {
      if (!reports.length) return;
      send([reports.map(reportMessage)]);
      show(reports);
    };
    engine.onReport = (reports) => {
      save();
      emit(reports, (m) => node.send(m));
    };
    status.set('stopped', RED._('oee.status.waiting'));
    // Counters kept in the node context; messages wait for an asynchronous store's answer, and the
    // period timers start once the counters are back.
    const saved = new SavedState(this.context() as unknown as StateContext, {
      key: STORE_KEY,
      restore: (state) => {
        const rejected = engine.restore(state);
        if (rejected.length) node.warn(RED._('oee.warn.restore', { lines: rejected.join(', ') }));
        engine.start();
        if (engine.lineNames.length) status.set('ok', RED._('oee.status.restored', { count: engine.lineNames.length }));
      },
      snapshot: () => engine.snapshot(),
      failed: (what, err) => {
        node.error(RED._(what === 'load' ? 'oee.error.load' : 'oee.error.save', { error: err.message }));
        if (what === 'load') engine.start();
      },
    });
    const save = (): void => saved.save();

    // A refusal shows on the node as well as in Catch and the log.
    onInput(
      this,
      afterLoad(saved, (msg, send, done) => handle(msg as unknown as SampleMessage, send, done), () => status.set('error', RED._('oee.status.refused'))),
    );

    function handle(m: SampleMessage, send: (m: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void, done: (err?: Error) => void): void {
      if (m.reset === true) {
        engine.reset(lineFromTopic(m.topic));
        save();
        status.set('stopped', RED._('oee.status.waiting'));
        done();
        return;
      }
      if (m.action === 'report') {
        emit(engine.report(lineFromTopic(m.topic)), send);
        save();
        done();
        return;
      }
      const samples = samplesFromMessage(m);
      engine.admit(samples.map((s) => s.tag));
      // One call for the whole message: its lines share the budget of shift closes (a batch of
      // 1,000 lines after a weeks-long gap made a million closing reports at once).
      const { reports: closing, failure } = engine.processBatch(samples);
      save();
      emit(closing, send);
      if (!closing.length && !failure && samples.length) status.refresh(runningView);
      if (failure) throw failure;
      done();
    }

    this.on('close', (_removed: boolean, done: () => void) => {
      saved.close(new Error(RED._('oee.error.closed')));
      engine.dispose();
      status.dispose();
      done();
    });
  }

  RED.nodes.registerType('plantwire-oee', OeeNode);
};
