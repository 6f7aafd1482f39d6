/**
 * What a plantwire-mqtt-broker config node offers the nodes that use it (type-only module).
 *
 *   const broker = RED.nodes.getNode(config.broker) as MqttBrokerNode | null;
 *
 * Shared connection (plantwire-mqtt-publish and any node that publishes through it):
 *   broker.register(node);                         // the first user opens the connection
 *   const stop = broker.watchState((state, detail) => ...); // 'connecting' | 'connected' | ...
 *   await broker.publish({ topic, payload, qos, retain, properties }); // resolves on PUBACK
 *   broker.deliver({ topic, payload, qos }, (err) => ...); // the same with a callback
 *   node.on('close', (removed, done) => { stop(); broker.deregister(node, done, removed); });
 *
 * Own client (the Sparkplug edge node, which needs its own will message, NDEATH):
 *   const { url, options } = broker.connectOptions({ clientIdSuffix: '-sparkplug' });
 *   const client = mqtt.connect(url, { ...options, will: { topic, payload, qos: 1, retain: false } });
 * `options` carries clientId (with the suffix: a broker drops an older client that connects again
 * with the same id, MQTT 3.1.1 section 3.1.4), protocolVersion, keepalive, username/password from
 * the credentials, TLS settings from the tls-config node, clean: true, connectTimeout 15 s and
 * reconnectPeriod 0 (mqtt.js does not reconnect by itself: set your own period, or reconnect with
 * a backoff as the shared connection does). It has no will and no birth: those belong to the shared
 * connection. Each call returns a fresh copy; it throws a ConfigError when the settings are invalid.
 */
import type { IClientOptions } from 'mqtt';
import type { Node } from '../shared/red';
import type { ConnectionState, MqttMessageSpec, PublishCallback } from './mqtt-connection';

export interface ConnectOptionsRequest {
  /** Appended to the configured client id so the extra client does not displace the shared one. */
  clientIdSuffix?: string;
}

export type StateListener = (state: ConnectionState, detail?: string) => void;

export interface MqttBrokerApi {
  /** mqtt.js connect URL and options for a node that opens its own client. */
  connectOptions(request?: ConnectOptionsRequest): { url: string; options: IClientOptions };
  register(user: Node): void;
  /** Unregisters; the last user ends the connection; `done` is called when that is complete. */
  deregister(user: Node, done: () => void, removed?: boolean): void;
  /** Publishes on the shared connection; rejects at once when not connected. */
  publish(msg: MqttMessageSpec): Promise<void>;
  /** `publish` with a callback instead of a Promise (called once, never before `deliver` returns). */
  deliver(msg: MqttMessageSpec, cb: PublishCallback): void;
  /** Calls `listener` now with the current state and on every change; returns the remover. */
  watchState(listener: StateListener): () => void;
  /** Try to connect now instead of waiting for the next backoff attempt. */
  reconnectNow(): void;
  readonly state: ConnectionState;
  readonly connected: boolean;
  /** 4 (MQTT 3.1.1) or 5. */
  readonly protocolVersion: 4 | 5;
  /** The broker's Receive Maximum when it sent one (MQTT 5). */
  readonly receiveMaximum: number | undefined;
  /** The URL without credentials, for status and log texts. */
  readonly displayUrl: string;
}

export type MqttBrokerNode = Node & MqttBrokerApi;
