/** plantwire-modbus-server: a simulated Modbus TCP device (the engine's ModbusSimulator) in a flow. */
import { ConfigError, InputError, errorMessage } from '../shared/errors';
import { numberSetting } from '../shared/config';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { isPlainObject, typeName, type SampleValue } from '../shared/sample';
import { StatusReporter } from '../shared/status';
import { encodeTag } from './codec';
import { ModbusSimulator, SIGNAL_KINDS, type SignalKind, type SimSignal, type SimWriteEvent } from './simulator';
import { readTag } from './tag-settings';
import type { TagDef } from './types';

interface ServerDef extends NodeDef {
  host: string;
  port: string | number;
  signals: unknown;
}

/** How often the client count in the status is refreshed, ms. */
const STATUS_EVERY = 1000;

function blank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** The signal table from the flow: the tag fields checked like a read node's, plus the generator. */
function readSignals(raw: unknown): { signals: SimSignal[]; unitIds: number[]; tags: Map<string, TagDef> } {
  if (raw === undefined || raw === null || raw === '') raw = [];
  if (!Array.isArray(raw)) throw new ConfigError(`signals must be a list, not ${typeName(raw)}`);
  const units = new Set<number>([1]);
  const tags = new Map<string, TagDef>();
  const signals = raw.map((r: unknown, i: number) => {
    const tag = readTag(r, i);
    const o = r as Record<string, unknown>;
    if (tags.has(tag.name)) throw new ConfigError(`signal name "${tag.name}" is used twice; signal names must be unique`);
    tags.set(tag.name, tag);
    const kind = blank(o.signal) ? 'constant' : o.signal;
    if (!SIGNAL_KINDS.includes(kind as SignalKind)) throw new ConfigError(`signal "${tag.name}": signal must be one of ${SIGNAL_KINDS.join(', ')}, not "${String(kind)}"`);
    const s: SimSignal = { ...tag, signal: kind as SignalKind };
    delete (s as { unit?: string }).unit;
    if (!blank(o.unitId)) {
      const u = numberSetting(o.unitId, `signal "${tag.name}": unit id`);
      if (!Number.isInteger(u) || u < 0 || u > 255) throw new ConfigError(`signal "${tag.name}": unit id must be 0-255, not ${u}`);
      s.unitId = u;
      units.add(u);
    }
    if (!blank(o.min)) s.min = numberSetting(o.min, `signal "${tag.name}": min`);
    if (!blank(o.max)) s.max = numberSetting(o.max, `signal "${tag.name}": max`);
    if (!blank(o.period)) {
      s.period = numberSetting(o.period, `signal "${tag.name}": period`);
      if (s.period <= 0) throw new ConfigError(`signal "${tag.name}": period must be above 0 seconds`);
    }
    if (!blank(o.value)) s.value = settingValue(tag, o.value);
    return s;
  });
  return { signals, unitIds: [...units].sort((a, b) => a - b), tags };
}

/** A constant's value from the editor (a string there) in the signal's type. */
function settingValue(tag: TagDef, v: unknown): SampleValue {
  if (tag.type === 'string') return String(v);
  if (tag.type === 'bool') return v === true || v === 'true' || v === 1 || v === '1';
  return numberSetting(v, `signal "${tag.name}": value`);
}

export = function register(RED: NodeAPI): void {
  function ModbusServerNode(this: Node, config: ServerDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    let sim: ModbusSimulator;
    let tags: Map<string, TagDef>;
    let port: number;
    try {
      port = numberSetting(config.port, 'port', 5020);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`port must be 0-65535, not ${port}`);
      const host = typeof config.host === 'string' && config.host.trim() !== '' ? config.host.trim() : '127.0.0.1';
      const table = readSignals(config.signals);
      tags = table.tags;
      sim = new ModbusSimulator({ host, port, unitIds: table.unitIds, signals: table.signals });
    } catch (err) {
      status.set('error', RED._('modbus-server.status.config'));
      this.error(errorMessage(err));
      return;
    }

    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const showStatus = () => {
      const clients = sim.stats.connections;
      status.set('ok', RED._(clients === 1 ? 'modbus-server.status.listeningOne' : 'modbus-server.status.listening', { port: sim.port, clients }));
    };
    status.set('busy', RED._('modbus-server.status.starting'));
    sim
      .start()
      .then(() => {
        if (closed) return;
        showStatus();
        timer = setInterval(showStatus, STATUS_EVERY);
      })
      .catch((err: unknown) => {
        if (closed) return;
        status.set('error', RED._('modbus-server.status.failed', { port }));
        node.error(`cannot listen on port ${port}: ${errorMessage(err)}`);
      });

    const onWrite = (e: SimWriteEvent) => {
      if (e.tags.length === 0) {
        node.send({ topic: `${e.area}:${e.address}`, payload: e.values, unitId: e.unitId });
        return;
      }
      for (const name of e.tags) node.send({ topic: name, payload: sim.getValue(name, e.unitId), unitId: e.unitId });
    };
    sim.on('write', onWrite);

    onInput(this, (msg, _send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      const apply = (name: string, value: unknown) => {
        const tag = tags.get(name);
        if (!tag) throw new InputError(`unknown signal "${name.slice(0, 40)}"; this server has ${[...tags.keys()].join(', ') || 'no signals'}`);
        if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'string') {
          throw new InputError(`signal "${name}": the value must be a number, boolean or string, not ${typeName(value)}`);
        }
        // Encoding first checks range and type without touching the simulator's state.
        encodeTag(tag, value, 0);
        return () => sim.setValue(name, value);
      };
      let changes: (() => void)[];
      if (isPlainObject(m.payload)) {
        const entries = Object.entries(m.payload);
        if (entries.length === 0) throw new InputError('msg.payload is an empty object: nothing to set');
        changes = entries.map(([k, v]) => apply(k, v));
      } else {
        if (typeof m.topic !== 'string' || m.topic === '') throw new InputError('msg.topic must name the signal to set');
        changes = [apply(m.topic, m.payload)];
      }
      changes.forEach((c) => c());
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (timer) clearInterval(timer);
      sim.removeListener('write', onWrite);
      sim.stop().then(
        () => done(),
        () => done(),
      );
      status.clear();
    });
  }
  RED.nodes.registerType('plantwire-modbus-server', ModbusServerNode);
};
