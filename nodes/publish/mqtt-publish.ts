/**
 * plantwire-mqtt-publish: samples -> MQTT, through a disk store-and-forward queue by default
 * (DESIGN.md section 6). Topic and payload rules live in mqtt-message.ts, sending in forwarder.ts,
 * the disk queue in queue.ts.
 */
import * as os from 'os';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DeviceError, InputError, errorMessage } from '../shared/errors';
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import { HELD, onInput, onSyncInput, settleLater } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { isBatchMessage, samplesFromMessage, type SampleMessage } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { DEFAULT_MAX_IN_FLIGHT, Forwarder, type ForwarderStats } from './forwarder';
import type { MqttBrokerNode } from './mqtt-broker-api';
import type { ConnectionState } from './mqtt-connection';
import { MQTT_MAX_PAYLOAD, buildMessages, compileTopicTemplate, parseUserProperties, type MessageSettings } from './mqtt-message';
import { SqliteQueue, queueFile, type QoS, type StoreAndForwardQueue } from './queue';

interface PublishDef extends NodeDef {
  broker: string;
  topic: string;
  qos: string;
  retain: boolean;
  format: string;
  split: boolean | string;
  buffer: boolean | string;
  bufferMaxMB: string;
  bufferMaxAgeH: string;
  maxInFlight: string;
  rate: string;
  contentType: string;
  messageExpiry: string;
  userProperties: string;
}

const ACTIONS = ['flush', 'clear', 'stats'] as const;
/** How samples are read from an input message (made once: this runs for every message). */
const READ_OPTIONS = Object.freeze({ allowObjectValues: true, defaultTag: '' });
/**
 * With the buffer off: messages published and not yet acknowledged (QoS 1/2) or written (QoS 0),
 * at most, and their payload bytes. A message past either bound is refused (unless none are waiting).
 */
const UNBUFFERED_MAX_UNACKED = 10_000;
const UNBUFFERED_MAX_UNACKED_BYTES = 64 * 1024 * 1024;
/** Status text is refreshed at most this often while a backlog drains (each is a websocket message). */
const STATUS_EVERY_MS = 250;

