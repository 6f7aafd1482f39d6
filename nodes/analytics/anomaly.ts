/** plantwire-anomaly: z-score, EWMA chart or median/MAD anomaly score per tag. */
import { errorMessage } from '../shared/errors';
import { choiceSetting, numberSetting } from '../shared/config';
import { completionWatch } from '../shared/completion';
import { onSyncInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { isBatchMessage, samplesFromMessage, type Quality, type SampleMessage } from '../shared/sample';
import { plainSingleNumber } from './sample-output';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { ANOMALY_METHODS, AnomalyEngine, type AnomalyResult } from './detectors';

interface AnomalyDef extends NodeDef {
  method: string;
  window: string;
  threshold: string;
  warmup: string;
}

interface AnomalyPayload {
  value: AnomalyResult['value'];
  score: AnomalyResult['score'];
  anomaly: AnomalyResult['anomaly'];
  baseline: AnomalyResult['baseline'];
}

/**
 * A result's payload, a plain object (prototype Object.prototype, keys value, score, anomaly,
 * baseline) built by a constructor rather than a literal: V8 pretenured the literal's allocation
 * site (most payloads of a burst of messages in flight survive a young-generation collection), and
 * these short-lived objects then cost old-generation collections: z-score 0.79 and MAD 0.70-0.72
 * of the pass-through, against 0.91-0.93 and 0.80-0.82 with node --no-allocation-site-pretenuring
 * (bench/analytics, alone; see AllStats in window.ts).
 */
function Payload(this: AnomalyPayload, r: AnomalyResult): void {
  this.value = r.value;
  this.score = r.score;
  this.anomaly = r.anomaly;
  this.baseline = r.baseline;
}
Payload.prototype = Object.prototype;
const payloadOf = (r: AnomalyResult): AnomalyPayload => new (Payload as unknown as new (r: AnomalyResult) => AnomalyPayload)(r);

/** The single form of a result, written onto the input message (its other properties kept). */
function writeSingle(out: SampleMessage, r: AnomalyResult): void {
  out.topic = r.tag;
  out.payload = payloadOf(r);
  out.quality = r.quality;
  out.timestamp = r.ts;
}

export = function register(RED: NodeAPI): void {
  function AnomalyNode(this: Node, config: AnomalyDef): void {
    RED.nodes.createNode(this, config);
    // At most one status every 250 ms, its text translated only then (a translation per sample
    // cost 10 to 45 us a message: bench/analytics).
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: AnomalyEngine;
    try {
      const window = numberSetting(config.window, 'window', 30);
      engine = new AnomalyEngine({
        method: choiceSetting(config.method, 'method', ANOMALY_METHODS, 'zscore'),
        window,
        threshold: numberSetting(config.threshold, 'threshold', 3),
        warmup: numberSetting(config.warmup, 'warmup', window),
      });
    } catch (err) {
      status.set('error', RED._('anomaly.status.config'));
      this.error(errorMessage(err));
      return;
    }
    status.set('stopped', RED._('anomaly.status.waiting'));
    this.on('close', (_removed: boolean, done: () => void) => {
      status.dispose();
      done();
    });

    // What the newest message showed, read by the status view when the status is shown.
    let warmingDone = 0;
    let flaggedTag: string | undefined;
    let lastScore: number | null = null;
    const statusView = (): { health: 'ok' | 'busy'; text: string } => {
      if (warmingDone > 0) return { health: 'busy', text: RED._('anomaly.status.warmup', { done: warmingDone, total: engine.warmup }) };
      if (flaggedTag !== undefined) return { health: 'ok', text: RED._('anomaly.status.anomaly', { tag: flaggedTag }) };
      return { health: 'ok', text: lastScore === null ? RED._('anomaly.status.bad') : RED._('anomaly.status.score', { score: lastScore.toFixed(2) }) };
    };

    const read = { defaultTag: config.name || 'value' };
    /** What a result shows on the status (read by the status view when the status is shown). */
    const noteShown = (r: AnomalyResult): void => {
      if (r.warmingUp && warmingDone === 0) warmingDone = engine.warmup - r.warmupLeft + 1;
      if (r.anomaly && flaggedTag === undefined) flaggedTag = r.tag;
    };
    /** noteShown for the first result of a message, forgetting the message before. */
    const noteFirst = (r: AnomalyResult): void => {
      warmingDone = 0;
      flaggedTag = undefined;
      lastScore = r.score;
      noteShown(r);
    };

    onSyncInput(this, (msg, send) => {
      try {
        handle(msg as unknown as SampleMessage, send);
      } catch (err) {
        // A refusal shows on the node as well as in Catch and the log.
        status.set('error', RED._('anomaly.status.refused'));
        throw err;
      }
    }, completionWatch(RED, this));

    /**
     * A single-form message of one finite number with a plain quality and timestamp (most
     * messages): judged without the sample object and the arrays of the general path. False,
     * having changed nothing, for any other message.
     */
    function handledAsSingleNumber(m: SampleMessage, send: (m: NodeMessage) => void): boolean {
      const p = plainSingleNumber(m, read);
      if (p === undefined) return false;
      const r = engine.processValue(p.tag, p.value, p.quality, p.ts);
      writeSingle(m, r);
      noteFirst(r);
      status.refresh(statusView);
      send(m as unknown as NodeMessage);
      return true;
    }

    function handle(m: SampleMessage, send: (m: NodeMessage) => void): void {
      if (m.reset === true) {
        engine.reset(typeof m.topic === 'string' && m.topic !== '' ? m.topic : undefined);
        status.set('stopped', RED._('anomaly.status.waiting'));
        return;
      }
      if (handledAsSingleNumber(m, send)) return;
      const batch = isBatchMessage(m);
      const samples = samplesFromMessage(m, read);
      engine.admit(samples.map((s) => s.tag));
      const results: AnomalyResult[] = [];
      let failure: unknown;
      // Every tag of a batch is judged; one bad tag is reported without losing the others' results.
      for (const s of samples) {
        try {
          results.push(engine.process(s));
        } catch (err) {
          failure ??= err;
        }
      }
      if (results.length === 0) {
        if (failure) throw failure;
        return;
      }
      const out = m as SampleMessage;
      if (batch) {
        const payload: Record<string, ReturnType<typeof payloadOf>> = {};
        const quality: Record<string, Quality> = {};
        for (const r of results) {
          payload[r.tag] = payloadOf(r);
          quality[r.tag] = r.quality;
        }
        Object.assign(out, { payload, quality, timestamp: Math.max(...results.map((r) => r.ts)) });
      } else writeSingle(out, results[0]);
      noteFirst(results[0]);
      for (let i = 1; i < results.length; i++) noteShown(results[i]);
      status.refresh(statusView);
      send(out as unknown as NodeMessage);
      if (failure) throw failure;
    }
  }
  RED.nodes.registerType('plantwire-anomaly', AnomalyNode);
};
