/**
 * One Sparkplug B edge node session (Eclipse Sparkplug 3.0): bdSeq, the birth sequence (NBIRTH and
 * every DBIRTH), DDATA by exception, DDEATH, NDEATH (as the MQTT will and before an intentional
 * disconnect), NCMD rebirth, DCMD, the primary host's STATE, and historical replay of what was
 * buffered during an outage. No node-red import: the transport, clock, bdSeq store and buffer are
 * injected, so the unit tests drive it with a fake publisher and a fake clock.
 *
 * Clauses are cited by their tck-id in the Sparkplug 3.0 specification.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, InputError, errorMessage } from '../shared/errors';
import type { Sample } from '../shared/sample';
import {
  coerceValue,
  decodeCommandPayload,
  encodeSparkplugPayload,
  inferDatatype,
  type CommandMetric,
  type Metric,
  type MetricDatatype,
  type MetricValue,
  type OutMetric,
} from './sparkplug-metrics';

export const NAMESPACE = 'spBv1.0';
export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const BDSEQ_METRIC = 'bdSeq';
/** Aliases 1 and 2 belong to the node's own metrics; device metrics count up from 3. */
const BDSEQ_ALIAS = 1;
const REBIRTH_ALIAS = 2;
/** The most metrics one device may have; a larger batch is refused as bad input rather than sent. */
export const MAX_DEVICE_METRICS = 10_000;
/**
 * Live publishes that may wait to leave (QoS 0: until written to the socket). A connection that
 * stalls (a dead link, before the keepalive notices) would otherwise collect every DDATA since then
 * in memory, all lost when the connection is finally dropped. Past either bound, live DDATA goes to
 * the store-and-forward buffer instead and is replayed as historical once the connection has
 * drained. What still waits when such a connection is lost is buffered too (connectionLost), so the
 * bound is what memory the backlog may take, not what may be lost.
 */
export const MAX_UNSENT_PUBLISHES = 500;
export const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

/** The MQTT side, provided by the node (an mqtt.js client) or by a test. */
export interface SparkplugTransport {
  /** Resolves once the message has left (QoS 0) or was acknowledged (QoS 1). */
  publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void>;
  subscribe(topic: string, qos: 0 | 1): Promise<void>;
  /**
   * Ends the MQTT session and opens a new one. The transport asks `nextWill()` for the new CONNECT,
   * so the new session has a new bdSeq.
   */
  restart(): void;
}

/** Where the last bdSeq is kept across restarts and redeploys. */
export interface BdSeqStore {
  load(): number | undefined;
  save(bdSeq: number): void;
}

/** One DDATA that could not be sent live: replayed with is_historical=true after the next birth. */
export interface HistoryRecord {
  device: string;
  metrics: Array<{ name: string; value: MetricValue; quality: Metric['quality']; ts: number }>;
}

/** The store-and-forward buffer (memory, or the shared disk queue through an adapter). */
export interface HistoryBuffer {
  append(record: HistoryRecord): Promise<void>;
  /** The oldest `max` records, not removed. */
  peek(max: number): Promise<HistoryRecord[]>;
  /** Removes the oldest `count` records (those peeked and sent). */
  drop(count: number): Promise<void>;
  size(): number;
}

export type SessionState = 'disconnected' | 'waiting-host' | 'online' | 'stopped';

export interface EdgeSessionOptions {
  groupId: string;
  edgeNodeId: string;
  /** Sparkplug host id of the Primary Host Application to wait for; empty: none. */
  primaryHostId?: string;
  transport: SparkplugTransport;
  bdSeqStore: BdSeqStore;
  /** Store-and-forward buffer; without one, data produced while offline is dropped (and counted). */
  buffer?: HistoryBuffer;
  now?: () => number;
  onStateChange?: (state: SessionState) => void;
  /** The connection became backed up (live values go to the buffer), or drained again. */
  onBacklog?: (backedUp: boolean) => void;
  /** Asynchronous failures (a publish that failed, a command that could not be read). */
  onError?: (err: Error) => void;
}

export interface DeviceOptions {
  /** Metric list from the editor: when given, these are the device's metrics (and types), and no others. */
  metrics?: Array<{ name: string; datatype: MetricDatatype }>;
  /** DCMD metrics, by name, as samples. */
  onCommand?: (samples: Sample[]) => void;
}

export type UpdateOutcome = 'DBIRTH' | 'DDATA' | 'DDEATH' | 'buffered' | 'dropped' | 'unchanged';

interface DeviceMetric extends Metric {
  alias: number;
  /** This value went out (in a birth or a live DDATA); false while it is only kept for replay. */
  published: boolean;
  /**
   * The datatype is a guess: the metric has had no value yet (a bad or null first reading, such as a
   * Modbus tag before the device first answers), so it was born Double. Its first value types it,
   * and the device is born again if that type differs (a coil is Boolean, a text String).
   */
  provisional?: boolean;
}

/** A live DDATA that has not left yet: its values as sent, buffered if its connection is lost first. */
interface UnsentData {
  device: EdgeDevice;
  metrics: readonly OutMetric[];
}

