/**
 * A fast in-process Modbus TCP server for demos and tests, written directly on `net`: MBAP framing
 * (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1), function codes 1, 2, 3, 4, 5, 6,
 * 15 and 16, and exceptions 01 (illegal function), 02 (illegal data address) and 03 (illegal data
 * value) as the Modbus Application Protocol V1.1b3 section 6 defines them for each code.
 *
 * Why not modbus-serial's ServerTCP: it answers every request through a setTimeout, which caps it
 * at about 540 requests a second. This server answers synchronously in the 'data' handler, every
 * complete frame of a chunk in one pass (pipelined requests), keeps a partial frame for the next
 * chunk (split frames), and writes all answers of a chunk with one socket write.
 *
 * The register map is configured by signals (a value generator each) encoded with the codec, and
 * updated on a tick from an injectable clock. Units not listed in `unitIds` never answer, which is
 * how a dead unit on a gateway looks to a client. No node-red import.
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import { ConfigError } from '../shared/errors';
import type { SampleValue } from '../shared/sample';
import { decodeTag, encodeTag, registerCount, validateTag } from './codec';
import { AREAS, isBitArea, type Area, type ByteOrder, type DataType, type TagDef } from './types';

export type SignalKind = 'sine' | 'ramp' | 'random' | 'counter' | 'constant' | 'square';
export const SIGNAL_KINDS: readonly SignalKind[] = ['sine', 'ramp', 'random', 'counter', 'constant', 'square'];

/** One simulated value: where it lives, how it is encoded, and how it changes over time. */
export interface SimSignal {
  name: string;
  area: Area;
  address: number;
  type: DataType;
  order?: ByteOrder;
  bit?: number;
  length?: number;
  scale?: number;
  offset?: number;
  /** Only this unit holds it; default: every unit of `unitIds`. */
  unitId?: number;
  /**
   * sine: between min and max over `period`; ramp: min to max over `period`, then again;
   * random: uniform in [min, max] each tick; counter: min, min+1, ... one step per `period`,
   * wrapping after max; square: max for the first half of each period, min for the second;
   * constant: `value` (a client's write to it sticks).
   */
  signal: SignalKind;
  min?: number;
  max?: number;
  /** Seconds (default 10; counter: seconds a step, default 1). */
  period?: number;
  /** The constant's value, or the counter's start. */
  value?: SampleValue;
}

export interface SimulatorOptions {
  /** 0 (default): any free port; `port` tells which after start(). */
  port?: number;
  host?: string;
  /** Units that answer (default [1]); requests to any other unit id get no answer at all. */
  unitIds?: number[];
  signals?: SimSignal[];
  /** Signal update period, ms (default 100; 0: only when tick() is called). */
  tickMs?: number;
  /** Delay before each answer, ms (default 0: answer synchronously). */
  delayMs?: number;
  /** Addresses that exist in each area (default 65536); beyond them, exception 02. */
  areaSize?: Partial<Record<Area, number>>;
  now?: () => number;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

/** A client's write, applied to the map: `values` are registers (holding) or booleans (coil). */
export interface SimWriteEvent {
  unitId: number;
  area: 'holding' | 'coil';
  address: number;
  values: number[] | boolean[];
  /** Names of the signals the write touched. */
  tags: string[];
}

export interface SimulatorStats {
  connections: number;
  requests: number;
  responses: number;
  exceptions: number;
  /** Requests to units that do not answer. */
  unanswered: number;
  /** Answers waiting for their delay right now, and the most there ever were at once. */
  pending: number;
  maxPending: number;
}

/** One unit's four areas, each allocated when first used (a full unit is 384 KB; most use one or two areas). */
class UnitMemory {
  private h?: Uint16Array;
  private i?: Uint16Array;
  private c?: Uint8Array;
  private d?: Uint8Array;
  get holding(): Uint16Array {
    return (this.h ??= new Uint16Array(65536));
  }
  get input(): Uint16Array {
    return (this.i ??= new Uint16Array(65536));
  }
  get coil(): Uint8Array {
    return (this.c ??= new Uint8Array(65536));
  }
  get discrete(): Uint8Array {
    return (this.d ??= new Uint8Array(65536));
  }
}

interface LiveSignal {
  def: SimSignal;
  tag: TagDef;
  units: number[];
  /** The constant's value (set by setValue; a counter's start). */
  value: SampleValue;
  /** A constant's value per unit, where a client wrote it: a write to one unit stays in that unit. */
  unitValues?: Map<number, SampleValue>;
}

/** Modbus exception codes this server raises (Modbus Application Protocol V1.1b3, section 7). */
const ILLEGAL_FUNCTION = 1;
const ILLEGAL_DATA_ADDRESS = 2;
const ILLEGAL_DATA_VALUE = 3;

const MBAP = 7;

export class ModbusSimulator extends EventEmitter {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly memory = new Map<number, UnitMemory>();
  private readonly signals: LiveSignal[] = [];
  private readonly unitIds: Set<number>;
  private readonly size: Record<Area, number>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly t0: number;
  private tickHandle?: unknown;
  private boundPort: number;
  private readonly st: SimulatorStats = { connections: 0, requests: 0, responses: 0, exceptions: 0, unanswered: 0, pending: 0, maxPending: 0 };

