/**
 * plantwire-modbus-read: polls typed tags through the connection's session (poller.ts) and emits
 * them as samples, one batch per poll or one message per tag. Also serves the editor's "Test read".
 */
import { choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, DeviceError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { singleMessage, type Quality, type Sample, type SampleMessage, type SampleValue } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { connectionApi, type ModbusConnectionApi } from './connection-users';
import { ModbusPoller } from './poller';
import type { ModbusClientSession } from './session';
import { readTags, readUnitId } from './tag-settings';
import type { PollResult, SessionState, TagDef } from './types';

interface ReadDef extends NodeDef {
  connection: string;
  unitId: string | number;
  interval: string | number;
  output: string;
  tags: unknown;
}

type Output = 'batch' | 'single';

/** The samples of a poll (single form), straight from its arrays like the batch. */
function samplesOf(r: PollResult): Sample[] {
  return r.tags.map((t, i) => {
    const out: Sample = { tag: t.name, value: r.values[i], quality: r.good[i] ? 'good' : 'bad', ts: r.ts };
    if (t.unit) out.unit = t.unit;
    return out;
  });
}

/** The two objects of a batch with a key per tag (payload and quality), made ahead by BatchAhead. */
interface BatchObjects {
  payload: Record<string, SampleValue>;
  quality: Record<string, Quality>;
}

/**
 * The batch form of a poll, straight from its arrays (what batchMessage makes of its samples).
 * With `made` (objects that already hold every tag, quality 'good'), only the values and the bad
 * qualities are set.
 */
function batchOfPoll(r: PollResult, made?: BatchObjects): SampleMessage {
  const payload: Record<string, SampleValue> = made ? made.payload : {};
  const quality: Record<string, Quality> = made ? made.quality : {};
  let units: Record<string, string> | undefined;
  const { tags, values, good } = r;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    payload[t.name] = values[i];
    if (!made || !good[i]) quality[t.name] = good[i] ? 'good' : 'bad';
    if (t.unit) (units ??= {})[t.name] = t.unit;
  }
  const msg: SampleMessage = { payload, quality, timestamp: r.ts };
  if (units) msg.units = units;
  return msg;
}

/**
 * The objects of the next batch, made while its poll's requests are on the wire. A batch holds two
 * objects with a key per tag (payload and quality); making them costs about as much as decoding
 * the tags, and made after the poll that time is time the device waits for the next request
 * (bench/modbus-poll, requests in flight). Made ahead, the end of the poll only sets the values
 * (and marks the bad tags) in objects that already have every key, in tag order.
 */
class BatchAhead {
  private ready: BatchObjects | undefined;
  private pending: NodeJS.Immediate | undefined;

  constructor(private readonly tags: readonly TagDef[]) {}

  /** Call just after a poll started: the objects are made on the next turn, once its requests left. */
  prepare(): void {
    if (this.ready || this.pending) return;
    this.pending = setImmediate(() => {
      this.pending = undefined;
      const payload: Record<string, SampleValue> = {};
      const quality: Record<string, Quality> = {};
      for (const t of this.tags) {
        payload[t.name] = 0;
        quality[t.name] = 'good';
      }
      this.ready = { payload, quality };
    });
  }

  /** The batch of `r`: in the objects made ahead when they are ready (same keys, same order), else made now. */
  take(r: PollResult): SampleMessage {
    const made = this.ready;
    this.ready = undefined;
    return batchOfPoll(r, made && r.tags === this.tags ? made : undefined);
  }

  close(): void {
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
    this.ready = undefined;
  }
}