export = function register(RED: NodeAPI): void {
  function MqttPublishNode(this: Node, config: PublishDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    const broker = (config.broker ? RED.nodes.getNode(config.broker) : null) as MqttBrokerNode | null;

    let settings: Omit<MessageSettings, 'v5'>;
    let buffered: boolean;
    let maxBytes: number;
    let maxAgeMs: number;
    let maxInFlight: number;
    let rate: number;
    try {
      if (!broker) throw new ConfigError('no MQTT broker is configured: choose or add a plantwire-mqtt-broker');
      buffered = boolSetting(config.buffer, true);
      const mb = numberSetting(config.bufferMaxMB, 'bufferMaxMB', 100);
      if (mb <= 0) throw new ConfigError('bufferMaxMB must be more than 0');
      const hours = numberSetting(config.bufferMaxAgeH, 'bufferMaxAgeH', 72);
      if (hours < 0) throw new ConfigError('bufferMaxAgeH must be 0 (no limit) or more');
      maxBytes = Math.round(mb * 1024 * 1024);
      maxAgeMs = hours * 3_600_000;
      maxInFlight = numberSetting(config.maxInFlight, 'maxInFlight', DEFAULT_MAX_IN_FLIGHT);
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 65535) throw new ConfigError('maxInFlight must be 1..65535');
      rate = numberSetting(config.rate, 'rate', 0);
      if (rate < 0) throw new ConfigError('rate must be 0 (no limit) or more messages per second');
      const expiry = numberSetting(config.messageExpiry, 'messageExpiry', 0);
      if (!Number.isInteger(expiry) || expiry < 0) throw new ConfigError('messageExpiry must be whole seconds');
      settings = {
        topic: compileTopicTemplate(config.topic || 'plant/{tag}'),
        qos: Number(choiceSetting(String(config.qos ?? ''), 'qos', ['0', '1', '2'], '1')) as QoS,
        retain: boolSetting(config.retain),
        format: choiceSetting(config.format, 'format', ['value', 'json'], 'value'),
        split: boolSetting(config.split, true),
        maxPayload: buffered ? Math.min(maxBytes, MQTT_MAX_PAYLOAD) : MQTT_MAX_PAYLOAD,
        contentType: config.contentType || undefined,
        messageExpiry: expiry || undefined,
        userProperties: parseUserProperties(config.userProperties),
      };
    } catch (err) {
      status.set('error', RED._('mqtt-publish.status.config'));
      this.error(errorMessage(err));
      // Messages still get a clear error instead of vanishing.
      onInput(this, () => {
        throw new ConfigError(`cannot publish: ${errorMessage(err)}`);
      });
      return;
    }

    const b = broker as MqttBrokerNode;
    let queue: StoreAndForwardQueue | undefined;
    let forwarder: Forwarder | undefined;
    let file: string | undefined;
    if (buffered) {
      try {
        const userDir = (RED.settings as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
        file = queueFile(userDir, `mqtt-publish-${this.id}`);
        queue = new SqliteQueue({
          file,
          maxBytes,
          maxAgeMs,
          // synchronous=NORMAL in WAL mode: done() means the message is in a committed transaction,
          // which survives Node-RED being killed (SIGKILL, a crash, the OOM killer) and is replayed
          // on the next start; only a power cut in the second or so before the operating system
          // writes its cache can lose the last commits. An fsync per group commit (FULL) would
          // halve the rate the node accepts messages on a busy disk and wear SD cards (help: Details).
          synchronous: 'normal',
          onDrop: (d) =>
            node.warn(RED._(`mqtt-publish.warn.drop-${d.reason}`, { count: d.count.toLocaleString('en-US') })),
        });
      } catch (err) {
        status.set('error', RED._('mqtt-publish.status.store'));
        this.error(`cannot open the store-and-forward file ${file}: ${errorMessage(err)}`);
        onInput(this, () => {
          throw new ConfigError(`cannot buffer: the store-and-forward file could not be opened (${errorMessage(err)})`);
        });
        return;
      }
      forwarder = new Forwarder({ queue, transport: b, maxInFlight, rate });
      forwarder.on('rejected', (item: { topic: string }, err: Error) =>
        node.error(RED._('mqtt-publish.error.rejected', { topic: item.topic, error: err.message })),
      );
      if (queue.size) node.log(RED._('mqtt-publish.log.replay', { count: queue.size.toLocaleString('en-US') }));
    }

    // Status: connection state plus backlog, refreshed at most every STATUS_EVERY_MS.
    let state: ConnectionState = 'idle';
    let statusTimer: NodeJS.Timeout | undefined;
    /** The oldest message, when the connection keeps dropping while it is sent (Forwarder 'stuck'). */
    let stuck: { topic: string; size: string } | undefined;
    const showStatus = () => {
      statusTimer = undefined;
      if (stuck) {
        status.set('error', RED._('mqtt-publish.status.stuck', stuck));
        return;
      }
      const queued = queue?.size ?? 0;
      const count = queued.toLocaleString('en-US');
      if (state === 'connected') {
        if (queued) status.set('busy', RED._('mqtt-publish.status.connected-queued', { count }));
        else status.set('ok', RED._('mqtt-publish.status.connected'));
      } else if (state === 'connecting') {
        status.set('busy', RED._(queued ? 'mqtt-publish.status.connecting-queued' : 'mqtt-publish.status.connecting', { count }));
      } else if (state === 'disconnected') {
        status.set('error', RED._(queued ? 'mqtt-publish.status.disconnected-queued' : 'mqtt-publish.status.disconnected', { count }));
      } else {
        status.set('stopped', RED._(queued ? 'mqtt-publish.status.stopped-queued' : 'mqtt-publish.status.stopped', { count }));
      }
    };
    const scheduleStatus = () => {
      if (!statusTimer) statusTimer = setTimeout(showStatus, STATUS_EVERY_MS);
    };
    const unwatch = b.watchState((s) => {
      state = s;
      showStatus();
      forwarder?.connectionChanged(s === 'connected');
    });
    forwarder?.on('progress', scheduleStatus);
    forwarder?.on('stuck', (item: { topic: string; payload: Buffer }, losses: number) => {
      stuck = { topic: item.topic.slice(0, 60), size: item.payload.length.toLocaleString('en-US') };
      node.error(RED._('mqtt-publish.error.stuck', { ...stuck, losses }));
      showStatus();
    });
    forwarder?.on('unstuck', () => {
      stuck = undefined;
      showStatus();
    });
    let flushReplies: NodeMessage[] = [];
    forwarder?.on('drained', () => {
      const waiting = flushReplies;
      flushReplies = [];
      for (const m of waiting) node.send({ ...m, payload: forwarder!.stats() });
    });
    b.register(this);

    // The broker's protocol version is fixed by its config node: one settings object for every message.
    const messageSettings: MessageSettings = { ...settings, v5: b.protocolVersion === 5 };
    /** Unbuffered publishes waiting for the broker (see UNBUFFERED_MAX_UNACKED). */
    const unacked = { count: 0, bytes: 0 };
    /** Unbuffered messages refused because too many were waiting. */
    let refused = 0;
    const stats = (): ForwarderStats | Record<string, unknown> =>
      forwarder ? forwarder.stats() : { connected: b.connected, buffered: false, inFlight: unacked.count, refused };

    onSyncInput(this, (msg, send, done) => {
      const m = msg as unknown as SampleMessage;
      if (m.action !== undefined) {
        if (typeof m.action !== 'string' || !(ACTIONS as readonly string[]).includes(m.action)) {
          throw new InputError(`msg.action must be "flush", "clear" or "stats", not ${JSON.stringify(m.action)?.slice(0, 30)}`);
        }
        if (m.action === 'clear') {
          const n = forwarder?.clear() ?? 0;
          if (n) node.warn(RED._('mqtt-publish.warn.cleared', { count: n.toLocaleString('en-US') }));
        } else if (m.action === 'flush') {
          b.reconnectNow();
          if (forwarder && queue!.size) {
            // Answered with the counters once the backlog present now has been acknowledged.
            flushReplies.push({ ...msg, topic: 'flushed' } as NodeMessage);
            forwarder.flush();
            return;
          }
        }
        send({ ...msg, payload: stats() } as NodeMessage);
        showStatus();
        return;
      }
      const samples = samplesFromMessage(m, READ_OPTIONS);
      const items = buildMessages(m, samples, isBatchMessage(m), messageSettings, Date.now());
      const settle = settleLater(node, done);
      if (forwarder) {
        // done() only once the messages are durable on disk; the broker's PUBACK removes them later.
        forwarder.add(items, settle);
        return HELD;
      }
      // Unbuffered: publish now; done() on PUBACK (QoS 1/2) or once written (QoS 0). A broker that
      // stops acknowledging (or a connection that stalls before keepalive notices) would otherwise
      // keep every message since in memory: past the bound, messages are refused with an error.
      let bytes = 0;
      for (const it of items) bytes += it.payload.length;
      if (unacked.count > 0 && (unacked.count + items.length > UNBUFFERED_MAX_UNACKED || unacked.bytes + bytes > UNBUFFERED_MAX_UNACKED_BYTES)) {
        refused++;
        throw new DeviceError(
          `the broker has not acknowledged ${unacked.count.toLocaleString('en-US')} message(s) (${Math.ceil(unacked.bytes / 1024).toLocaleString('en-US')} kB) published without the buffer: this message is not sent (the buffer keeps messages through a slow or stalled broker)`,
        );
      }
      unacked.count += items.length;
      unacked.bytes += bytes;
      Promise.all(
        items.map((it) =>
          b.publish({ topic: it.topic, payload: it.payload, qos: it.qos, retain: it.retain, properties: it.properties }).finally(() => {
            unacked.count--;
            unacked.bytes -= it.payload.length;
          }),
        ),
      ).then(
        () => settle(),
        (err: unknown) => settle(err instanceof Error ? err : new Error(String(err))),
      );
      return HELD;
    });

    this.on('close', (removed: boolean, done: () => void) => {
      unwatch();
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      forwarder?.close();
      const left = queue?.size ?? 0;
      const finish = () => b.deregister(node, done, removed);
      if (!queue) return finish();
      queue.close().then(
        () => {
          if (removed && file) {
            // The node was deleted from the flow: its backlog has no one to send it.
            if (left) node.warn(RED._('mqtt-publish.warn.removed', { count: left.toLocaleString('en-US') }));
            for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
          }
          finish();
        },
        (err) => {
          node.error(errorMessage(err));
          finish();
        },
      );
    });
  }
  RED.nodes.registerType('plantwire-mqtt-publish', MqttPublishNode);
};
