/**
 * plantwire-modbus-write: encodes values with the codec (the inverse of a read) and writes them
 * through the connection's session; the message goes on once the device acknowledged every write.
 */
import { ConfigError, DeviceError, InputError, errorMessage } from '../shared/errors';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { StatusReporter } from '../shared/status';
import { encodeTag } from './codec';
import { connectionApi, type ModbusConnectionApi } from './connection-users';
import type { ModbusClientSession } from './session';
import { readTags, readUnitId } from './tag-settings';
import type { SessionState, TagDef } from './types';
import { planWrites, writeRequests, type WriteStep } from './write-plan';

interface WriteDef extends NodeDef {
  connection: string;
  unitId: string | number;
  tags: unknown;
}

/** Messages waiting behind the one being written; more is a flow that outruns the device. */
const MAX_WAITING = 1000;

export = function register(RED: NodeAPI): void {
  function ModbusWriteNode(this: Node, config: WriteDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    const conn = connectionApi(RED.nodes.getNode(config.connection));

    let tags: TagDef[];
    let unitId: number;
    let session: ModbusClientSession | undefined;
    try {
      if (!conn) throw new ConfigError('no Modbus connection is chosen (or it is disabled): choose one in the node settings');
      tags = readTags(config.tags, { writable: true });
      unitId = readUnitId(config.unitId);
      if (conn.configError) throw new ConfigError(`its connection (${conn.endpoint}) has invalid settings: ${conn.configError}`);
      session = conn.register(this);
    } catch (err) {
      status.set('error', RED._(conn ? 'modbus-write.status.config' : 'modbus-write.status.noConnection'));
      this.error(errorMessage(err));
      this.on('close', (_removed: boolean, done: () => void) => done());
      return;
    }
    const s = session;
    const api = conn as ModbusConnectionApi<ModbusClientSession>;
    let closed = false;
    let waiting = 0;
    // Writes run one message after another, in arrival order: a later setpoint must not overtake an earlier one.
    let queue: Promise<void> = Promise.resolve();

    const showLink = (state: SessionState) => {
      if (state === 'connecting' || state === 'idle') status.set('busy', RED._('modbus-write.status.connecting'));
      else if (state === 'backoff') status.set('error', RED._('modbus-write.status.backoff'));
      else if (state === 'closed') status.set('stopped', RED._('modbus-write.status.disconnected'));
      else status.set('ok', RED._('modbus-write.status.ready'));
    };
    const onState = (state: SessionState) => {
      if (!closed) showLink(state);
    };
    s.on('state', onState);
    showLink(s.state);

    const run = async (step: WriteStep): Promise<void> => {
      if (step.kind === 'registers') return s.writeRegisters(unitId, step.address, step.words);
      if (step.kind === 'coils') return s.writeCoils(unitId, step.address, step.bits);
      // A bool in a register: read the word, change the one bit, write the word back (FC3 + FC6).
      const [current] = (await s.read(unitId, 'holding', step.tag.address, 1)) as number[];
      const [word] = encodeTag(step.tag, step.value, current);
      return s.writeRegisters(unitId, step.tag.address, [word]);
    };

    const write = async (steps: WriteStep[]): Promise<void> => {
      for (const step of steps) {
        try {
          await run(step);
        } catch (err) {
          const names = step.kind === 'bit' ? step.tag.name : step.tags.join(', ');
          throw new DeviceError(`writing ${names} to unit ${unitId} at ${api.endpoint} failed: ${errorMessage(err)}`, { cause: err });
        }
      }
    };

    onInput(this, (msg, send, done) => {
      const m = msg as unknown as Record<string, unknown>;
      // Everything is checked and encoded before the first request, so a bad value writes nothing.
      const steps = planWrites(writeRequests(tags, m.topic, m.payload), api.limits);
      if (waiting >= MAX_WAITING) throw new InputError(`${waiting} messages are already waiting to be written; this one is dropped`);
      waiting++;
      const count = steps.reduce((n, st) => n + (st.kind === 'bit' ? 1 : st.tags.length), 0);
      queue = queue
        .then(() => (closed ? Promise.reject(new DeviceError('the node was stopped before the write', { code: 'UNAVAILABLE' })) : write(steps)))
        .then(
          () => {
            waiting--;
            if (closed) return done();
            status.set('ok', RED._('modbus-write.status.written', { count }));
            send(msg as NodeMessage);
            done();
          },
          (err: unknown) => {
            waiting--;
            if (!closed) {
              const h = s.unitHealth(unitId);
              status.set('error', h.state === 'open' ? RED._('modbus-write.status.unitFailing', { unit: unitId }) : RED._('modbus-write.status.failed'));
            }
            done(err instanceof Error ? err : new Error(String(err)));
          },
        );
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      s.removeListener('state', onState);
      status.clear();
      api.deregister(node, done);
    });
  }
  RED.nodes.registerType('plantwire-modbus-write', ModbusWriteNode);
};