/** One batch, or one message per tag, for a poll. `base` (an input message) lends its other properties. */
function messagesOf(
  r: PollResult,
  output: Output,
  base: NodeMessage | undefined,
  clone: (m: NodeMessage) => NodeMessage,
  ahead?: BatchAhead,
): NodeMessage[] {
  if (output === 'batch') {
    const form = ahead ? ahead.take(r) : batchOfPoll(r);
    if (!base) return [form as NodeMessage];
    const m = base as NodeMessage & Record<string, unknown>;
    delete m.unit;
    delete m.units;
    return [Object.assign(m, form) as NodeMessage];
  }
  const samples = samplesOf(r);
  // The copies of the input for all but the last message leave out what each message replaces
  // (payload, quality, unit, units): a large input payload copied once per tag held the event loop
  // for a second with 1,000 tags. The user's other properties are copied, one copy each.
  let rest: NodeMessage | undefined;
  const copy = (): NodeMessage => {
    if (!rest) {
      const { payload: _payload, quality: _quality, unit: _unit, units: _units, ...others } = base as NodeMessage & Record<string, unknown>;
      rest = others as NodeMessage;
    }
    return clone(rest);
  };
  return samples.map((s, i) => {
    const form = singleMessage(s);
    if (!base) return form as NodeMessage;
    const m = (i === samples.length - 1 ? base : copy()) as NodeMessage & Record<string, unknown>;
    delete m.unit;
    delete m.units;
    return Object.assign(m, form) as NodeMessage;
  });
}

