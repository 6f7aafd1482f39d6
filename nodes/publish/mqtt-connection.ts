/**
 * One MQTT connection shared by every node that uses a plantwire-mqtt-broker config node.
 * Engine module: no node-red import; the mqtt.js factory and the backoff are injectable.
 *
 * - Users register by id; the connection opens with the first and ends with the last (as Node-RED
 *   core's mqtt-broker does), so a broker that no flow uses is never dialled.
 * - Reconnects with exponential backoff and jitter (nodes/shared/backoff.ts). mqtt.js' own
 *   reconnect runs on a fixed period and, after a drop, re-sends its in-memory outgoing store
 *   while we re-send from the disk queue: two senders, duplicates out of order. So mqtt.js'
 *   reconnect is off (`reconnectPeriod: 0`) and every attempt is a fresh client; publishes still
 *   waiting for their PUBACK when a connection drops reject with code UNAVAILABLE, and the
 *   store-and-forward engine sends them again, in order, on the next connection.
 * - `publish` resolves on PUBACK/PUBCOMP (QoS 1/2) or once written (QoS 0). A PUBACK carrying an
 *   MQTT 5 error reason code (0x80 and above, MQTT 5.0 section 3.4.2.1) rejects with a
 *   BrokerRejectedError: the broker will never take that message, so it must not be retried.
 * - Events: 'state' (state: ConnectionState, detail?: string).
 */
import { EventEmitter } from 'events';
import * as mqtt from 'mqtt';
import type { IClientOptions, IClientPublishOptions, MqttClient } from 'mqtt';
import { Backoff, type BackoffOptions } from '../shared/backoff';
import { ConfigError, DeviceError, PlantwireError, errorMessage } from '../shared/errors';

/**
 * Options every client of the shared connection gets. mqtt.js writes a debug line for every packet
 * through the `debug` module, which costs about 1 µs a message even when switched off
 * (bench/publish): silenced unless DEBUG names mqttjs. And by default it re-arms its keepalive
 * timer on every PUBACK (a clearTimeout and a setTimeout per message); with `reschedulePings` off
 * it sends a PINGREQ every keepalive period even while busy, which costs the broker nothing.
 */
const CLIENT_TUNING: IClientOptions = {
  reschedulePings: false,
  ...(/mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: (): void => undefined }),
};

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface MqttMessageSpec {
  topic: string;
  payload: string | Buffer;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** MQTT 5 publish properties; left out when the connection speaks 3.1.1. */
  properties?: IClientPublishOptions['properties'];
}

export type ClientFactory = (url: string, options: IClientOptions) => MqttClient;

export interface SharedConnectionOptions {
  url: string;
  /** mqtt.js options: clientId, protocolVersion, keepalive, username/password, TLS, will. */
  options: IClientOptions;
  /** Published on every successful connect (Node-RED core's "birth message"). */
  birth?: MqttMessageSpec;
  backoff?: BackoffOptions;
  connect?: ClientFactory;
  /** Scheduling, injectable for fake timers. */
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

/** The broker refused this message (MQTT 5 reason code >= 0x80); retrying will not help. */
export class BrokerRejectedError extends DeviceError {
  readonly reasonCode: number;
  constructor(reasonCode: number, message: string) {
    super(`broker refused the message: ${message} (reason code 0x${reasonCode.toString(16)})`);
    this.name = 'BrokerRejectedError';
    this.reasonCode = reasonCode;
  }
}

export class NotConnectedError extends PlantwireError {
  constructor(message = 'not connected to the broker') {
    super('UNAVAILABLE', message);
    this.name = 'NotConnectedError';
  }
}

/** Called once per message: no argument when the broker has it, else why not. */
export type PublishCallback = (err?: Error) => void;

/** Bytes of an MQTT Variable Byte Integer (MQTT 5.0 section 1.5.5). */
function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function utf8Bytes(v: unknown): number {
  return Buffer.byteLength(typeof v === 'string' ? v : String(v));
}

/** Bytes of MQTT 5 PUBLISH properties (MQTT 5.0 section 3.3.2.3); never under-counts. */
function propertiesBytes(props: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    switch (k) {
      case 'payloadFormatIndicator':
        n += 2;
        break;
      case 'messageExpiryInterval':
        n += 5;
        break;
      case 'topicAlias':
        n += 3;
        break;
      case 'subscriptionIdentifier':
        for (const id of Array.isArray(v) ? v : [v]) n += 1 + varIntBytes(Number(id));
        break;
      case 'contentType':
      case 'responseTopic':
        n += 3 + utf8Bytes(v);
        break;
      case 'correlationData':
        n += 3 + (Buffer.isBuffer(v) ? v.length : utf8Bytes(v));
        break;
      case 'userProperties':
        for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
          for (const one of Array.isArray(value) ? value : [value]) n += 5 + utf8Bytes(name) + utf8Bytes(one);
        }
        break;
      default:
        // Unknown to us: a generous bound.
        n += 16 + Buffer.byteLength(JSON.stringify(v) ?? '');
    }
  }
  return n;
}

