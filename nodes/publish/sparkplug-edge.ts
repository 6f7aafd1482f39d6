/**
 * plantwire-sparkplug-edge (config): one Sparkplug B edge node (DESIGN.md section 6). It opens its
 * own mqtt.js client from the plantwire-mqtt-broker config, with NDEATH as the will, and hands the
 * protocol to the engine in sparkplug-session.ts. Device nodes register with it.
 */
import * as os from 'os';
import * as path from 'path';
import * as mqtt from 'mqtt';
import { boolSetting, numberSetting } from '../shared/config';
import { ConfigError, errorMessage } from '../shared/errors';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import type { MqttBrokerNode } from './mqtt-broker-api';
import type { SparkplugEdgeNode } from './sparkplug-edge-api';
import { SqliteQueue, queueFile, type StoreAndForwardQueue } from './queue';
import { QueueHistoryBuffer } from './sparkplug-buffer';
import {
  checkSparkplugId,
  EdgeNodeSession,
  FileBdSeqStore,
  type SparkplugTransport,
} from './sparkplug-session';

interface EdgeDef extends NodeDef {
  broker: string;
  groupId: string;
  edgeNodeId: string;
  primaryHostId: string;
  buffer: boolean | string;
  bufferMaxMB: string | number;
  bufferMaxAgeH: string | number;
}

/** How long close waits for the NDEATH PUBACK before it ends the client anyway. */
const NDEATH_TIMEOUT_MS = 2000;

interface BrokerFallback {
  url?: string;
  credentials?: { user?: string; password?: string };
}

/**
 * mqtt.js URL and options from the broker config. plantwire-mqtt-broker provides connectOptions();
 * an older broker node without it is read directly (url and credentials; no TLS).
 */
function brokerConnectOptions(broker: MqttBrokerNode, clientIdSuffix: string): { url: string; options: mqtt.IClientOptions } {
  if (typeof broker.connectOptions === 'function') return broker.connectOptions({ clientIdSuffix });
  const b = broker as unknown as BrokerFallback;
  if (!b.url) throw new ConfigError('the MQTT broker has no URL');
  const options: mqtt.IClientOptions = { clientId: `plantwire_${Math.random().toString(16).slice(2, 10)}${clientIdSuffix}`, clean: true };
  if (b.credentials?.user) options.username = b.credentials.user;
  if (b.credentials?.password) options.password = b.credentials.password;
  return { url: b.url, options };
}