export = function register(RED: NodeAPI): void {
  function ModbusReadNode(this: Node, config: ReadDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    const conn = connectionApi(RED.nodes.getNode(config.connection));

    let tags: TagDef[];
    let unitId: number;
    let interval: number;
    let output: Output;
    let session: ModbusClientSession | undefined;
    let poller: ModbusPoller;
    try {
      if (!conn) throw new ConfigError('no Modbus connection is chosen (or it is disabled): choose one in the node settings');
      tags = readTags(config.tags);
      unitId = readUnitId(config.unitId);
      interval = numberSetting(config.interval, 'interval', 1000);
      // Below 10 ms a poll loop only keeps the device busy; 0 means "only when a message arrives".
      if (!Number.isInteger(interval) || interval < 0 || (interval > 0 && interval < 10)) {
        throw new ConfigError(`interval must be 0 (read on input only) or a whole number of ms from 10, not ${interval}`);
      }
      output = choiceSetting(config.output, 'output', ['batch', 'single'] as const, 'batch');
      if (conn.configError) throw new ConfigError(`its connection (${conn.endpoint}) has invalid settings: ${conn.configError}`);
      session = conn.register(this);
      poller = new ModbusPoller({ session, unitId, tags, limits: conn.limits });
    } catch (err) {
      status.set('error', RED._(conn ? 'modbus-read.status.config' : 'modbus-read.status.noConnection'));
      this.error(errorMessage(err));
      this.on('close', (_removed: boolean, done: () => void) => (session && conn ? conn.deregister(node, done) : done()));
      return;
    }
    const s = session;
    const api = conn as ModbusConnectionApi<ModbusClientSession>;

    let closed = false;
    let failing = false;

    const showLink = (state: SessionState) => {
      if (state === 'connecting' || state === 'idle') status.set('busy', RED._('modbus-read.status.connecting'));
      else if (state === 'backoff') status.set('error', RED._('modbus-read.status.backoff'));
      else if (state === 'closed') status.set('stopped', RED._('modbus-read.status.disconnected'));
      else if (interval === 0) status.set('ok', RED._('modbus-read.status.waiting'));
    };

    // The healthy text changes only with the overrun count: translated once per change, not once
    // a poll (a translation cost as much as decoding the tags, bench/modbus-poll).
    let okText = '';
    let okOverruns = -1;
    /** Status after a poll; one logged error when reading starts to fail, one line when it recovers. */
    const report = (r: PollResult) => {
      const bad = r.bad;
      if (bad === 0 && r.errors.length === 0) {
        if (failing) node.log(`reading unit ${unitId} at ${api.endpoint} again`);
        failing = false;
        const overruns = poller.overruns;
        if (overruns !== okOverruns) {
          okOverruns = overruns;
          okText =
            overruns > 0
              ? RED._('modbus-read.status.overrun', { count: r.tags.length, overruns })
              : RED._('modbus-read.status.ok', { count: r.tags.length });
        }
        status.set('ok', okText);
        return;
      }
      const wasFailing = failing;
      failing = true;
      const health = s.unitHealth(unitId);
      if (s.state === 'backoff' || s.state === 'connecting') status.set('error', RED._('modbus-read.status.backoff'));
      else if (health.state !== 'closed' || r.failedRequests === r.requests) status.set('error', RED._('modbus-read.status.unitFailing', { unit: unitId }));
      else status.set('error', RED._('modbus-read.status.partial', { bad, count: r.tags.length }));
      // Once when reading starts to fail, not once a poll: a dead device must not flood the log.
      if (!wasFailing) node.error(`unit ${unitId} at ${api.endpoint}: ${r.errors[0] ?? `${bad} tag(s) bad`}`);
    };

    const onState = (state: SessionState) => {
      if (!closed) showLink(state);
    };
    s.on('state', onState);
    showLink(s.state);

    poller.on('poll', (r: PollResult) => {
      if (closed) return;
      report(r);
      for (const m of messagesOf(r, output, undefined, RED.util.cloneMessage)) node.send(m);
    });
    poller.on('overrun', (n: number) => {
      if (!closed && !failing) status.set('ok', RED._('modbus-read.status.overrun', { count: tags.length, overruns: n }));
    });
    if (interval > 0) poller.start(interval);

    const ahead = output === 'batch' ? new BatchAhead(tags) : undefined;
    onInput(this, async (msg, send, done) => {
      const polled = poller.pollOnce();
      ahead?.prepare();
      const r = await polled;
      if (closed) return done();
      report(r);
      // One output: several messages go as an array inside the output's slot.
      send([messagesOf(r, output, msg as NodeMessage, RED.util.cloneMessage, ahead)] as unknown as NodeMessage);
      // Every request failed: the values sent are last values; tell Catch nodes why.
      if (r.requests > 0 && r.failedRequests === r.requests) done(new DeviceError(`unit ${unitId} at ${api.endpoint}: ${r.errors[0] ?? 'no answer'}`));
      else done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      ahead?.close();
      poller.stop();
      poller.removeAllListeners();
      s.removeListener('state', onState);
      status.clear();
      api.deregister(node, done);
    });
  }
  RED.nodes.registerType('plantwire-modbus-read', ModbusReadNode);

  // "Test read" in the editor: reads the dialog's (unsaved) tags once through a deployed connection.
  RED.httpAdmin.post('/plantwire/modbus/test-read', RED.auth.needsPermission('plantwire-modbus-read.write'), (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const conn = connectionApi(RED.nodes.getNode(String(body.connection ?? '')));
    if (!conn) {
      res.status(404).json({ error: 'This connection is not deployed yet: deploy the flow first, then test.' });
      return;
    }
    let tags: TagDef[];
    let unitId: number;
    try {
      if (conn.configError) throw new ConfigError(`the connection's settings are invalid: ${conn.configError}`);
      tags = readTags(body.tags);
      unitId = readUnitId(body.unitId);
    } catch (err) {
      res.status(400).json({ error: errorMessage(err) });
      return;
    }
    const user = {};
    let session: ModbusClientSession;
    let poller: ModbusPoller;
    try {
      session = conn.register(user);
      poller = new ModbusPoller({ session, unitId, tags, limits: conn.limits });
    } catch (err) {
      conn.deregister(user, () => undefined);
      res.status(400).json({ error: errorMessage(err) });
      return;
    }
    poller
      .pollOnce()
      .then((r) => {
        const body = { samples: r.samples, requests: r.requests, failedRequests: r.failedRequests, durationMs: r.durationMs, errors: r.errors };
        if (r.requests > 0 && r.failedRequests === r.requests) {
          res.status(502).json({ ...body, error: `unit ${unitId} at ${conn.endpoint} did not answer: ${r.errors[0] ?? 'no answer'}` });
        } else res.json(body);
      })
      .catch((err: unknown) => res.status(500).json({ error: errorMessage(err) }))
      .finally(() => conn.deregister(user, () => undefined));
  });
};