/** Metrics as a DDATA carries them: aliases only, no names (tck-id-payloads-alias-data-cmd-requirement), a timestamp each. */
function dataMetrics(list: readonly DeviceMetric[]): OutMetric[] {
  return list.map((m) => ({ alias: m.alias, datatype: m.datatype, value: m.value, quality: m.quality, ts: m.ts }));
}

/** A DBIRTH a device owes for metrics that appeared after its birth, sent at the end of the turn. */
interface PendingBirth {
  /** Settles like the publish of that DBIRTH; what update() hands back as `sent` meanwhile. */
  sent: Promise<void>;
  settle: (result?: Promise<void>) => void;
  /** Metrics whose current value only that DBIRTH will carry (nothing published them yet). */
  unsent: Set<string>;
}

const ID_FORBIDDEN = /[+#/]/;

/** Sparkplug ids are topic levels: no '/', '+' or '#' (tck-id-intro-group-id-chars and its siblings). */
export function checkSparkplugId(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${what} is required`);
  if (ID_FORBIDDEN.test(value)) throw new ConfigError(`${what} "${value}" must not contain '/', '+' or '#'`);
  return value;
}

export class EdgeNodeSession {
  readonly groupId: string;
  readonly edgeNodeId: string;
  private readonly primaryHostId: string | undefined;
  private readonly transport: SparkplugTransport;
  private readonly bdSeqStore: BdSeqStore;
  private readonly buffer: HistoryBuffer | undefined;
  private readonly now: () => number;
  private readonly devices = new Map<string, EdgeDevice>();
  private stateValue: SessionState = 'disconnected';
  private mqttUp = false;
  private bdSeqValue: number | undefined;
  /** A session was established with the current bdSeq (its NBIRTH may be out). */
  private bdSeqUsed = false;
  private seq = 0;
  private nextAlias = REBIRTH_ALIAS + 1;
  private lastHostTimestamp = -Infinity;
  private replaying: Promise<void> | undefined;
  private droppedCount = 0;
  /** Publishes of this MQTT session not yet left (see MAX_UNSENT_PUBLISHES), and their bytes. */
  private unsent = 0;
  private unsentBytes = 0;
  /** The live DDATA among them, by send: what a lost connection never let leave goes to the buffer. */
  private readonly unsentData = new Map<number, UnsentData>();
  private sends = 0;
  /** Values were kept (or dropped) while backed up: some current values went out in nothing yet. */
  private unpublishedKept = false;
  /** onBacklog(true) was said and onBacklog(false) not yet (said once the connection drains fully). */
  private backlogSaid = false;
  /** Counts MQTT sessions: a publish of an earlier one that settles late does not count in this one. */
  private connection = 0;
  /** Resolves when the current MQTT session is lost: a replay stops waiting for a publish then. */
  private lost: Promise<void>;
  private markLost!: () => void;
  /**
   * An NCMD rebirth was answered in this event-loop turn. Further requests in the same turn were
   * sent by the host before it could have seen that birth, so the birth answers them too; without
   * this, an NCMD repeating the Rebirth metric, or a burst of NCMDs, would republish every device
   * once per request.
   */
  private rebirthAnswered = false;

  constructor(private readonly o: EdgeSessionOptions) {
    this.groupId = checkSparkplugId(o.groupId, 'groupId');
    this.edgeNodeId = checkSparkplugId(o.edgeNodeId, 'edgeNodeId');
    const host = o.primaryHostId?.trim();
    if (host) this.primaryHostId = checkSparkplugId(host, 'primaryHostId');
    this.transport = o.transport;
    this.bdSeqStore = o.bdSeqStore;
    this.buffer = o.buffer;
    this.now = o.now ?? Date.now;
    this.lost = this.nextLost();
  }

  private nextLost(): Promise<void> {
    return new Promise<void>((resolve) => (this.markLost = resolve));
  }

  get state(): SessionState {
    return this.stateValue;
  }

  /** The bdSeq of the current (or last) MQTT session; undefined before the first connect. */
  get bdSeq(): number | undefined {
    return this.bdSeqValue;
  }

  get bufferedCount(): number {
    return this.buffer ? this.buffer.size() : 0;
  }

  /** Records produced while offline with no buffer to keep them. */
  get droppedRecords(): number {
    return this.droppedCount;
  }

  get metricCount(): number {
    let n = 0;
    for (const d of this.devices.values()) n += d.metricCount;
    return n;
  }

  topic(type: string, deviceId?: string): string {
    const base = `${NAMESPACE}/${this.groupId}/${type}/${this.edgeNodeId}`;
    return deviceId === undefined ? base : `${base}/${deviceId}`;
  }

  /**
   * The will for the next MQTT CONNECT: an NDEATH with the bdSeq the NBIRTH of that session will
   * carry. tck-id-payloads-ndeath-will-message (registered as the will), -will-message-qos (QoS 1),
   * -will-message-retain (not retained), -ndeath-seq (no seq), -ndeath-bdseq (same bdSeq as the
   * NBIRTH). tck-id-payloads-nbirth-bdseq-inc: one more than the previous NBIRTH's, 255 wrapping to
   * 0; so a CONNECT that never got a session (broker down) does not use up a number, and the value
   * is saved before it is used, so a restart never reuses one that a host may have seen.
   */
  nextWill(): { topic: string; payload: Buffer; qos: 1; retain: false } {
    if (this.bdSeqValue === undefined || this.bdSeqUsed) {
      // After a restart the stored value counts as used: its NBIRTH may have gone out.
      const last = this.bdSeqValue ?? this.bdSeqStore.load();
      const next = last === undefined ? 0 : (last + 1) % 256;
      this.bdSeqStore.save(next);
      this.bdSeqValue = next;
      this.bdSeqUsed = false;
    }
    return { topic: this.topic('NDEATH'), payload: this.ndeathPayload(), qos: 1, retain: false };
  }

  private ndeathPayload(): Buffer {
    const bdSeq = this.bdSeqValue ?? 0;
    return encodeSparkplugPayload({
      timestamp: this.now(),
      metrics: [{ name: BDSEQ_METRIC, datatype: 'Int64', value: bdSeq, ts: this.now() }],
    });
  }

  /** The MQTT session is up: subscribe, then birth (or wait for the primary host). */
  async connected(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.mqttUp = true;
    this.bdSeqUsed = true;
    this.lastHostTimestamp = -Infinity;
    // tck-id-message-flow-edge-node-ncmd-subscribe and tck-id-message-flow-device-dcmd-subscribe: QoS 1.
    await this.transport.subscribe(this.topic('NCMD'), 1);
    await this.transport.subscribe(this.topic('DCMD', '+'), 1);
    if (this.primaryHostId) {
      // tck-id-message-flow-edge-node-birth-publish-phid-wait: subscribe to the host's STATE and wait
      // for online=true before the birth sequence (tck-id-operational-behavior-edge-node-birth-sequence-wait).
      this.setState('waiting-host');
      await this.transport.subscribe(`${NAMESPACE}/STATE/${this.primaryHostId}`, 1);
      return;
    }
    this.birth();
  }

  /** The MQTT session was lost (the broker will publish our will). */
  connectionLost(): void {
    this.mqttUp = false;
    // What the lost connection still held will not leave (mqtt.js drops its QoS 0 stream writes):
    // its live DDATA goes to the buffer, replayed as historical (after what was kept meanwhile, so
    // a host orders it by its timestamps). What had left may still be lost with the link: QoS 0.
    for (const d of this.unsentData.values()) this.keep(d.device.recordOfSent(d.metrics)).sent?.catch(ignore);
    this.unsentData.clear();
    this.backlogSaid = false;
    this.connection++;
    this.unsent = 0;
    this.unsentBytes = 0;
    this.markLost();
    this.lost = this.nextLost();
    this.rebirthAnswered = false;
    for (const d of this.devices.values()) d.sessionLost();
    if (this.stateValue !== 'stopped') this.setState('disconnected');
  }

  /** An MQTT message on one of our subscriptions. Bad payloads are reported, never thrown. */
  async handleMessage(topic: string, payload: Buffer): Promise<void> {
    try {
      if (this.primaryHostId && topic === `${NAMESPACE}/STATE/${this.primaryHostId}`) {
        await this.handleHostState(payload);
      } else if (topic === this.topic('NCMD')) {
        this.handleNodeCommand(decodeCommandPayload(payload).metrics);
      } else {
        const prefix = this.topic('DCMD') + '/';
        if (topic.startsWith(prefix)) this.handleDeviceCommand(topic.slice(prefix.length), payload);
      }
    } catch (err) {
      this.fail(new InputError(`${topic}: ${errorMessage(err)}`));
    }
  }

  private async handleHostState(payload: Buffer): Promise<void> {
    let state: unknown;
    try {
      state = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new InputError('STATE payload is not JSON');
    }
    const online = (state as { online?: unknown } | null)?.online;
    if (typeof online !== 'boolean') throw new InputError('STATE payload has no boolean "online"');
    const ts = (state as { timestamp?: unknown }).timestamp;
    const previous = this.lastHostTimestamp;
    // tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp: a STATE older than the last one
    // seen is stale (a retained message overtaken by a newer one) and is ignored.
    if (typeof ts === 'number') {
      if (ts < this.lastHostTimestamp) return;
      this.lastHostTimestamp = ts;
    }
    if (online) {
      // First online STATE: the birth sequence. Online again while born: the host restarted and lost
      // our births, so it gets a fresh birth sequence; the same STATE again (its timestamp already
      // answered, as when a retained copy and the live one both arrive) gets none: a burst of them
      // would republish every device once per copy.
      if (this.stateValue === 'online' && typeof ts === 'number' && ts === previous) return;
      if (this.stateValue === 'waiting-host' || this.stateValue === 'online') this.birth();
      return;
    }
    if (this.stateValue === 'online') {
      // tck-id-operational-behavior-edge-node-termination-host-offline: the primary host went offline:
      // NDEATH, disconnect, and start over (the next session waits for online=true again, buffering).
      // A DBIRTH waiting for the end of the turn goes out before the NDEATH (as on stop); from here on
      // nothing of this session is published live, so nothing follows the NDEATH while its PUBACK is
      // awaited: values that come meanwhile go to the buffer and are replayed as historical.
      for (const d of this.devices.values()) d.flushBirth();
      this.setState('waiting-host');
      await this.publishNdeath().catch(() => undefined);
      this.connectionLost();
      this.transport.restart();
    }
  }

  private handleNodeCommand(metrics: CommandMetric[]): void {
    const rebirth = metrics.some(
      (m) => (m.name === REBIRTH_METRIC || (m.name === undefined && m.alias === REBIRTH_ALIAS)) && m.value === true,
    );
    // tck-id-operational-behavior-edge-node-rebirth: NCMD Node Control/Rebirth=true -> NBIRTH and every DBIRTH.
    // One birth answers the whole NCMD, however often it repeats the metric, and every other request
    // of the same turn (see rebirthAnswered).
    if (!rebirth || !this.mqttUp || this.stateValue !== 'online' || this.rebirthAnswered) return;
    this.rebirthAnswered = true;
    setImmediate(() => {
      this.rebirthAnswered = false;
    });
    this.birth();
  }

  private handleDeviceCommand(deviceId: string, payload: Buffer): void {
    const device = this.devices.get(deviceId);
    if (!device) return; // a DCMD for a device this node does not have: not ours to answer
    device.command(decodeCommandPayload(payload).metrics);
  }

  /**
   * The birth sequence: NBIRTH (seq 0, bdSeq, Node Control/Rebirth=false), then a DBIRTH for every
   * device that has metrics and is not dead, all in one synchronous run so that nothing can publish
   * between them (tck-id-payloads-dbirth-order), then the historical replay.
   */
  private birth(): void {
    if (!this.mqttUp) return;
    const now = this.now();
    this.seq = 0; // tck-id-payloads-nbirth-seq
    // A failed publish is reported by send() (onError); nobody awaits a birth, so its rejection
    // is handled here: left unhandled, Node would end the whole Node-RED process.
    this.send('NBIRTH', undefined, [
      // tck-id-payloads-nbirth-bdseq; tck-id-message-flow-edge-node-birth-publish-nbirth-payload-bdSeq (Int64).
      { name: BDSEQ_METRIC, alias: BDSEQ_ALIAS, datatype: 'Int64', value: this.bdSeqValue ?? 0, ts: now },
      // tck-id-payloads-nbirth-rebirth-req
      { name: REBIRTH_METRIC, alias: REBIRTH_ALIAS, datatype: 'Boolean', value: false, ts: now },
    ]).catch(ignore);
    for (const d of this.devices.values()) {
      d.born = false;
      if (d.metricCount > 0 && !d.allBad()) d.publishBirth().catch(ignore);
    }
    this.setState('online');
    this.replay();
  }

  /** Publishes NDEATH before an intentional disconnect (tck-id-payloads-ndeath-will-message-publisher). */
  async publishNdeath(): Promise<void> {
    if (!this.mqttUp) return;
    await this.transport.publish(this.topic('NDEATH'), this.ndeathPayload(), 1);
  }

  /** Stops the session: NDEATH if connected; the node then ends its MQTT client. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    // A DBIRTH still waiting for the end of the turn goes out before the NDEATH, so its values are not lost.
    for (const d of this.devices.values()) d.flushBirth();
    try {
      await this.publishNdeath();
    } finally {
      this.mqttUp = false;
      this.setState('stopped');
    }
  }

  /** A device of this edge node (plantwire-sparkplug-device). Device ids are unique per edge node. */
  addDevice(deviceId: string, options: DeviceOptions = {}): EdgeDevice {
    checkSparkplugId(deviceId, 'deviceId');
    if (this.devices.has(deviceId)) throw new ConfigError(`device "${deviceId}" is already used on edge node ${this.edgeNodeId}`);
    const device = new EdgeDevice(this, deviceId, options);
    this.devices.set(deviceId, device);
    if (this.stateValue === 'online' && device.metricCount > 0) device.publishBirth().catch(ignore);
    return device;
  }

  /** @internal */
  removeDevice(device: EdgeDevice): void {
    if (this.devices.get(device.id) === device) this.devices.delete(device.id);
  }

  /** @internal */
  clock(): number {
    return this.now();
  }

  /** @internal */
  allocateAlias(): number {
    return this.nextAlias++;
  }

  /** @internal */
  get isOnline(): boolean {
    return this.mqttUp && this.stateValue === 'online';
  }

  /** The connection holds too much that has not left (see MAX_UNSENT_PUBLISHES): live DDATA is kept instead. */
  get backedUp(): boolean {
    return this.unsent >= MAX_UNSENT_PUBLISHES || this.unsentBytes >= MAX_UNSENT_BYTES;
  }

  /** Publishes waiting to leave on the current connection. */
  get unsentCount(): number {
    return this.unsent;
  }

  /**
   * Publishes one message with the next seq. Seq is taken and the publish started in the same tick,
   * so messages leave in seq order. tck-id-payloads-sequence-num-incrementing: 0..255, then 0.
   * All NBIRTH/DBIRTH/DDATA/DDEATH go out with QoS 0 and no retain (tck-id-payloads-*-qos, -retain).
   * @internal
   */
  send(type: 'NBIRTH' | 'DBIRTH' | 'DDATA' | 'DDEATH', deviceId: string | undefined, metrics: OutMetric[], live?: UnsentData): Promise<void> {
    const seq = type === 'NBIRTH' ? 0 : (this.seq = (this.seq + 1) % 256);
    const payload = encodeSparkplugPayload({ timestamp: this.now(), seq, metrics });
    const connection = this.connection;
    const id = this.sends++;
    this.unsent++;
    this.unsentBytes += payload.length;
    if (live) this.unsentData.set(id, live);
    const left = (): void => {
      if (connection !== this.connection) return;
      this.unsent--;
      this.unsentBytes -= payload.length;
      if (live) this.unsentData.delete(id);
      // Drained after a backlog: what was kept meanwhile goes out now, as historical.
      this.replayIfDrained();
    };
    return this.transport.publish(this.topic(type, deviceId), payload, 0).then(left, (err: unknown) => {
      left();
      this.fail(new Error(`${type} ${deviceId ?? this.edgeNodeId}: ${errorMessage(err)}`));
      throw err;
    });
  }

  /** @internal: keeps a live DDATA while the connection is backed up; it is replayed once it drains. */
  keepWhileBackedUp(record: HistoryRecord): { outcome: 'buffered' | 'dropped'; sent?: Promise<void> } {
    this.unpublishedKept = true;
    if (!this.backlogSaid) {
      this.backlogSaid = true;
      this.o.onBacklog?.(true);
    }
    const kept = this.keep(record);
    // Durable only after the drain, perhaps (a disk buffer commits later): replayed then.
    kept.sent?.then(() => this.replayIfDrained(), ignore);
    return kept;
  }

  /**
   * Nothing waits to leave: replay what the buffer holds (a replay that runs takes it), or, with
   * nothing buffered (or no buffer), send the current values that a backlog kept from going out.
   */
  private replayIfDrained(): void {
    if (this.unsent !== 0) return;
    if (this.backlogSaid) {
      this.backlogSaid = false;
      this.o.onBacklog?.(false);
    }
    if (this.buffer && this.buffer.size() > 0) this.replay();
    else if (this.unpublishedKept && this.isOnline && !this.replaying) this.publishUnpublished();
  }

  /** Every device's current values that went out in no birth and no live DDATA, live now. */
  private publishUnpublished(): void {
    this.unpublishedKept = false;
    for (const d of this.devices.values()) d.publishUnpublished();
  }

  /** @internal: keeps a DDATA that could not go out live, for historical replay. */
  keep(record: HistoryRecord): { outcome: 'buffered' | 'dropped'; sent?: Promise<void> } {
    if (!this.buffer) {
      this.droppedCount++;
      return { outcome: 'dropped' };
    }
    // `sent` settles when the record is durable (the disk queue committed it).
    const sent = this.buffer.append(record).catch((err: unknown) => {
      const e = new Error(`buffer: ${errorMessage(err)}`);
      this.fail(e);
      throw e;
    });
    return { outcome: 'buffered', sent };
  }

  /**
   * Sends what was buffered as DDATA with is_historical=true (6.4.2 "is_historical"), oldest first,
   * each record dropped from the buffer once its publish has left. A publish the connection never
   * lets leave (it stalled, then was lost: mqtt.js then settles nothing) ends the replay when the
   * session is lost, its record still buffered: the next session's birth replays it.
   */
  private replay(): void {
    const buffer = this.buffer;
    if (!buffer || this.replaying) return;
    const connection = this.connection;
    const lost = this.lost.then(() => false);
    const current = (): boolean => this.isOnline && connection === this.connection;
    this.replaying = (async () => {
      // Yield first, so that `replaying` is set before the finally below clears it.
      await Promise.resolve();
      try {
        while (current() && buffer.size() > 0) {
          const batch = await buffer.peek(50);
          if (batch.length === 0) break;
          let sent = 0;
          for (const record of batch) {
            if (!current()) break;
            const device = this.devices.get(record.device);
            const metrics = device ? device.historicalMetrics(record) : [];
            // Metrics of a device that no longer exists have no alias a host could resolve: dropped.
            if (device && device.born && metrics.length > 0) {
              const left = await Promise.race([this.send('DDATA', device.id, metrics).then(() => true), lost]);
              if (!left) break;
            }
            sent++;
          }
          await buffer.drop(sent);
        }
        // Values kept while the connection was backed up, the newest of each metric included, went
        // out in no birth: the current ones go out live now (the replay skipped them as current).
        if (current() && buffer.size() === 0 && this.unpublishedKept && !this.backedUp) this.publishUnpublished();
      } catch (err) {
        this.fail(new Error(`historical replay: ${errorMessage(err)}`));
      } finally {
        this.replaying = undefined;
        // A newer session came up while this replay was ending: its birth found this one running
        // and started none, so the replay starts again, for it.
        if (connection !== this.connection && this.isOnline) this.replay();
      }
    })();
  }

  /** Resolves when a running historical replay has finished (tests and close use it). */
  async idle(): Promise<void> {
    while (this.replaying) await this.replaying;
  }

  /** @internal */
  fail(err: Error): void {
    if (this.o.onError) this.o.onError(err);
  }

  private setState(s: SessionState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    if (this.o.onStateChange) this.o.onStateChange(s);
  }
}

/** One device of an edge node: its metrics, aliases, birth state and last values. */
export class EdgeDevice {
  readonly id: string;
  /** Born in the current MQTT session (a DBIRTH went out and no DDEATH since). */
  born = false;
  private readonly metrics = new Map<string, DeviceMetric>();
  private readonly fixedList: boolean;
  private removed = false;
  /** A DBIRTH for new metrics went out at once in this event-loop turn (see update()). */
  private rebornThisTurn = false;
  private pending: PendingBirth | undefined;
  /** Metric names by alias, for recordOfSent (built when first needed, again after a new metric). */
  private namesByAlias: Map<number, string> | undefined;

  constructor(
    private readonly session: EdgeNodeSession,
    deviceId: string,
    private readonly options: DeviceOptions,
  ) {
    this.id = deviceId;
    this.fixedList = !!options.metrics && options.metrics.length > 0;
    for (const m of options.metrics ?? []) {
      if (this.metrics.has(m.name)) throw new ConfigError(`metric "${m.name}" is listed twice`);
      // A listed metric is born with a null value until its first sample.
      this.metrics.set(m.name, { ...m, value: null, quality: 'good', ts: 0, alias: session.allocateAlias(), published: false });
    }
  }

  get metricCount(): number {
    return this.metrics.size;
  }

  /** Metric names and datatypes, in birth order. */
  describe(): Array<{ name: string; datatype: MetricDatatype; alias: number }> {
    return [...this.metrics.values()].map((m) => ({ name: m.name, datatype: m.datatype, alias: m.alias }));
  }

  allBad(): boolean {
    if (this.metrics.size === 0) return false;
    for (const m of this.metrics.values()) if (m.quality !== 'bad') return false;
    return true;
  }

  /**
   * Takes a batch of samples. The whole batch is checked first: one bad value refuses the batch
   * (InputError) and changes nothing. Then: DBIRTH if the device is not born or has a new metric,
   * DDEATH if every metric is bad, otherwise DDATA with only the metrics that changed.
   */
  update(samples: readonly Sample[]): { outcome: UpdateOutcome; changed: number; sent?: Promise<void> } {
    if (this.removed) throw new InputError(`device "${this.id}" was removed`);
    if (samples.length === 0) return { outcome: 'unchanged', changed: 0 };
    const staged: Array<{ sample: Sample; datatype: MetricDatatype; value: MetricValue; isNew: boolean }> = [];
    // Metrics this batch brings, by name: a name given twice is new once, with its first datatype
    // (made on the first new name: most batches bring none).
    let newTypes: Map<string, MetricDatatype> | undefined;
    // Metrics with a provisional datatype that this batch gives another one: the device is born again.
    let retyped = 0;
    // New metrics of this batch that have had no value yet in it (typed by their first value).
    let untyped: Set<string> | undefined;
    for (const s of samples) {
      if (typeof s.tag !== 'string' || s.tag === '') throw new InputError('a sample has no tag (metric name)');
      if (s.tag === BDSEQ_METRIC || s.tag.startsWith('Node Control/')) {
        throw new InputError(`"${s.tag}" is reserved for the edge node's own metrics`);
      }
      const known = this.metrics.get(s.tag);
      if (!known && this.fixedList) {
        throw new InputError(`tag "${s.tag}" is not in the metric list of device "${this.id}"`);
      }
      const stagedType = known ? undefined : newTypes?.get(s.tag);
      // A provisional metric's first value (not bad, not null) types it; so does the first value of a
      // new metric that came earlier in this batch without one.
      const hasValue = s.quality !== 'bad' && s.value !== null;
      const typing = known?.provisional === true && hasValue;
      let datatype: MetricDatatype;
      if (known) datatype = typing ? inferDatatype(s.value) : known.datatype;
      else if (stagedType !== undefined && !(hasValue && untyped?.has(s.tag))) datatype = stagedType;
      else datatype = inferDatatype(s.value);
      const value = s.quality === 'bad' ? null : coerceValue(s.tag, datatype, s.value);
      const isNew = !known && stagedType === undefined;
      if (!known) {
        (newTypes ??= new Map()).set(s.tag, datatype);
        if (hasValue) untyped?.delete(s.tag);
        else if (isNew) (untyped ??= new Set()).add(s.tag);
      }
      if (typing && datatype !== known.datatype) retyped++;
      staged.push({ sample: s, datatype, value, isNew });
    }
    const newCount = newTypes?.size ?? 0;
    if (this.metrics.size + newCount > MAX_DEVICE_METRICS) {
      throw new InputError(`device "${this.id}" would have ${this.metrics.size + newCount} metrics; the limit is ${MAX_DEVICE_METRICS}`);
    }
    const pending = this.pending;
    if (pending) {
      // A value that only the waiting DBIRTH carries is about to be replaced: that DBIRTH goes out
      // now, so the host still sees every value, in order.
      for (const { sample, value, isNew } of staged) {
        const prev = isNew ? undefined : this.metrics.get(sample.tag);
        if (prev && pending.unsent.has(prev.name) && (prev.value !== value || prev.quality !== sample.quality)) {
          this.flushBirth();
          break;
        }
      }
    }

    const changed: DeviceMetric[] = [];
    for (const { sample, datatype, value, isNew } of staged) {
      const prev = this.metrics.get(sample.tag);
      if (prev && !isNew && prev.value === value && prev.quality === sample.quality) {
        prev.ts = sample.ts;
        continue;
      }
      const m: DeviceMetric = {
        name: sample.tag,
        datatype,
        value,
        quality: sample.quality,
        ts: sample.ts,
        alias: prev ? prev.alias : this.session.allocateAlias(),
        published: false,
        // Typed by a value only: a new metric without one, or a provisional one still without one, stays a guess.
        provisional: value === null && (prev ? prev.provisional === true : true),
      };
      this.metrics.set(sample.tag, m);
      if (!prev) this.namesByAlias = undefined;
      changed.push(m);
    }

    if (!this.session.isOnline) {
      if (changed.length === 0) return { outcome: 'unchanged', changed: 0 };
      return { ...this.session.keep(this.historyRecord(changed)), changed: changed.length };
    }
    if (this.allBad()) {
      // The source went bad (every metric bad): the device is lost (tck-id-operational-behavior-device-ddeath).
      if (!this.born) return { outcome: 'unchanged', changed: changed.length };
      // Metrics that only a waiting DBIRTH would announce are announced before the death.
      this.flushBirth();
      this.born = false;
      return { outcome: 'DDEATH', changed: changed.length, sent: this.session.send('DDEATH', this.id, []) };
    }
    if (!this.born) return { outcome: 'DBIRTH', changed: changed.length, sent: this.publishBirth() };
    if (newCount > 0 || retyped > 0) {
      // A new metric after birth: the host only knows metrics from a birth, so the device is reborn.
      // Each DBIRTH carries every metric, so sources that bring one new metric per message (a Modbus
      // read in "one message per tag" mode) would send N DBIRTHs of growing size for N tags. The
      // first rebirth of a turn goes out at once; later ones in the same turn wait for one DBIRTH at
      // the end of the turn with every metric known by then. The values of this batch ride in it, as
      // they would have in an immediate DBIRTH: nothing about them is published before it.
      if (!this.pending && !this.rebornThisTurn) {
        this.rebornThisTurn = true;
        this.scheduleTurnEnd();
        return { outcome: 'DBIRTH', changed: changed.length, sent: this.publishBirth() };
      }
      const p = this.pending ?? (this.pending = pendingBirth());
      for (const m of changed) p.unsent.add(m.name);
      return { outcome: 'DBIRTH', changed: changed.length, sent: p.sent };
    }
    if (changed.length === 0) return { outcome: 'unchanged', changed: 0 };
    if (this.session.backedUp) {
      // The connection is not taking what it has (see MAX_UNSENT_PUBLISHES): kept, sent as historical later.
      return { ...this.session.keepWhileBackedUp(this.historyRecord(changed)), changed: changed.length };
    }
    // A timestamp on every metric (tck-id-payloads-name-birth-data-requirement).
    const out = dataMetrics(changed);
    for (const m of changed) m.published = true;
    return { outcome: 'DDATA', changed: changed.length, sent: this.session.send('DDATA', this.id, out, { device: this, metrics: out }) };
  }

  /** @internal Current values that went out in no birth and no live DDATA (kept for replay only), as one live DDATA. */
  publishUnpublished(): void {
    if (!this.born || this.removed || !this.session.isOnline) return;
    const unpublished = [...this.metrics.values()].filter((m) => !m.published);
    if (unpublished.length === 0) return;
    for (const m of unpublished) m.published = true;
    const out = dataMetrics(unpublished);
    this.session.send('DDATA', this.id, out, { device: this, metrics: out }).catch(ignore);
  }

  /** @internal The values of a DDATA that never left, as a record to replay (names found by alias). */
  recordOfSent(sent: readonly OutMetric[]): HistoryRecord {
    let names = this.namesByAlias;
    if (!names) {
      names = this.namesByAlias = new Map<number, string>();
      for (const m of this.metrics.values()) names.set(m.alias, m.name);
    }
    const metrics: HistoryRecord['metrics'] = [];
    for (const m of sent) {
      const name = m.alias === undefined ? undefined : names.get(m.alias);
      if (name !== undefined) metrics.push({ name, value: m.value, quality: m.quality ?? 'good', ts: m.ts });
    }
    return { device: this.id, metrics };
  }

  private historyRecord(changed: readonly DeviceMetric[]): HistoryRecord {
    return { device: this.id, metrics: changed.map((m) => ({ name: m.name, value: m.value, quality: m.quality, ts: m.ts })) };
  }

  /** @internal DBIRTH with every metric, its name, alias and datatype (tck-id-payloads-alias-birth-requirement, -metric-datatype-req). */
  publishBirth(): Promise<void> {
    this.born = true;
    for (const m of this.metrics.values()) m.published = true;
    const out: OutMetric[] = [...this.metrics.values()].map((m) => ({
      name: m.name,
      alias: m.alias,
      datatype: m.datatype,
      value: m.value,
      quality: m.quality,
      ts: m.ts || this.session.clock(),
    }));
    const sent = this.session.send('DBIRTH', this.id, out);
    // Any birth (this device's or the whole node's) carries what a waiting DBIRTH would have.
    const pending = this.pending;
    this.pending = undefined;
    if (pending) pending.settle(sent);
    return sent;
  }

  /**
   * @internal Sends a DBIRTH that waits for the end of the turn now (when the device can still be
   * born), or lets it go: the values stay the device's current values and go out in its next birth.
   */
  flushBirth(): void {
    const pending = this.pending;
    if (!pending) return;
    if (this.born && !this.removed && this.session.isOnline) {
      // Those waiting for it get the outcome through the pending promise; the failure is reported.
      this.publishBirth().catch(ignore);
      return;
    }
    this.pending = undefined;
    pending.settle();
  }

  /**
   * @internal The MQTT session is gone. Values only a waiting DBIRTH would have carried could not
   * go out live: they are kept for historical replay, like any data produced offline.
   */
  sessionLost(): void {
    this.born = false;
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    const unsent: DeviceMetric[] = [];
    for (const name of pending.unsent) {
      const m = this.metrics.get(name);
      if (m) unsent.push(m);
    }
    pending.settle(unsent.length > 0 ? this.session.keep(this.historyRecord(unsent)).sent : undefined);
  }

  /** Ends the turn: the waiting DBIRTH goes out, and counts as this new turn's rebirth. */
  private scheduleTurnEnd(): void {
    setImmediate(() => {
      this.rebornThisTurn = false;
      if (!this.pending) return;
      const publish = this.born && !this.removed && this.session.isOnline;
      this.flushBirth();
      if (publish) {
        this.rebornThisTurn = true;
        this.scheduleTurnEnd();
      }
    });
  }

  /** @internal The metrics of a buffered record that this device still has, flagged historical. */
  historicalMetrics(record: HistoryRecord): OutMetric[] {
    const out: OutMetric[] = [];
    for (const r of record.metrics) {
      const m = this.metrics.get(r.name);
      if (!m) continue;
      // The DBIRTH just sent carries the latest value with its own timestamp: not sent twice.
      if (r.ts === m.ts && r.value === m.value && r.quality === m.quality) continue;
      out.push({ alias: m.alias, datatype: m.datatype, value: r.value, quality: r.quality, ts: r.ts, historical: true });
    }
    return out;
  }

  /** @internal A DCMD: metrics resolved to names (by alias when the host sent aliases) and handed on as samples. */
  command(metrics: CommandMetric[]): void {
    const byAlias = new Map<number, DeviceMetric>();
    for (const m of this.metrics.values()) byAlias.set(m.alias, m);
    const samples: Sample[] = [];
    const unknown: string[] = [];
    for (const c of metrics) {
      const known = c.name !== undefined ? this.metrics.get(c.name) : c.alias !== undefined ? byAlias.get(c.alias) : undefined;
      const name = known?.name ?? c.name;
      if (!name) {
        unknown.push(`alias ${c.alias ?? '?'}`);
        continue;
      }
      if (!known) unknown.push(name);
      samples.push({ tag: name, value: c.value, quality: 'good', ts: c.ts ?? this.session.clock() });
    }
    if (samples.length > 0 && this.options.onCommand) this.options.onCommand(samples);
    if (unknown.length > 0) this.session.fail(new InputError(`DCMD for device "${this.id}" names metrics it never had: ${unknown.join(', ')}`));
  }

  /** The device node is gone: DDEATH if it was born, then forget it (tck-id-operational-behavior-device-ddeath). */
  remove(): Promise<void> {
    if (this.removed) return Promise.resolve();
    // A waiting DBIRTH first, so the values it carries reach the host before the DDEATH.
    this.flushBirth();
    this.removed = true;
    this.session.removeDevice(this);
    if (!this.born || !this.session.isOnline) return Promise.resolve();
    this.born = false;
    return this.session.send('DDEATH', this.id, []).catch(() => undefined);
  }
}

/** For promises whose failure is already reported (send() calls onError before it rethrows). */
function ignore(): void {}

function pendingBirth(): PendingBirth {
  let settle!: (result?: Promise<void>) => void;
  const sent = new Promise<void>((resolve) => {
    settle = (result) => resolve(result);
  });
  return { sent, settle, unsent: new Set() };
}

/** bdSeq kept in a small JSON file, written atomically (temporary file, then rename). */
export class FileBdSeqStore implements BdSeqStore {
  readonly file: string;

  constructor(folder: string, groupId: string, edgeNodeId: string) {
    const name = `sparkplug-${encodeURIComponent(groupId)}-${encodeURIComponent(edgeNodeId)}.json`;
    this.file = path.join(folder, name);
  }

  load(): number | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const n = (JSON.parse(text) as { bdSeq?: unknown }).bdSeq;
      return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 255 ? n : undefined;
    } catch {
      return undefined; // a torn or edited file: start again at 0 rather than refuse to connect
    }
  }

  save(bdSeq: number): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ bdSeq }) + '\n');
    fs.renameSync(tmp, this.file);
  }
}