/**
 * Size in bytes of the PUBLISH packet for `msg` (MQTT 5.0 section 3.3): fixed header, remaining
 * length, topic, packet identifier (QoS > 0), properties (MQTT 5) and payload.
 */
export function publishPacketSize(msg: MqttMessageSpec, v5: boolean): number {
  let rest = 2 + Buffer.byteLength(msg.topic) + ((msg.qos ?? 0) > 0 ? 2 : 0);
  rest += typeof msg.payload === 'string' ? Buffer.byteLength(msg.payload) : msg.payload.length;
  if (v5) {
    const p = msg.properties ? propertiesBytes(msg.properties as Record<string, unknown>) : 0;
    rest += varIntBytes(p) + p;
  }
  return 1 + varIntBytes(rest) + rest;
}

/**
 * The error for a message larger than the broker's Maximum Packet Size (MQTT 5 CONNACK), or
 * undefined when it fits. mqtt.js 5 does not check: it sends it, the broker drops the connection
 * (MQTT 5.0 section 3.1.2.11.4), and the same message would be sent again on every reconnect.
 */
export function packetTooLarge(msg: MqttMessageSpec, v5: boolean, limit: number | undefined): DeviceError | undefined {
  if (!limit) return undefined;
  const size = publishPacketSize(msg, v5);
  if (size <= limit) return undefined;
  return new DeviceError(
    `message to "${msg.topic.slice(0, 60)}" is a ${size.toLocaleString('en-US')}-byte packet, more than the broker's maximum packet size of ${limit.toLocaleString('en-US')} bytes: not sent`,
  );
}

/** mqtt.js publish options without properties, by QoS and retain (mqtt.js copies them; never changed). */
const PLAIN_OPTIONS: ReadonlyArray<readonly [IClientPublishOptions, IClientPublishOptions]> = ([0, 1, 2] as const).map(
  (qos) => [Object.freeze({ qos, retain: false }), Object.freeze({ qos, retain: true })] as const,
);

export class SharedMqttConnection extends EventEmitter {
  private readonly users = new Set<string>();
  private client: MqttClient | undefined;
  private current: ConnectionState = 'idle';
  private detail: string | undefined;
  private readonly backoff: Backoff;
  private timer: unknown;
  /** Increments with every client; callbacks from an older client are ignored. */
  private generation = 0;
  /** Callbacks waiting for the broker, per client generation, by a sequence number. */
  private readonly waiting = new Map<number, Map<number, PublishCallback>>();
  private sequence = 0;
  private readonly factory: ClientFactory;
  private readonly setT: (fn: () => void, ms: number) => unknown;
  private readonly clearT: (h: unknown) => void;
  private serverReceiveMaximum: number | undefined;
  private serverMaximumPacketSize: number | undefined;
  private detach: () => void = () => undefined;

  constructor(private readonly o: SharedConnectionOptions) {
    super();
    this.backoff = new Backoff({ initial: 1000, max: 30_000, ...o.backoff });
    this.factory = o.connect ?? ((url, opts) => mqtt.connect(url, opts));
    this.setT = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearT = o.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  }

