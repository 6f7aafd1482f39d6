/** plantwire-alarm: limit alarms with the ISA-18.2 state machine; states kept in the node context. */
import { errorMessage, InputError } from '../shared/errors';
import { boolSetting, choiceSetting, numberSetting, optionalNumberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { readTimestamp, samplesFromMessage, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { ThrottledStatus } from '../shared/throttled-status';
import { afterLoad, SavedState, type StateContext } from '../shared/saved-state';
import { ALARM_PRIORITIES, AlarmEngine, type AlarmEvent } from './alarm-state';

interface AlarmDef extends NodeDef {
  highHigh: string;
  high: string;
  low: string;
  lowLow: string;
  hysteresis: string;
  onDelay: string;
  offDelay: string;
  latch: boolean;
  priority: string;
}

/** Context key of the alarm states (kept across restarts and redeploys). */
const STORE_KEY = 'alarms';

function alarmMessage(ev: AlarmEvent): NodeMessage {
  return {
    topic: ev.tag,
    payload: { state: ev.state, level: ev.level, value: ev.value, since: ev.since },
    priority: ev.priority,
    quality: ev.quality,
    timestamp: ev.ts,
    previous: ev.previous,
  } as NodeMessage;
}

function tagOf(msg: SampleMessage, what: string): string {
  if (typeof msg.topic !== 'string' || msg.topic === '') throw new InputError(`${what} needs the alarm's tag in msg.topic`);
  return msg.topic;
}

export = function register(RED: NodeAPI): void {
  function AlarmNode(this: Node, config: AlarmDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    // At most one status every 250 ms: working it out (the active alarms, a translated text) for
    // every sample capped the node at 15,000 samples/s (bench/analytics).
    const status = new ThrottledStatus(new StatusReporter(this));
    let engine: AlarmEngine;
    try {
      engine = new AlarmEngine({
        highHigh: optionalNumberSetting(config.highHigh, 'highHigh'),
        high: optionalNumberSetting(config.high, 'high'),
        low: optionalNumberSetting(config.low, 'low'),
        lowLow: optionalNumberSetting(config.lowLow, 'lowLow'),
        hysteresis: numberSetting(config.hysteresis, 'hysteresis', 0),
        onDelay: numberSetting(config.onDelay, 'onDelay', 0),
        offDelay: numberSetting(config.offDelay, 'offDelay', 0),
        latch: boolSetting(config.latch),
        priority: choiceSetting(config.priority, 'priority', ALARM_PRIORITIES, 'medium'),
      });
    } catch (err) {
      status.set('error', RED._('alarm.status.config'));
      this.error(errorMessage(err));
      return;
    }
    // "bad input" stays while any tag's input is bad, not only when a message brought the change:
    // a second bad sample changes no state, and the status must not go back to normal for it.
    const statusView = (): { health: 'ok' | 'busy' | 'stopped'; text: string } => {
      if (engine.badInputs > 0) return { health: 'busy', text: RED._('alarm.status.bad') };
      const active = engine.list();
      if (active.length === 0) return engine.size ? { health: 'ok', text: RED._('alarm.status.normal') } : { health: 'stopped', text: RED._('alarm.status.waiting') };
      const unack = active.filter((a) => a.state === 'unack' || a.state === 'rtn-unack').length;
      return { health: 'ok', text: RED._('alarm.status.active', { count: active.length, unack }) };
    };
    const showStatus = () => status.refresh(statusView);
    const emit = (events: AlarmEvent[], send: (m: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void) => {
      if (events.length) {
        save();
        send([events.map(alarmMessage)]);
      }
      showStatus();
    };
    engine.onTimed = (events) => emit(events, (m) => node.send(m));
    // Alarm states kept in the node context; messages wait for an asynchronous store's answer.
    const saved = new SavedState(this.context() as unknown as StateContext, {
      key: STORE_KEY,
      restore: (state) => {
        const rejected = engine.restore(state);
        if (rejected.length) node.warn(RED._('alarm.warn.restore', { tags: rejected.join(', ') }));
        showStatus();
      },
      snapshot: () => engine.snapshot(),
      failed: (what, err) => node.error(RED._(what === 'load' ? 'alarm.error.load' : 'alarm.error.save', { error: err.message })),
    });
    const save = (): void => saved.save();
    // Restoring shows the status; until an asynchronous store answers, the waiting one.
    if (!saved.ready) showStatus();

    // A refusal shows on the node as well as in Catch and the log.
    onInput(
      this,
      afterLoad(saved, (msg, send, done) => handle(msg as unknown as SampleMessage, send, done), () => status.set('error', RED._('alarm.status.refused'))),
    );

    function handle(m: SampleMessage, send: (m: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void, done: (err?: Error) => void): void {
      const at = m.timestamp === undefined ? undefined : readTimestamp(m.timestamp, Date.now);
      if (m.reset === true) {
        engine.reset(typeof m.topic === 'string' && m.topic !== '' ? m.topic : undefined);
        save();
        showStatus();
        done();
        return;
      }
      if (m.action !== undefined) {
        switch (m.action) {
          case 'list':
            send({ topic: 'alarms', payload: engine.list().map((a) => ({ tag: a.tag, state: a.state, level: a.level, value: a.value, since: a.since, priority: a.priority, quality: a.quality })) } as NodeMessage);
            break;
          case 'shelve':
            emit(engine.shelve(tagOf(m, 'shelve'), Number(m.duration ?? NaN), at), send);
            break;
          case 'unshelve':
            emit(engine.unshelve(tagOf(m, 'unshelve'), at), send);
            break;
          default:
            throw new InputError(`msg.action must be "list", "shelve" or "unshelve", not ${JSON.stringify(m.action)?.slice(0, 30)}`);
        }
        done();
        return;
      }
      if (m.ack === true) {
        emit(engine.acknowledge(tagOf(m, 'msg.ack'), at), send);
        done();
        return;
      }
      const samples = samplesFromMessage(m, { defaultTag: config.name || 'value' });
      engine.admit(samples.map((s) => s.tag));
      const events: AlarmEvent[] = [];
      let failure: unknown;
      // Every tag of a batch is evaluated; one bad tag is reported without losing the others.
      for (const s of samples) {
        try {
          events.push(...engine.process(s));
        } catch (err) {
          failure ??= err;
        }
      }
      save();
      emit(events, send);
      if (failure) throw failure;
      done();
    }

    this.on('close', (_removed: boolean, done: () => void) => {
      saved.close(new Error(RED._('alarm.error.closed')));
      engine.dispose();
      status.dispose();
      done();
    });
  }
  RED.nodes.registerType('plantwire-alarm', AlarmNode);
};
