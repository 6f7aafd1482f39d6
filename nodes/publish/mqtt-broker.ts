/**
 * plantwire-mqtt-broker (config): one MQTT connection shared by every node that uses it, and the
 * connect options for nodes that open their own client. The API is documented in mqtt-broker-api.ts.
 */
import { randomBytes } from 'crypto';
import type { IClientOptions } from 'mqtt';
import { ConfigError, errorMessage } from '../shared/errors';
import { boolSetting, choiceSetting, numberSetting } from '../shared/config';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import type { ConnectOptionsRequest, MqttBrokerApi, StateListener } from './mqtt-broker-api';
import { SharedMqttConnection, messageSpec, parseBrokerUrl, type ConnectionState, type MqttMessageSpec, type PublishCallback } from './mqtt-connection';

interface BrokerDef extends NodeDef {
  url: string;
  clientId: string;
  protocolVersion: string;
  keepalive: string;
  tls: string;
  birthTopic: string;
  birthPayload: string;
  birthQos: string;
  birthRetain: boolean;
  willTopic: string;
  willPayload: string;
  willQos: string;
  willRetain: boolean;
}

interface BrokerCredentials {
  user?: string;
  password?: string;
}

interface TlsConfigNode extends Node {
  addTLSOptions(opts: Record<string, unknown>): Record<string, unknown>;
}

export = function register(RED: NodeAPI): void {
  function MqttBrokerNode(this: Node & MqttBrokerApi, config: BrokerDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (this.credentials ?? {}) as BrokerCredentials;
    let url: string;
    let display = '';
    let options: IClientOptions;
    let problem: string | undefined;
    try {
      const parsed = parseBrokerUrl(config.url);
      url = parsed.url;
      display = parsed.display;
      const protocolVersion = choiceSetting(String(config.protocolVersion ?? ''), 'protocolVersion', ['4', '5'], '4');
      const keepalive = numberSetting(config.keepalive, 'keepalive', 60);
      if (keepalive < 0 || keepalive > 65535) throw new ConfigError('keepalive must be 0..65535 seconds');
      const clientId = (config.clientId ?? '').trim() || `plantwire_${randomBytes(4).toString('hex')}`;
      options = {
        clientId,
        protocolVersion: protocolVersion === '5' ? 5 : 4,
        keepalive,
        clean: true,
        connectTimeout: 15_000,
        reconnectPeriod: 0,
      };
      if (creds.user) options.username = creds.user;
      if (creds.password) options.password = creds.password;
      if (config.tls) {
        const tlsNode = RED.nodes.getNode(config.tls) as TlsConfigNode | null;
        if (!tlsNode) throw new ConfigError('the TLS configuration node is missing');
        tlsNode.addTLSOptions(options as Record<string, unknown>);
      }
      const will = messageSpec(config.willTopic, config.willPayload, config.willQos, boolSetting(config.willRetain));
      if (will) options.will = { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos ?? 0, retain: !!will.retain };
    } catch (err) {
      problem = errorMessage(err);
      url = '';
      options = {};
      this.error(problem);
    }
    const birth = problem
      ? undefined
      : messageSpec(config.birthTopic, config.birthPayload, config.birthQos, boolSetting(config.birthRetain));
    const connection = new SharedMqttConnection({ url, options, birth });
    const userNodes = new Map<string, Node>();

    // One warning per outage, not one per retry: a broker away for a night would fill the log.
    let warned = false;
    connection.on('state', (state: ConnectionState, detail?: string) => {
      if (state === 'connected') {
        warned = false;
        node.log(`connected to ${display}`);
      } else if (state === 'disconnected' && !warned) {
        warned = true;
        node.warn(`cannot reach ${display}${detail ? `: ${detail}` : ''}; retrying with backoff`);
      }
    });
    connection.on('warning', (text: string) => node.warn(text));

    this.connectOptions = (request: ConnectOptionsRequest = {}) => {
      if (problem) throw new ConfigError(problem);
      const copy: IClientOptions = { ...options };
      delete copy.will;
      copy.clientId = `${options.clientId}${request.clientIdSuffix ?? ''}`;
      return { url, options: copy };
    };
    this.register = (user: Node) => {
      userNodes.set(user.id, user);
      if (!problem) connection.register(user.id);
    };
    this.deregister = (user: Node, done: () => void) => {
      userNodes.delete(user.id);
      connection.deregister(user.id).then(
        () => done(),
        () => done(),
      );
    };
    const invalid = () => new ConfigError(`broker settings are invalid: ${problem}`);
    this.publish = (msg: MqttMessageSpec) => (problem ? Promise.reject(invalid()) : connection.publish(msg));
    this.deliver = (msg: MqttMessageSpec, cb: PublishCallback) => {
      if (problem) process.nextTick(cb, invalid());
      else connection.deliver(msg, cb);
    };
    this.watchState = (listener: StateListener) => {
      listener(problem ? 'closed' : connection.state, problem ?? connection.lastError);
      connection.on('state', listener);
      return () => {
        connection.removeListener('state', listener);
      };
    };
    this.reconnectNow = () => connection.reconnectNow();
    Object.defineProperties(this, {
      state: { get: () => connection.state },
      connected: { get: () => connection.connected },
      protocolVersion: { get: () => connection.protocolVersion },
      receiveMaximum: { get: () => connection.receiveMaximum },
      displayUrl: { get: () => display },
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      connection.close().then(
        () => {
          connection.removeAllListeners();
          done();
        },
        () => done(),
      );
    });
  }

  RED.nodes.registerType('plantwire-mqtt-broker', MqttBrokerNode as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      user: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
