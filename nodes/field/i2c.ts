/** plantwire-i2c: raw register reads and writes on an I2C device. */
import { choiceSetting, numberSetting } from '../shared/config';
import { ConfigError, DeviceError, InputError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { typeName } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { I2C_BLOCK_MAX, formatAddress, openI2cBus, parseAddress, type I2cBus } from './i2c-bus';
import { Reopener } from './reopen';

interface I2cDef extends NodeDef {
  backend: string;
  bus: string;
  address: string;
  op: string;
  register: string;
  length: string;
}

/** A register number 0-255 from "0xF4", "244" or 244; undefined for none. */
function registerOf(raw: unknown, where: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new InputError(`${where} must be a register 0-255 (or 0x00-0xFF), not ${JSON.stringify(raw)}`);
  return n;
}

function lengthOf(raw: unknown, where: string): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > I2C_BLOCK_MAX) {
    throw new InputError(`${where} must be a byte count 1-${I2C_BLOCK_MAX}, not ${typeof raw === 'number' ? raw : typeName(raw)}`);
  }
  return n;
}

/** The bytes to write: a Buffer, an array of bytes, or one byte as a number. */
function bytesOf(raw: unknown): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (typeof raw === 'number') raw = [raw];
  if (Array.isArray(raw) && raw.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Buffer.from(raw as number[]);
  throw new InputError(`msg.payload to write must be a Buffer, an array of bytes 0-255 or one byte, not ${Array.isArray(raw) ? 'an array with non-bytes' : typeName(raw)}`);
}

export = function register(RED: NodeAPI): void {
  function I2cNode(this: Node, config: I2cDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    let reopener: Reopener<I2cBus>;
    let address: number;
    let op: 'read' | 'write';
    let register: number | undefined;
    let length: number;
    let busNumber: number;
    try {
      const backend = choiceSetting(config.backend, 'backend', ['hardware', 'simulated'] as const, 'simulated');
      busNumber = numberSetting(config.bus, 'bus', 1);
      if (!Number.isInteger(busNumber) || busNumber < 0 || busNumber > 255) throw new ConfigError('bus must be an integer 0-255');
      address = parseAddress(config.address);
      op = choiceSetting(config.op, 'operation', ['read', 'write'] as const, 'read');
      register = registerOf(config.register, 'register');
      length = lengthOf(config.length === undefined || config.length === '' ? 1 : config.length, 'length');
      reopener = new Reopener<I2cBus>({
        open: () => openI2cBus(busNumber, backend),
        opened: () => status.set('ok', RED._('i2c.status.ready')),
        failed: (err, first, attempt) => {
          status.set('error', RED._('i2c.status.nobus', { bus: busNumber, n: attempt }));
          if (first) node.error(`I2C ${formatAddress(address)} (${backend}): ${err.message}; retrying`);
        },
      });
    } catch (err) {
      status.set('error', RED._('i2c.status.config'));
      this.error(errorMessage(err));
      return;
    }
    void reopener.start();

    onInput(this, async (msg, send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      const reg = m.register !== undefined ? registerOf(m.register, 'msg.register') : register;
      const bus = reopener.current;
      if (!bus) throw new DeviceError(`I2C bus ${busNumber} is not available (see the node status)`, { code: 'UNAVAILABLE' });
      try {
        if (op === 'read') {
          const n = m.length !== undefined ? lengthOf(m.length, 'msg.length') : length;
          m.payload = reg === undefined ? await bus.read(address, n) : await bus.readRegister(address, reg, n);
        } else {
          const data = bytesOf(m.payload);
          if (data.length > I2C_BLOCK_MAX || (reg === undefined && data.length === 0)) {
            throw new InputError(`msg.payload to write must hold 1-${I2C_BLOCK_MAX} bytes, not ${data.length}`);
          }
          if (reg === undefined) await bus.write(address, data);
          else await bus.writeRegister(address, reg, data);
        }
      } catch (err) {
        if (err instanceof DeviceError) status.set('error', RED._('i2c.status.noanswer', { address: formatAddress(address) }));
        throw err;
      }
      m.address = address;
      if (reg !== undefined) m.register = reg;
      status.set('ok', RED._(op === 'read' ? 'i2c.status.read' : 'i2c.status.written'));
      send(m as never);
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      const bus = reopener.stop();
      if (bus) bus.close().then(() => done(), () => done());
      else done();
    });
  }
  RED.nodes.registerType('plantwire-i2c', I2cNode);
};