  constructor(private readonly options: SimulatorOptions = {}) {
    super();
    this.boundPort = options.port ?? 0;
    this.unitIds = new Set(options.unitIds ?? [1]);
    for (const u of this.unitIds) {
      if (!Number.isInteger(u) || u < 0 || u > 255) throw new ConfigError(`unit id must be an integer 0-255, not ${u}`);
      this.memory.set(u, new UnitMemory());
    }
    this.size = { holding: 65536, input: 65536, coil: 65536, discrete: 65536 };
    for (const a of AREAS) {
      const n = options.areaSize?.[a];
      if (n !== undefined) {
        if (!Number.isInteger(n) || n < 0 || n > 65536) throw new ConfigError(`areaSize.${a} must be an integer 0-65536`);
        this.size[a] = n;
      }
    }
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.t0 = this.now();
    for (const def of options.signals ?? []) this.addSignal(def);
    this.tick();
  }

  private addSignal(def: SimSignal): void {
    if (!SIGNAL_KINDS.includes(def.signal)) throw new ConfigError(`signal "${def.name}": kind must be one of ${SIGNAL_KINDS.join(', ')}`);
    const tag: TagDef = {
      name: def.name,
      area: def.area,
      address: def.address,
      type: def.type,
      order: def.order,
      bit: def.bit,
      length: def.length,
      scale: def.scale,
      offset: def.offset,
    };
    validateTag(tag);
    if (def.type === 'string' && def.signal !== 'constant') throw new ConfigError(`signal "${def.name}": a string can only be constant`);
    const units = def.unitId === undefined ? [...this.unitIds] : [def.unitId];
    if (def.unitId !== undefined && !this.unitIds.has(def.unitId)) throw new ConfigError(`signal "${def.name}": unit ${def.unitId} is not in unitIds`);
    const live: LiveSignal = { def, tag, units, value: def.value ?? (def.type === 'string' ? '' : def.type === 'bool' ? false : (def.min ?? 0)) };
    this.signals.push(live);
    // Refuse a signal whose range the type cannot hold now, not on some later tick.
    for (const v of [live.value, def.min, def.max]) if (v !== undefined && v !== null) this.write(live, this.coerce(live, v));
  }

  get port(): number {
    return this.boundPort;
  }

  get stats(): Readonly<SimulatorStats> {
    return { ...this.st, connections: this.sockets.size };
  }

