/**
 * plantwire-modbus-connection (config): one Modbus TCP or RTU session shared by the read and write
 * nodes that use it. The session (session.ts) opens with the first user and closes with the last.
 */
import { choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, errorMessage } from '../shared/errors';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { ConnectionUsers, type ModbusConnectionApi } from './connection-users';
import { validateLimits } from './planner';
import { createModbusSession, normaliseConnection, type ModbusClientSession } from './session';
import type { ConnectionOptions } from './types';

interface ConnectionDef extends NodeDef {
  transport: string;
  host: string;
  port: string | number;
  serialPort: string;
  baudRate: string | number;
  parity: string;
  dataBits: string | number;
  stopBits: string | number;
  timeout: string | number;
  maxRegisters: string | number;
  maxBits: string | number;
  maxGap: string | number;
  maxInFlight: string | number;
}

function integer(raw: unknown, name: string, fallback: number, lo: number, hi: number): number {
  const n = numberSetting(raw, name, fallback);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new ConfigError(`${name} must be a whole number ${lo}-${hi}, not ${n}`);
  return n;
}

/** The config node's settings as session options (DESIGN.md section 4 defaults), or a ConfigError. */
function readConnection(c: ConnectionDef): ConnectionOptions {
  const transport = choiceSetting(c.transport, 'transport', ['tcp', 'rtu'] as const, 'tcp');
  const limits = {
    maxRegisters: integer(c.maxRegisters, 'maxRegisters', 125, 1, 125),
    maxBits: integer(c.maxBits, 'maxBits', 2000, 1, 2000),
    maxGap: integer(c.maxGap, 'maxGap', 10, 0, 65535),
  };
  validateLimits(limits);
  const o: ConnectionOptions = {
    transport,
    timeout: integer(c.timeout, 'timeout', 1000, 1, 600_000),
    maxInFlight: integer(c.maxInFlight, 'maxInFlight', 1, 1, 128),
    limits,
  };
  if (transport === 'tcp') {
    o.host = typeof c.host === 'string' ? c.host.trim() : '';
    o.port = integer(c.port, 'port', 502, 1, 65535);
  } else {
    o.serialPort = typeof c.serialPort === 'string' ? c.serialPort.trim() : '';
    o.baudRate = integer(c.baudRate, 'baudRate', 9600, 50, 4_000_000);
    o.parity = choiceSetting(c.parity, 'parity', ['none', 'even', 'odd'] as const, 'none');
    o.dataBits = integer(c.dataBits, 'dataBits', 8, 5, 8);
    o.stopBits = integer(c.stopBits, 'stopBits', 1, 1, 2);
  }
  return normaliseConnection(o);
}

export = function register(RED: NodeAPI): void {
  function ModbusConnectionNode(this: Node, config: ConnectionDef): void {
    RED.nodes.createNode(this, config);
    let options: ConnectionOptions | undefined;
    let configError: string | undefined;
    try {
      options = readConnection(config);
    } catch (err) {
      configError = errorMessage(err);
      this.error(`Modbus connection "${config.name || config.id}": ${configError}`);
    }
    const users = new ConnectionUsers<ModbusClientSession>(() => {
      if (!options) throw new ConfigError(configError ?? 'invalid connection settings');
      return createModbusSession(options);
    });
    const endpoint = !options ? '?' : options.transport === 'tcp' ? `${options.host}:${options.port}` : String(options.serialPort);
    const api: ModbusConnectionApi<ModbusClientSession> = {
      configError,
      limits: options?.limits ?? { maxRegisters: 125, maxBits: 2000, maxGap: 10 },
      transport: options?.transport ?? 'tcp',
      endpoint,
      register: (user) => {
        if (configError) throw new ConfigError(`the connection's settings are invalid: ${configError}`);
        return users.register(user);
      },
      deregister: (user, done) => {
        users.deregister(user).then(
          () => done(),
          () => done(),
        );
      },
      get users() {
        return users.count;
      },
    };
    Object.defineProperty(this, 'modbus', { value: api, enumerable: false });

    this.on('close', (_removed: boolean, done: () => void) => {
      users.closeAll().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('plantwire-modbus-connection', ModbusConnectionNode);
};