export = function register(RED: NodeAPI): void {
  function SparkplugEdgeNode(this: Node, config: EdgeDef): void {
    RED.nodes.createNode(this, config);
    const node = this as SparkplugEdgeNode;
    const listeners = new Set<() => void>();
    const users = new Map<string, Node>();
    let problem: string | undefined;
    let session: EdgeNodeSession | undefined;
    let queue: StoreAndForwardQueue | undefined;
    let client: mqtt.MqttClient | undefined;
    let connecting = false;
    let everConnected = false;
    let lastError: string | undefined;
    let closing = false;

    const notify = () => {
      for (const l of listeners) l();
    };

    try {
      const broker = (config.broker ? RED.nodes.getNode(config.broker) : null) as MqttBrokerNode | null;
      if (!broker) throw new ConfigError('no MQTT broker is configured: choose or add a plantwire-mqtt-broker');
      const buffer = boolSetting(config.buffer, true);
      const mb = numberSetting(config.bufferMaxMB, 'bufferMaxMB', 100);
      if (mb <= 0) throw new ConfigError('bufferMaxMB must be more than 0');
      const hours = numberSetting(config.bufferMaxAgeH, 'bufferMaxAgeH', 72);
      if (hours < 0) throw new ConfigError('bufferMaxAgeH must not be negative');
      const userDir = (RED.settings as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
      const folder = path.join(userDir, 'plantwire');
      const bounds = { maxBytes: mb * 1024 * 1024, maxAgeMs: hours * 3600 * 1000 };
      const transport: SparkplugTransport = {
        publish: (topic, payload, qos) =>
          new Promise<void>((resolve, reject) => {
            if (!client) return reject(new Error('not connected'));
            client.publish(topic, payload, { qos, retain: false }, (err) => (err ? reject(err) : resolve()));
          }),
        subscribe: (topic, qos) =>
          new Promise<void>((resolve, reject) => {
            if (!client) return reject(new Error('not connected'));
            client.subscribe(topic, { qos }, (err) => (err ? reject(err) : resolve()));
          }),
        restart: () => {
          const c = client;
          // end() sends DISCONNECT (the broker discards the will: our NDEATH already went out);
          // reconnect() emits 'reconnect', where the next will with a new bdSeq is set.
          if (c) c.end(false, {}, () => c.reconnect());
        },
      };
      // Ids are checked before anything touches the disk.
      const groupId = checkSparkplugId(String(config.groupId ?? '').trim(), 'groupId');
      const edgeNodeId = checkSparkplugId(String(config.edgeNodeId ?? '').trim(), 'edgeNodeId');
      if (buffer) queue = new SqliteQueue({ file: queueFile(userDir, `sparkplug-${node.id}`), ...bounds });
      session = new EdgeNodeSession({
        groupId,
        edgeNodeId,
        primaryHostId: String(config.primaryHostId ?? '').trim(),
        transport,
        bdSeqStore: new FileBdSeqStore(folder, groupId, edgeNodeId),
        buffer: queue ? new QueueHistoryBuffer(queue) : undefined,
        onStateChange: () => notify(),
        onBacklog: () => notify(),
        onError: (err) => {
          lastError = err.message;
          node.error(err.message);
          notify();
        },
      });
      const brokerNode = broker;
      // Opened with the first device, so an edge node nobody uses does not connect.
      const open = () => {
        if (client || closing || !session) return;
        const sess = session;
        const { url, options } = brokerConnectOptions(brokerNode, `-spb-${sess.edgeNodeId}`.slice(0, 40));
        const will = sess.nextWill();
        connecting = true;
        const c = mqtt.connect(url, {
          ...options,
          reconnectPeriod: options.reconnectPeriod || 2000,
          // Stale QoS 0 data must not be sent after a reconnect: it would carry an old seq. What was
          // produced offline goes through the buffer and is replayed as historical.
          queueQoSZero: false,
          resubscribe: false,
          will: { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain },
        });
        client = c;
        c.on('reconnect', () => {
          // The will of this CONNECT: a new bdSeq if the last one was used by a session
          // (tck-id-payloads-nbirth-bdseq-inc), saved before use.
          const w = sess.nextWill();
          c.options.will = { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain };
          connecting = true;
          notify();
        });
        c.on('connect', () => {
          connecting = false;
          everConnected = true;
          // Each QoS 0 publish waiting for the socket to drain holds a listener, and mqtt.js limits
          // the socket to 1,000 (past it Node logs a leak warning); the session bounds what waits
          // (MAX_UNSENT_PUBLISHES), births aside, which a node with many devices sends in one burst.
          c.stream?.setMaxListeners(0);
          lastError = undefined;
          sess.connected().catch((err: unknown) => {
            lastError = errorMessage(err);
            node.error(`Sparkplug session start failed: ${lastError}`);
            notify();
          });
          notify();
        });
        c.on('close', () => {
          sess.connectionLost();
          notify();
        });
        c.on('error', (err) => {
          // mqtt.js repeats the error on every retry: say it once, and again when it changes.
          if (err.message !== lastError) node.warn(`Sparkplug edge node ${sess.edgeNodeId}: ${err.message}`);
          lastError = err.message;
          notify();
        });
        c.on('message', (topic, payload) => {
          void sess.handleMessage(topic, payload);
        });
      };

      node.addDevice = (user, deviceId, options) => {
        if (problem || !session) throw new ConfigError(problem ?? 'edge node is not ready');
        // The client first: a broker that cannot be used is reported before the device is taken.
        open();
        const device = session.addDevice(deviceId, options);
        users.set(user.id, user);
        return device;
      };
      node.removeDevice = (user, device, done) => {
        users.delete(user.id);
        device.remove().then(
          () => done(),
          () => done(),
        );
      };
    } catch (err) {
      problem = errorMessage(err);
      node.error(problem);
      node.addDevice = () => {
        throw new ConfigError(problem as string);
      };
      node.removeDevice = (user, _device, done) => {
        users.delete(user.id);
        done();
      };
    }

    Object.defineProperty(node, 'problem', { get: () => problem });
    node.watch = (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    };
    node.view = () => {
      if (problem) return { state: 'error', buffered: 0, lastError: problem, backedUp: false };
      const s = session as EdgeNodeSession;
      // 'connecting' until the first connection; after that an outage reads 'offline' (with what is
      // buffered) even while mqtt.js retries.
      const state = s.state === 'disconnected' && connecting && !everConnected ? 'connecting' : s.state;
      return { state, buffered: s.bufferedCount, lastError, backedUp: s.backedUp };
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      listeners.clear();
      const c = client;
      const finish = () => {
        client = undefined;
        const q = queue;
        queue = undefined;
        (q ? q.close() : Promise.resolve()).then(
          () => done(),
          () => done(),
        );
      };
      if (!session || !c) return finish();
      // No new session while closing.
      c.removeAllListeners('reconnect');
      c.options.reconnectPeriod = 0;
      // tck-id-operational-behavior-edge-node-intentional-disconnect-ndeath: NDEATH, then DISCONNECT
      // (which tells the broker to discard the will: the NDEATH is already out).
      let timer: NodeJS.Timeout | undefined;
      const ndeath = Promise.race([
        session.stop().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, NDEATH_TIMEOUT_MS))),
      ]);
      void ndeath.then(() => {
        if (timer) clearTimeout(timer);
        c.end(!c.connected, {}, () => {
          c.removeAllListeners();
          // A late socket error must not become an unhandled 'error' event.
          c.on('error', () => undefined);
          finish();
        });
      });
    });
  }

  RED.nodes.registerType('plantwire-sparkplug-edge', SparkplugEdgeNode);
};