  get state(): ConnectionState {
    return this.current;
  }

  get connected(): boolean {
    return this.current === 'connected';
  }

  /** Last error text (why the connection is down), if any. */
  get lastError(): string | undefined {
    return this.detail;
  }

  get protocolVersion(): 4 | 5 {
    return this.o.options.protocolVersion === 5 ? 5 : 4;
  }

  /** The broker's Receive Maximum (MQTT 5 CONNACK), the most QoS>0 publishes it takes in flight. */
  get receiveMaximum(): number | undefined {
    return this.serverReceiveMaximum;
  }

  /** The broker's Maximum Packet Size (MQTT 5 CONNACK), when it announced one. */
  get maximumPacketSize(): number | undefined {
    return this.serverMaximumPacketSize;
  }

  get userCount(): number {
    return this.users.size;
  }

  register(userId: string): void {
    this.users.add(userId);
    if (this.users.size === 1 && (this.current === 'idle' || this.current === 'closed')) this.open();
  }

  /** Removes a user; the last one out ends the connection. */
  async deregister(userId: string): Promise<void> {
    this.users.delete(userId);
    if (this.users.size === 0) await this.close();
  }

  /** Skips the backoff wait: try to connect now (no-op when connected or idle). */
  reconnectNow(): void {
    if (this.current !== 'disconnected') return;
    if (this.timer !== undefined) this.clearT(this.timer);
    this.timer = undefined;
    this.dial();
  }