  /** Listens; resolves with the bound port. A stopped simulator can start again on the same port. */
  start(): Promise<number> {
    if (this.server) return Promise.resolve(this.boundPort);
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.server = undefined;
        reject(err);
      });
      server.listen(this.boundPort, this.options.host ?? '127.0.0.1', () => {
        this.boundPort = (server.address() as net.AddressInfo).port;
        const tickMs = this.options.tickMs ?? 100;
        if (tickMs > 0) {
          const si = this.options.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms).unref());
          this.tickHandle = si(() => this.tick(), tickMs);
        }
        resolve(this.boundPort);
      });
    });
  }

  /** Closes the listener and every connection (a peer that went away). */
  async stop(): Promise<void> {
    if (this.tickHandle !== undefined) {
      (this.options.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout)))(this.tickHandle);
      this.tickHandle = undefined;
    }
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops every client connection but keeps listening (a device that reset its TCP stack). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Recomputes every generated signal from the clock. */
  tick(): void {
    const t = (this.now() - this.t0) / 1000;
    for (const s of this.signals) {
      if (s.def.signal === 'constant' && s.unitValues) {
        for (const u of s.units) this.write(s, this.coerce(s, s.unitValues.get(u) ?? s.value), u);
        continue;
      }
      const v = this.generate(s, t);
      this.write(s, this.coerce(s, v));
    }
  }

  /** The value a signal holds now, decoded from the map (unit: the signal's first unit). */
  getValue(name: string, unitId?: number): SampleValue {
    const s = this.find(name);
    const unit = unitId ?? s.units[0];
    const mem = this.unit(unit);
    const n = registerCount(s.tag);
    if (isBitArea(s.tag.area)) return mem[s.tag.area][s.tag.address] === 1;
    return decodeTag(s.tag, mem[s.tag.area as 'holding' | 'input'].subarray(s.tag.address, s.tag.address + n), 0);
  }

  /** Sets a signal's value (it becomes constant) in every unit that holds it. */
  setValue(name: string, value: SampleValue): void {
    const s = this.find(name);
    s.def = { ...s.def, signal: 'constant' };
    s.value = value;
    s.unitValues = undefined;
    this.write(s, value);
  }

  /** Raw access for tests: registers (holding/input) or 0/1 (coil/discrete). */
  getRaw(unitId: number, area: Area, address: number, count: number): number[] {
    return Array.from(this.unit(unitId)[area].subarray(address, address + count));
  }

  setRaw(unitId: number, area: Area, address: number, values: number[]): void {
    const mem = this.unit(unitId)[area];
    values.forEach((v, i) => (mem[address + i] = isBitArea(area) ? (v ? 1 : 0) : v & 0xffff));
  }

  private find(name: string): LiveSignal {
    const s = this.signals.find((x) => x.def.name === name);
    if (!s) throw new ConfigError(`no signal named "${name}"`);
    return s;
  }

  private unit(unitId: number): UnitMemory {
    const m = this.memory.get(unitId);
    if (!m) throw new ConfigError(`unit ${unitId} is not simulated`);
    return m;
  }

  private generate(s: LiveSignal, t: number): SampleValue {
    const d = s.def;
    const min = d.min ?? 0;
    const max = d.max ?? (d.type === 'bool' ? 1 : 100);
    const period = d.period ?? (d.signal === 'counter' ? 1 : 10);
    let x: number;
    switch (d.signal) {
      case 'constant':
        return s.value;
      case 'sine':
        x = (min + max) / 2 + ((max - min) / 2) * Math.sin((2 * Math.PI * t) / period);
        break;
      case 'ramp':
        x = min + (max - min) * ((t % period) / period);
        break;
      case 'random':
        x = min + (max - min) * this.random();
        break;
      case 'square':
        x = t % period < period / 2 ? max : min;
        break;
      case 'counter': {
        const start = typeof s.value === 'number' ? s.value : min;
        const span = Math.floor(max - min) + 1;
        const steps = Math.floor(t / period);
        x = min + ((((Math.floor(start - min) + steps) % span) + span) % span);
        break;
      }
    }
    if (d.type === 'bool') return x > (min + max) / 2;
    return x;
  }

  /** Integer types take whole numbers; bools take booleans. */
  private coerce(s: LiveSignal, v: SampleValue): SampleValue {
    const type = s.tag.type;
    if (type === 'bool') return typeof v === 'boolean' ? v : Boolean(v);
    if (typeof v === 'number' && type !== 'float32' && type !== 'float64' && type !== 'string') {
      const scale = s.tag.scale ?? 1;
      const offset = s.tag.offset ?? 0;
      return Math.round((v - offset) / scale) * scale + offset;
    }
    return v;
  }

  /** Writes a signal's value into every unit that holds it, or into `only`. */
  private write(s: LiveSignal, value: SampleValue, only?: number): void {
    for (const u of s.units) {
      if (only !== undefined && u !== only) continue;
      const mem = this.unit(u);
      const a = s.tag.area;
      if (isBitArea(a)) {
        mem[a][s.tag.address] = encodeTag(s.tag, value)[0];
      } else {
        const regs = mem[a as 'holding' | 'input'];
        const words = encodeTag(s.tag, value, regs[s.tag.address]);
        regs.set(words, s.tag.address);
      }
    }
  }

  // ---- the wire ------------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      const out: Buffer[] = [];
      let at = 0;
      while (buf.length - at >= MBAP) {
        const length = buf.readUInt16BE(at + 4);
        // A protocol id other than 0 or an impossible length is not Modbus: drop the peer.
        if (buf.readUInt16BE(at + 2) !== 0 || length < 2 || length > 254) {
          socket.destroy();
          return;
        }
        if (buf.length - at < 6 + length) break;
        const answer = this.handle(buf.subarray(at, at + 6 + length));
        if (answer) out.push(answer);
        at += 6 + length;
      }
      if (at < buf.length) pending = Buffer.from(buf.subarray(at));
      if (!out.length) return;
      const delay = this.options.delayMs ?? 0;
      if (delay > 0) {
        const st = this.options.setTimeout ?? setTimeout;
        for (const answer of out) {
          this.st.pending++;
          this.st.maxPending = Math.max(this.st.maxPending, this.st.pending);
          st(() => {
            this.st.pending--;
            if (!socket.destroyed) socket.write(answer);
          }, delay);
        }
      } else {
        socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Answers one MBAP frame, or returns undefined for a unit that does not answer. */
  private handle(frame: Buffer): Buffer | undefined {
    this.st.requests++;
    const unitId = frame[6];
    const mem = this.memory.get(unitId);
    if (!mem) {
      this.st.unanswered++;
      return undefined;
    }
    const pdu = frame.subarray(MBAP);
    const fc = pdu[0];
    const answer = (body: Buffer) => {
      this.st.responses++;
      const out = Buffer.allocUnsafe(MBAP + body.length);
      frame.copy(out, 0, 0, 4); // transaction id, protocol id
      out.writeUInt16BE(body.length + 1, 4);
      out[6] = unitId;
      body.copy(out, MBAP);
      return out;
    };
    const exception = (code: number) => {
      this.st.exceptions++;
      return answer(Buffer.from([fc | 0x80, code]));
    };
    switch (fc) {
      case 1:
      case 2: {
        if (pdu.length !== 5) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        const qty = pdu.readUInt16BE(3);
        if (qty < 1 || qty > 2000) return exception(ILLEGAL_DATA_VALUE);
        const area = fc === 1 ? 'coil' : 'discrete';
        if (addr + qty > this.size[area]) return exception(ILLEGAL_DATA_ADDRESS);
        const bytes = (qty + 7) >> 3;
        const body = Buffer.alloc(2 + bytes);
        body[0] = fc;
        body[1] = bytes;
        const bits = mem[area];
        for (let i = 0; i < qty; i++) if (bits[addr + i]) body[2 + (i >> 3)] |= 1 << (i & 7);
        return answer(body);
      }
      case 3:
      case 4: {
        if (pdu.length !== 5) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        const qty = pdu.readUInt16BE(3);
        if (qty < 1 || qty > 125) return exception(ILLEGAL_DATA_VALUE);
        const area = fc === 3 ? 'holding' : 'input';
        if (addr + qty > this.size[area]) return exception(ILLEGAL_DATA_ADDRESS);
        const body = Buffer.allocUnsafe(2 + 2 * qty);
        body[0] = fc;
        body[1] = 2 * qty;
        const regs = mem[area];
        for (let i = 0; i < qty; i++) body.writeUInt16BE(regs[addr + i], 2 + 2 * i);
        return answer(body);
      }
      case 5: {
        if (pdu.length !== 5) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        const v = pdu.readUInt16BE(3);
        if (v !== 0xff00 && v !== 0x0000) return exception(ILLEGAL_DATA_VALUE);
        if (addr >= this.size.coil) return exception(ILLEGAL_DATA_ADDRESS);
        mem.coil[addr] = v === 0xff00 ? 1 : 0;
        this.written(unitId, 'coil', addr, [v === 0xff00]);
        return answer(Buffer.from(pdu));
      }
      case 6: {
        if (pdu.length !== 5) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        if (addr >= this.size.holding) return exception(ILLEGAL_DATA_ADDRESS);
        const v = pdu.readUInt16BE(3);
        mem.holding[addr] = v;
        this.written(unitId, 'holding', addr, [v]);
        return answer(Buffer.from(pdu));
      }
      case 15: {
        if (pdu.length < 7) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        const qty = pdu.readUInt16BE(3);
        const bytes = pdu[5];
        if (qty < 1 || qty > 0x7b0 || bytes !== (qty + 7) >> 3 || pdu.length !== 6 + bytes) return exception(ILLEGAL_DATA_VALUE);
        if (addr + qty > this.size.coil) return exception(ILLEGAL_DATA_ADDRESS);
        const values: boolean[] = [];
        for (let i = 0; i < qty; i++) {
          const b = (pdu[6 + (i >> 3)] >> (i & 7)) & 1;
          mem.coil[addr + i] = b;
          values.push(b === 1);
        }
        this.written(unitId, 'coil', addr, values);
        return answer(Buffer.from(pdu.subarray(0, 5)));
      }
      case 16: {
        if (pdu.length < 6) return exception(ILLEGAL_DATA_VALUE);
        const addr = pdu.readUInt16BE(1);
        const qty = pdu.readUInt16BE(3);
        const bytes = pdu[5];
        if (qty < 1 || qty > 123 || bytes !== 2 * qty || pdu.length !== 6 + bytes) return exception(ILLEGAL_DATA_VALUE);
        if (addr + qty > this.size.holding) return exception(ILLEGAL_DATA_ADDRESS);
        const values: number[] = [];
        for (let i = 0; i < qty; i++) {
          const v = pdu.readUInt16BE(6 + 2 * i);
          mem.holding[addr + i] = v;
          values.push(v);
        }
        this.written(unitId, 'holding', addr, values);
        return answer(Buffer.from(pdu.subarray(0, 5)));
      }
      default:
        return exception(ILLEGAL_FUNCTION);
    }
  }

  /** A client's write: constants it touched keep the written value; listeners hear of it. */
  private written(unitId: number, area: 'holding' | 'coil', address: number, values: number[] | boolean[]): void {
    const end = address + values.length;
    const tags: string[] = [];
    for (const s of this.signals) {
      if (s.tag.area !== area || !s.units.includes(unitId)) continue;
      const start = s.tag.address;
      if (start >= end || start + registerCount(s.tag) <= address) continue;
      tags.push(s.def.name);
      if (s.def.signal === 'constant') (s.unitValues ??= new Map()).set(unitId, this.getValue(s.def.name, unitId));
    }
    if (this.listenerCount('write') === 0) return;
    const event: SimWriteEvent = { unitId, area, address, values, tags };
    try {
      this.emit('write', event);
    } catch {
      // A listener's failure must not take the server down with it.
    }
  }
}