  publish(msg: MqttMessageSpec): Promise<void> {
    return new Promise<void>((resolve, reject) => this.deliver(msg, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * `publish` without a Promise, for the store-and-forward engine's many small messages: `cb` is
   * called once, never before `deliver` returns: with no argument on PUBACK/PUBCOMP (QoS 1/2) or once
   * written (QoS 0), or with the error `publish` would reject with.
   */
  deliver(msg: MqttMessageSpec, cb: PublishCallback): void {
    const client = this.client;
    if (!client || this.current !== 'connected') {
      const err = new NotConnectedError(this.detail ? `not connected to the broker (${this.detail})` : undefined);
      process.nextTick(cb, err);
      return;
    }
    const tooLarge = packetTooLarge(msg, this.protocolVersion === 5, this.serverMaximumPacketSize);
    if (tooLarge) {
      process.nextTick(cb, tooLarge);
      return;
    }
    const gen = this.generation;
    const opts: IClientPublishOptions =
      this.protocolVersion === 5 && msg.properties
        ? { qos: msg.qos ?? 0, retain: msg.retain ?? false, properties: msg.properties }
        : PLAIN_OPTIONS[msg.qos ?? 0][msg.retain ? 1 : 0];
    let set = this.waiting.get(gen);
    if (!set) this.waiting.set(gen, (set = new Map()));
    const waiting = set;
    const key = ++this.sequence;
    waiting.set(key, cb);
    try {
      client.publish(msg.topic, msg.payload, opts, (err) => {
        if (!waiting.delete(key)) return; // already failed by a dropped connection
        if (!err) return cb();
        cb(this.publishError(err, gen, msg.topic));
      });
    } catch (err) {
      if (waiting.delete(key)) process.nextTick(cb, new DeviceError(`publish failed: ${errorMessage(err)}`));
    }
  }

  /** What a publish that mqtt.js answered with `err` fails with. */
  private publishError(err: Error, gen: number, topic: string): Error {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && code >= 0x80) return new BrokerRejectedError(code, err.message);
    // While this connection still stands, the failure belongs to this message (mqtt.js refused
    // it: too large for the broker's Maximum Packet Size, a bad topic alias...): do not retry.
    if (gen === this.generation && this.current === 'connected') {
      return new DeviceError(`publish of "${topic.slice(0, 60)}" failed: ${err.message}`);
    }
    return new NotConnectedError(`publish failed: ${err.message}`);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) this.clearT(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    this.generation++;
    this.failWaiting(new NotConnectedError('connection closed'));
    if (this.current !== 'idle') this.setState('closed');
    if (client) {
      this.detach();
      // A clean DISCONNECT when we can (the broker then does not send our will), forced otherwise.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => client.end(true, () => resolve()), 2000);
        client.end(!client.connected, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private open(): void {
    this.backoff.reset();
    this.dial();
  }

  private dial(): void {
    this.timer = undefined;
    const gen = ++this.generation;
    this.setState('connecting');
    const client = this.factory(this.o.url, { ...this.o.options, ...CLIENT_TUNING, reconnectPeriod: 0 });
    this.client = client;
    const onConnect = (connack: { properties?: { receiveMaximum?: number; maximumPacketSize?: number } }) => {
      if (gen !== this.generation) return;
      this.backoff.reset();
      this.detail = undefined;
      this.serverReceiveMaximum = connack?.properties?.receiveMaximum;
      const mps = connack?.properties?.maximumPacketSize;
      this.serverMaximumPacketSize = typeof mps === 'number' && mps > 0 ? mps : undefined;
      // A QoS 0 publish the socket cannot take at once waits for its 'drain' with a listener of
      // its own (mqtt.js), which sets the socket's limit to 1,000: a burst past that (a batch of
      // 1,000 tags, maxInFlight up to 65,535) made Node log a memory-leak warning. What waits is
      // bounded by the nodes (maxInFlight; 10,000 a node with the buffer off), so no limit here.
      client.stream?.setMaxListeners(0);
      this.setState('connected');
      const b = this.o.birth;
      if (b) this.publish(b).catch((err) => this.emit('warning', `birth message not sent: ${errorMessage(err)}`));
    };
    // Stays attached after the client is given up: an 'error' without a listener would crash Node-RED.
    const onError = (err: Error) => {
      if (gen !== this.generation) return;
      this.detail = errorMessage(err);
    };
    const onClose = () => {
      if (gen !== this.generation) return;
      this.lost(client);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
    // Exactly our listeners come off again: mqtt.js keeps its own 'close' handler (it clears the
    // CONNACK timer), which a removeAllListeners would take away.
    this.detach = () => {
      client.removeListener('connect', onConnect);
      client.removeListener('close', onClose);
    };
  }

  private lost(client: MqttClient): void {
    this.generation++;
    this.client = undefined;
    this.failWaiting(new NotConnectedError(`connection lost before the broker acknowledged${this.detail ? ` (${this.detail})` : ''}`));
    this.detach();
    client.end(true);
    this.setState('disconnected', this.detail);
    this.timer = this.setT(() => this.dial(), this.backoff.next());
  }

  private failWaiting(err: Error): void {
    for (const [gen, set] of this.waiting) {
      if (gen >= this.generation) continue;
      this.waiting.delete(gen);
      for (const cb of set.values()) cb(err);
    }
  }

  private setState(state: ConnectionState, detail?: string): void {
    this.current = state;
    this.emit('state', state, detail);
  }
}

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** Parses and checks the broker URL; returns it and a form without credentials for texts. */
export function parseBrokerUrl(raw: unknown): { url: string; display: string; secure: boolean } {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (!text) throw new ConfigError('broker URL is required, e.g. mqtt://127.0.0.1:1883');
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`broker URL "${text.slice(0, 60)}" is not a URL (e.g. mqtt://127.0.0.1:1883)`);
  }
  if (!SCHEMES.includes(u.protocol)) {
    throw new ConfigError(`broker URL must start with mqtt://, mqtts://, ws:// or wss://, not ${u.protocol}//`);
  }
  if (!u.hostname) throw new ConfigError('broker URL has no host');
  const display = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  return { url: text, display, secure: u.protocol === 'mqtts:' || u.protocol === 'wss:' };
}

export function messageSpec(topic: string, payload: string, qos: string, retain: boolean): MqttMessageSpec | undefined {
  if (!topic) return undefined;
  if (/[+#]/.test(topic)) throw new ConfigError(`birth/will topic "${topic}" must not contain + or #`);
  return { topic, payload: payload ?? '', qos: Number(qos) === 2 ? 2 : Number(qos) === 1 ? 1 : 0, retain };
}

