/**
 * One Modbus connection (TCP or RTU) shared by every node that uses the same connection config:
 * the ModbusSession of types.ts over modbus-serial. No node-red import.
 *
 * - Transactions: RTU carries one request at a time (a serial line is half duplex and its frames
 *   carry no transaction id). TCP carries up to `maxInFlight` at once, told apart by the MBAP
 *   transaction id; modbus-serial counts that id modulo 256 and keeps a timed-out transaction's
 *   slot until the id comes round again, so we never allow more than half of that space
 *   (MAX_IN_FLIGHT_TCP) and a late answer cannot be taken for a newer request.
 * - Waiting line: bounded (`maxQueue`), served round-robin between unit ids so that one unit's
 *   backlog does not starve another; a request fails when it has waited `queueTimeout` for a slot
 *   with no answer from anything meanwhile (behind requests that are being answered it is not stuck).
 * - RTU: after a timeout the line stays quiet for one more timeout, so that a late answer (which
 *   carries no transaction id) is dropped rather than taken for the answer to the next request.
 * - Link: reconnects with exponential backoff and jitter (shared Backoff) when connecting fails or
 *   the link drops. Requests made while the link is known to be down fail at once with a
 *   DeviceError (code UNAVAILABLE) rather than pile up; while it is connecting they wait in the line.
 * - Units: a circuit breaker per unit id. `breakerFailures` consecutive failures (timeouts, gateway
 *   exceptions 0A/0B, garbled answers) open it; while open, requests to that unit fail at once,
 *   except one probe per backoff window; an answer (data or any other exception: the unit is
 *   alive) closes it. A dead unit on an RS-485 bus or behind a gateway then costs one timeout per
 *   window instead of one per request, and the units next to it keep their pace.
 * - Modbus exceptions reject with ModbusExceptionError, named as the spec names them (Modbus
 *   Application Protocol V1.1b3, section 7).
 *
 * Events: 'state' (state: SessionState, detail?: string), 'unit' (UnitHealth) when a unit's
 * breaker changes state. 'error' is never emitted. Timers and the clock are injected (SessionDeps)
 * so tests can drive them with fake timers.
 */
import { EventEmitter } from 'events';
import { Backoff, type BackoffOptions } from '../shared/backoff';
import { ConfigError, DeviceError, InputError, errorMessage } from '../shared/errors';
import {
  MODBUS_EXCEPTIONS,
  isBitArea,
  type Area,
  type ConnectionOptions,
  type ModbusExceptionName,
  type ModbusSession,
  type SessionState,
  type UnitHealth,
} from './types';

/** Half the 256 transaction ids modbus-serial's TcpPort cycles through (see the module comment). */
export const MAX_IN_FLIGHT_TCP = 128;

/** A Modbus exception answer: the unit is alive but refused the request. */
export class ModbusExceptionError extends DeviceError {
  readonly exceptionCode: number;
  readonly exception: ModbusExceptionName | 'unknown exception';
  constructor(unitId: number, exceptionCode: number, what: string) {
    const name = MODBUS_EXCEPTIONS[exceptionCode] ?? 'unknown exception';
    super(`unit ${unitId}: ${name} (exception ${exceptionCode}) ${what}`);
    this.name = 'ModbusExceptionError';
    this.exceptionCode = exceptionCode;
    this.exception = name;
  }
}

type Callback = (err: unknown, res?: { data?: unknown }) => void;

/** The part of modbus-serial's ModbusRTU the session uses (so tests can pass a fake). */
export interface ModbusClientLike {
  connectTCP(host: string, options: { port: number }): Promise<void>;
  connectRTUBuffered(path: string, options: { baudRate: number; parity: string; dataBits: number; stopBits: number }): Promise<void>;
  writeFC1(unit: number, address: number, count: number, next: Callback): void;
  writeFC2(unit: number, address: number, count: number, next: Callback): void;
  writeFC3(unit: number, address: number, count: number, next: Callback): void;
  writeFC4(unit: number, address: number, count: number, next: Callback): void;
  writeFC5(unit: number, address: number, state: boolean, next: Callback): void;
  writeFC6(unit: number, address: number, value: number, next: Callback): void;
  writeFC15(unit: number, address: number, states: boolean[], next: Callback): void;
  writeFC16(unit: number, address: number, values: number[], next: Callback): void;
  writeFC22?(unit: number, address: number, andMask: number, orMask: number, next: Callback): void;
  readonly isOpen: boolean;
  on(event: 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  close(cb: () => void): void;
  destroy?(cb: () => void): void;
}

export interface SessionDeps {
  /** Makes the client; default: a modbus-serial ModbusRTU, required lazily. */
  createClient?: () => ModbusClientLike;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  random?: () => number;
  /** Reconnect backoff; default initial 500 ms, max 30 s, jitter 0.5. */
  reconnect?: BackoffOptions;
  /** Per-unit breaker backoff; default initial 2 s, max 60 s, jitter 0.5. */
  breaker?: BackoffOptions;
  /** Consecutive failures that open a unit's breaker (default 3). */
  breakerFailures?: number;
  /** Requests waiting for a slot (default 256); one more is refused (code OVERFLOW). */
  maxQueue?: number;
  /** Longest wait for a slot with no answer from any unit meanwhile, ms (default 3 x timeout). */
  queueTimeout?: number;
  /** Longest wait for the connection to open, ms (default max(3 x timeout, 3000)). */
  connectTimeout?: number;
  /**
   * TCP: consecutive timeouts, each with no answer from any unit since it was sent, after which the link is
   * presumed dead (a pulled cable sends no FIN) and reopened. Default 5; 0 turns it off. RTU: off.
   */
  reconnectAfterTimeouts?: number;
}

export interface SessionStats {
  requests: number;
  answered: number;
  exceptions: number;
  timeouts: number;
  rejectedFast: number;
  reconnects: number;
  inFlight: number;
  queued: number;
}

interface Pending {
  unitId: number;
  what: string;
  issue: (client: ModbusClientLike, cb: Callback) => void;
  map: (res: { data?: unknown } | undefined) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: unknown;
  settled: boolean;
  probe: boolean;
  /** Sequence number given when sent (0 while waiting). */
  sentSeq: number;
  /**
   * The session's answer count when this request was sent (or, while it waits, when its wait
   * window last started): a timeout with answers since then does not mean the link is dead, and
   * a wait during which answers came is not stuck.
   */
  answersMark: number;
  /** When it started waiting for a slot (only set for a request that had to wait). */
  queuedAt: number;
}

interface Breaker {
  health: UnitHealth;
  backoff: Backoff;
  probing: boolean;
  /** Send sequence number when the breaker last opened: requests sent before it tell nothing new. */
  openedSeq: number;
}

/** modbus-serial errors that mean "the link is not there", not "the unit did not answer". */
const LINK_ERRORS = new Set(['PortNotOpenError']);

function loadModbusSerial(): ModbusClientLike {
  // Lazily: a flow without Modbus never loads it, and its optional serial dependency stays optional.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ModbusRTU = require('modbus-serial') as new () => ModbusClientLike;
  return new ModbusRTU();
}

/** A missing optional `serialport` says what to do about it instead of "Cannot find module". */
export function explainConnectError(err: unknown, transport: 'tcp' | 'rtu'): Error {
  const e = err as { code?: string; message?: string } | undefined;
  if (transport === 'rtu' && e?.code === 'MODULE_NOT_FOUND' && /serialport/.test(e.message ?? '')) {
    return new ConfigError('Modbus RTU needs the optional package "serialport", which is not installed here (npm install serialport in the Node-RED user folder)');
  }
  return err instanceof Error ? err : new Error(errorMessage(err));
}

/** Checks connection options; returns them with defaults and the in-flight bound applied. */
export function normaliseConnection(o: ConnectionOptions): ConnectionOptions {
  if (!o || (o.transport !== 'tcp' && o.transport !== 'rtu')) throw new ConfigError(`transport must be "tcp" or "rtu", not "${String(o?.transport)}"`);
  if (!(typeof o.timeout === 'number' && o.timeout > 0 && Number.isFinite(o.timeout))) throw new ConfigError(`timeout must be a number of ms above 0, not ${String(o.timeout)}`);
  const inFlight = o.maxInFlight ?? 1;
  if (!Number.isInteger(inFlight) || inFlight < 1) throw new ConfigError(`maxInFlight must be an integer >= 1, not ${String(o.maxInFlight)}`);
  if (o.transport === 'tcp') {
    if (typeof o.host !== 'string' || o.host.trim() === '') throw new ConfigError('host is required for Modbus TCP');
    const port = o.port ?? 502;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`port must be 1-65535, not ${String(o.port)}`);
    return { ...o, host: o.host.trim(), port, maxInFlight: Math.min(inFlight, MAX_IN_FLIGHT_TCP) };
  }
  if (typeof o.serialPort !== 'string' || o.serialPort.trim() === '') throw new ConfigError('serialPort is required for Modbus RTU');
  const baudRate = o.baudRate ?? 9600;
  if (!Number.isInteger(baudRate) || baudRate < 50) throw new ConfigError(`baudRate must be an integer, not ${String(o.baudRate)}`);
  const parity = o.parity ?? 'none';
  if (!['none', 'even', 'odd'].includes(parity)) throw new ConfigError(`parity must be none, even or odd, not ${String(o.parity)}`);
  const dataBits = o.dataBits ?? 8;
  if (![5, 6, 7, 8].includes(dataBits)) throw new ConfigError(`dataBits must be 5-8, not ${String(o.dataBits)}`);
  const stopBits = o.stopBits ?? 1;
  if (![1, 1.5, 2].includes(stopBits)) throw new ConfigError(`stopBits must be 1, 1.5 or 2, not ${String(o.stopBits)}`);
  return { ...o, serialPort: o.serialPort.trim(), baudRate, parity, dataBits, stopBits, maxInFlight: 1 };
}

function checkUnit(unitId: number): void {
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) throw new InputError(`unit id must be an integer 0-255, not ${String(unitId)}`);
}

function checkRange(address: number, count: number, max: number, what: string): void {
  if (!Number.isInteger(address) || address < 0 || address > 65535) throw new InputError(`${what}: address must be an integer 0-65535, not ${String(address)}`);
  if (!Number.isInteger(count) || count < 1 || count > max) throw new InputError(`${what}: count must be an integer 1-${max}, not ${String(count)}`);
  if (address + count > 65536) throw new InputError(`${what}: runs past address 65535`);
}

export class ModbusClientSession extends EventEmitter implements ModbusSession {
  private readonly o: ConnectionOptions;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (h: unknown) => void;
  private readonly createClient: () => ModbusClientLike;
  private readonly reconnectBackoff: Backoff;
  private readonly breakerOptions: BackoffOptions;
  private readonly breakerFailures: number;
  private readonly maxQueue: number;
  private readonly queueTimeout: number;
  private readonly connectTimeout: number;
  private readonly reconnectAfterTimeouts: number;

  private st: SessionState = 'idle';
  private client?: ModbusClientLike;
  private reconnectTimer?: unknown;
  private connectTimer?: unknown;
  private lastError?: string;
  /** Waiting requests, one line per unit, served round-robin. */
  private readonly lines = new Map<number, Pending[]>();
  private queued = 0;
  private lastServed?: number;
  private readonly inFlight = new Set<Pending>();
  private readonly breakers = new Map<number, Breaker>();
  private corked = false;
  private silentTimeouts = 0;
  /** Requests sent and answers received (from any unit), for the marks on Pending. */
  private sentSeq = 0;
  private answers = 0;
  /** Serial: after a timeout the line stays quiet for a guard time (see guardLine). */
  private guardTimer?: unknown;
  private guarding = false;
  private readonly counters = { requests: 0, answered: 0, exceptions: 0, timeouts: 0, rejectedFast: 0, reconnects: 0 };

  constructor(options: ConnectionOptions, deps: SessionDeps = {}) {
    super();
    this.o = normaliseConnection(options);
    this.now = deps.now ?? Date.now;
    this.setTimer = deps.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = deps.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.createClient = deps.createClient ?? loadModbusSerial;
    this.reconnectBackoff = new Backoff({ initial: 500, max: 30_000, jitter: 0.5, random: deps.random, ...deps.reconnect });
    this.breakerOptions = { initial: 2000, max: 60_000, jitter: 0.5, random: deps.random, ...deps.breaker };
    this.breakerFailures = Math.max(1, deps.breakerFailures ?? 3);
    this.maxQueue = Math.max(1, deps.maxQueue ?? 256);
    this.queueTimeout = deps.queueTimeout ?? 3 * this.o.timeout;
    this.connectTimeout = deps.connectTimeout ?? Math.max(3 * this.o.timeout, 3000);
    this.reconnectAfterTimeouts = this.o.transport === 'tcp' ? Math.max(0, deps.reconnectAfterTimeouts ?? 5) : 0;
  }

  get state(): SessionState {
    return this.st;
  }

  /** The options in force (defaults applied, maxInFlight bounded). */
  get options(): Readonly<ConnectionOptions> {
    return this.o;
  }

  /** Why the link is down, while it is. */
  get error(): string | undefined {
    return this.lastError;
  }

  get stats(): SessionStats {
    return { ...this.counters, inFlight: this.inFlight.size, queued: this.queued };
  }

  /** Starts connecting (the session keeps the link up from then on until close()). */
  open(): void {
    if (this.st !== 'idle') return;
    this.connect();
  }

  // ---- public requests ---------------------------------------------------------------------------

  read(unitId: number, area: Area, start: number, count: number): Promise<number[] | boolean[]> {
    try {
      checkUnit(unitId);
      if (!['holding', 'input', 'coil', 'discrete'].includes(area)) throw new InputError(`area must be holding, input, coil or discrete, not ${String(area)}`);
      const bits = isBitArea(area);
      checkRange(start, count, bits ? 2000 : 125, `read ${area}`);
    } catch (err) {
      return Promise.reject(err);
    }
    const what = `reading ${area} ${start}+${count}`;
    const fc = ({ coil: 'writeFC1', discrete: 'writeFC2', holding: 'writeFC3', input: 'writeFC4' } as const)[area];
    return this.request(
      unitId,
      what,
      (c, cb) => c[fc](unitId, start, count, cb),
      (res) => {
        const data = res?.data;
        if (!Array.isArray(data) || data.length < count) throw new DeviceError(`unit ${unitId}: short answer ${what}`);
        // FC1/FC2 answers come in whole bytes: drop the padding bits.
        return isBitArea(area) ? data.slice(0, count).map(Boolean) : data.slice(0, count).map((w: number) => w & 0xffff);
      },
    ) as Promise<number[] | boolean[]>;
  }

  writeRegisters(unitId: number, address: number, words: number[]): Promise<void> {
    try {
      checkUnit(unitId);
      if (!Array.isArray(words)) throw new InputError('registers to write must be an array');
      checkRange(address, words.length, 123, 'write registers');
      for (const w of words) if (!Number.isInteger(w) || w < 0 || w > 65535) throw new InputError(`a register holds an integer 0-65535, not ${String(w)}`);
    } catch (err) {
      return Promise.reject(err);
    }
    const what = `writing holding ${address}+${words.length}`;
    const data = [...words];
    return this.request(
      unitId,
      what,
      (c, cb) => (data.length === 1 ? c.writeFC6(unitId, address, data[0], cb) : c.writeFC16(unitId, address, data, cb)),
      () => undefined,
    ) as Promise<void>;
  }

  writeCoils(unitId: number, address: number, bits: boolean[]): Promise<void> {
    try {
      checkUnit(unitId);
      if (!Array.isArray(bits)) throw new InputError('coils to write must be an array');
      checkRange(address, bits.length, 1968, 'write coils');
      for (const b of bits) if (typeof b !== 'boolean') throw new InputError(`a coil takes true or false, not ${String(b)}`);
    } catch (err) {
      return Promise.reject(err);
    }
    const what = `writing coil ${address}+${bits.length}`;
    const data = [...bits];
    return this.request(
      unitId,
      what,
      (c, cb) => (data.length === 1 ? c.writeFC5(unitId, address, data[0], cb) : c.writeFC15(unitId, address, data, cb)),
      () => undefined,
    ) as Promise<void>;
  }

  /**
   * FC22 mask write register: register = (register AND andMask) OR (orMask AND NOT andMask), one
   * bit changed without a read-modify-write race. Not every device supports it (exception 01).
   */
  maskWriteRegister(unitId: number, address: number, andMask: number, orMask: number): Promise<void> {
    try {
      checkUnit(unitId);
      checkRange(address, 1, 1, 'mask write');
      for (const m of [andMask, orMask]) if (!Number.isInteger(m) || m < 0 || m > 65535) throw new InputError(`a mask is an integer 0-65535, not ${String(m)}`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.request(
      unitId,
      `mask-writing holding ${address}`,
      (c, cb) => {
        if (!c.writeFC22) throw new DeviceError('this client has no FC22');
        c.writeFC22(unitId, address, andMask, orMask, cb);
      },
      () => undefined,
    ) as Promise<void>;
  }

  unitHealth(unitId: number): UnitHealth {
    const b = this.breakers.get(unitId);
    return b ? { ...b.health } : { unitId, state: 'closed', consecutiveFailures: 0 };
  }

  async close(): Promise<void> {
    if (this.st === 'closed') return;
    this.setState('closed');
    this.clearTimer(this.reconnectTimer);
    this.clearTimer(this.connectTimer);
    this.failAll(new DeviceError('the Modbus connection was closed', { code: 'UNAVAILABLE' }));
    await this.dropClient();
  }

  // ---- the link ----------------------------------------------------------------------------------

  private setState(s: SessionState, detail?: string): void {
    if (this.st === s) return;
    this.st = s;
    this.emit('state', s, detail);
  }

  private connect(): void {
    if (this.st === 'closed') return;
    this.setState('connecting');
    let client: ModbusClientLike;
    let opening: Promise<void>;
    try {
      client = this.createClient();
      this.client = client;
      client.on('error', () => {
        // modbus-serial relays port errors here; the close that follows is what we act on.
      });
      opening =
        this.o.transport === 'tcp'
          ? client.connectTCP(this.o.host as string, { port: this.o.port as number })
          : client.connectRTUBuffered(this.o.serialPort as string, {
              baudRate: this.o.baudRate as number,
              parity: this.o.parity as string,
              dataBits: this.o.dataBits as number,
              stopBits: this.o.stopBits as number,
            });
    } catch (err) {
      this.connectFailed(undefined, err);
      return;
    }
    let done = false;
    this.connectTimer = this.setTimer(() => {
      if (done) return;
      done = true;
      this.connectFailed(client, new Error(`no connection within ${this.connectTimeout} ms`));
    }, this.connectTimeout);
    opening.then(
      () => {
        if (done) return;
        done = true;
        this.clearTimer(this.connectTimer);
        if (this.st === 'closed' || this.client !== client) {
          void this.dropClient(client);
          return;
        }
        this.watch(client);
        this.reconnectBackoff.reset();
        this.silentTimeouts = 0;
        this.lastError = undefined;
        this.setState('connected');
        this.dispatch();
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        this.clearTimer(this.connectTimer);
        this.connectFailed(client, err);
      },
    );
  }

  /** Hooks the link's end. modbus-serial only relays a close that follows no socket error, so we also listen on the socket. */
  private watch(client: ModbusClientLike): void {
    const lost = () => {
      if (this.client === client) this.linkLost('the connection was closed by the peer');
    };
    client.on('close', lost);
    const socket = (client as unknown as { _port?: { _client?: EventEmitter } })._port?._client;
    if (socket && typeof socket.once === 'function') socket.once('close', lost);
  }

  private connectFailed(client: ModbusClientLike | undefined, err: unknown): void {
    if (this.st === 'closed') return;
    if (client && this.client !== client) return;
    const e = explainConnectError(err, this.o.transport);
    void this.dropClient(client);
    this.scheduleReconnect(`cannot connect: ${e.message}`);
  }

  private linkLost(reason: string): void {
    if (this.st === 'closed') return;
    void this.dropClient();
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    this.lastError = reason;
    this.failAll(new DeviceError(`Modbus ${this.o.transport.toUpperCase()} link down: ${reason}`, { code: 'UNAVAILABLE' }));
    const delay = this.reconnectBackoff.next();
    this.setState('backoff', reason);
    this.clearTimer(this.reconnectTimer);
    this.reconnectTimer = this.setTimer(() => {
      this.counters.reconnects++;
      this.connect();
    }, delay);
  }

  private dropClient(client = this.client): Promise<void> {
    if (!client) return Promise.resolve();
    if (this.client === client) this.client = undefined;
    return new Promise<void>((resolve) => {
      try {
        client.removeAllListeners('close');
        client.on('error', () => undefined);
        // destroy() ends a TCP socket at once; a serial port only has close().
        if (this.o.transport === 'tcp' && typeof client.destroy === 'function') client.destroy(() => resolve());
        else client.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  // ---- the waiting line and the transactions -------------------------------------------------

  private breaker(unitId: number): Breaker {
    let b = this.breakers.get(unitId);
    if (!b) {
      b = { health: { unitId, state: 'closed', consecutiveFailures: 0 }, backoff: new Backoff(this.breakerOptions), probing: false, openedSeq: 0 };
      this.breakers.set(unitId, b);
    }
    return b;
  }

  private fast(err: DeviceError): Promise<never> {
    this.counters.rejectedFast++;
    return Promise.reject(err);
  }

  private request(
    unitId: number,
    what: string,
    issue: Pending['issue'],
    map: Pending['map'],
  ): Promise<unknown> {
    if (this.st === 'closed') return this.fast(new DeviceError('the Modbus connection is closed', { code: 'UNAVAILABLE' }));
    if (this.st !== 'connected' && this.st !== 'connecting') {
      const why = this.st === 'idle' ? 'the connection was not opened' : `the link is down (${this.lastError ?? 'reconnecting'})`;
      return this.fast(new DeviceError(`unit ${unitId}: not sent, ${why}`, { code: 'UNAVAILABLE' }));
    }
    const b = this.breaker(unitId);
    let probe = false;
    if (b.health.state !== 'closed') {
      const now = this.now();
      if (b.probing || now < (b.health.retryAt ?? 0)) {
        const wait = Math.max(0, Math.ceil(((b.health.retryAt ?? now) - now) / 1000));
        return this.fast(new DeviceError(`unit ${unitId} is not answering (${b.health.lastError ?? 'failed'}); next try in ${wait} s`, { code: 'UNAVAILABLE' }));
      }
      probe = true;
      b.probing = true;
      this.setUnit(b, { state: 'half-open' });
    }
    if (this.queued >= this.maxQueue) {
      if (probe) this.probeAborted(b);
      return this.fast(new DeviceError(`unit ${unitId}: not sent, ${this.queued} requests already waiting`, { code: 'OVERFLOW' }));
    }
    this.counters.requests++;
    return new Promise((resolve, reject) => {
      const p: Pending = { unitId, what, issue, map, resolve, reject, settled: false, probe, sentSeq: 0, answersMark: 0, queuedAt: 0 };
      let line = this.lines.get(unitId);
      if (!line) {
        line = [];
        this.lines.set(unitId, line);
      }
      line.push(p);
      this.queued++;
      // Sent at once when a transaction slot is free; only a request left waiting needs the timer
      // that bounds its wait (a timer per request cost as much as the rest of the request).
      this.dispatch();
      if (p.settled || this.inFlight.has(p)) return;
      p.answersMark = this.answers;
      p.queuedAt = this.now();
      // A request waiting behind others that are being answered is not stuck (a slow device with
      // a long poll): its wait limit starts again while answers come, and it fails only after
      // queueTimeout with no answer from anything.
      const expire = () => {
        if (p.settled || this.inFlight.has(p)) return;
        if (this.st === 'connected' && this.answers !== p.answersMark) {
          p.answersMark = this.answers;
          p.timer = this.setTimer(expire, this.queueTimeout);
          return;
        }
        this.unqueue(p);
        if (p.probe) this.probeAborted(b);
        const waitedFor = this.st === 'connecting' ? 'the connection' : 'a free slot';
        this.settle(p, new DeviceError(`unit ${unitId}: waited ${this.now() - p.queuedAt} ms for ${waitedFor} ${what}`, { code: 'TIMEOUT' }));
      };
      p.timer = this.setTimer(expire, this.queueTimeout);
    });
  }

  private unqueue(p: Pending): void {
    const line = this.lines.get(p.unitId);
    const i = line ? line.indexOf(p) : -1;
    if (line && i >= 0) {
      line.splice(i, 1);
      this.queued--;
      // Deleting an empty line moves the unit to the back of the round-robin order.
      if (line.length === 0) this.lines.delete(p.unitId);
    }
  }

  /**
   * Next request, round-robin between units: the first line in the Map's order whose unit was not
   * the one served last; a served line moves to the back (Map keeps insertion order).
   */
  private nextRequest(): Pending | undefined {
    let pick: number | undefined;
    for (const unitId of this.lines.keys()) {
      if (pick === undefined) pick = unitId;
      if (unitId !== this.lastServed) {
        pick = unitId;
        break;
      }
    }
    if (pick === undefined) return undefined;
    const line = this.lines.get(pick) as Pending[];
    const p = line.shift() as Pending;
    this.queued--;
    this.lines.delete(pick);
    if (line.length) this.lines.set(pick, line);
    this.lastServed = pick;
    return p;
  }

  private dispatch(): void {
    while (this.st === 'connected' && this.client && !this.guarding && this.inFlight.size < this.o.maxInFlight && this.queued > 0) {
      const p = this.nextRequest();
      if (!p) return;
      this.send(this.client, p);
    }
  }

  /**
   * Requests sent in one turn of the event loop leave in one socket write (cork until the next
   * tick, as mqtt-packet does): a poll's requests go out together instead of a system call each,
   * which cost more than the rest of sending them (bench/modbus-poll).
   */
  private corkOnce(client: ModbusClientLike): void {
    if (this.corked) return;
    const socket = (client as unknown as { _port?: { _client?: { cork?: () => void; uncork?: () => void } } })._port?._client;
    if (!socket || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
    socket.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      socket.uncork!();
    });
  }

  private send(client: ModbusClientLike, p: Pending): void {
    if (this.o.transport === 'tcp') this.corkOnce(client);
    this.clearTimer(p.timer);
    this.inFlight.add(p);
    p.sentSeq = ++this.sentSeq;
    p.answersMark = this.answers;
    p.timer = this.setTimer(() => this.answered(client, p, { timeout: true }), this.o.timeout);
    try {
      p.issue(client, (err, res) => this.answered(client, p, { err, res }));
    } catch (err) {
      this.answered(client, p, { err });
    }
  }

  private answered(client: ModbusClientLike, p: Pending, r: { timeout?: boolean; err?: unknown; res?: { data?: unknown } }): void {
    if (p.settled || !this.inFlight.has(p)) return;
    this.inFlight.delete(p);
    this.clearTimer(p.timer);
    const b = this.breaker(p.unitId);
    if (r.timeout) {
      this.counters.timeouts++;
      const msg = `unit ${p.unitId}: no answer within ${this.o.timeout} ms ${p.what}`;
      this.unitFailed(b, 'no answer', p);
      this.settle(p, new DeviceError(msg, { code: 'TIMEOUT' }));
      // Only a timeout with no answer from any unit since it was sent says the link may be dead:
      // a dead unit's requests in flight together time out in one tick while its neighbours answer.
      if (this.answers === p.answersMark) this.silentTimeouts++;
      if (this.o.transport === 'rtu') this.guardLine();
      if (this.reconnectAfterTimeouts > 0 && this.silentTimeouts >= this.reconnectAfterTimeouts && this.client === client) {
        this.linkLost(`${this.silentTimeouts} requests in a row got no answer`);
        return;
      }
    } else if (r.err !== undefined && r.err !== null) {
      const e = r.err as { name?: string; modbusCode?: number; errno?: string; message?: string };
      if (typeof e.modbusCode === 'number') {
        this.counters.exceptions++;
        this.answers++;
        this.silentTimeouts = 0;
        // 0A/0B come from a gateway: the unit behind it is not there. Any other exception is an answer.
        if (e.modbusCode === 10 || e.modbusCode === 11) this.unitFailed(b, MODBUS_EXCEPTIONS[e.modbusCode], p);
        else this.unitAnswered(b);
        this.settle(p, new ModbusExceptionError(p.unitId, e.modbusCode, p.what));
      } else if (LINK_ERRORS.has(e.name ?? '') || client !== this.client) {
        if (p.probe) this.probeAborted(b);
        this.settle(p, new DeviceError(`unit ${p.unitId}: not sent, the link is down ${p.what}`, { code: 'UNAVAILABLE' }));
        if (client === this.client) {
          this.linkLost('the port is not open');
          return;
        }
      } else {
        this.answers++;
        this.silentTimeouts = 0;
        this.unitFailed(b, errorMessage(r.err), p);
        this.settle(p, new DeviceError(`unit ${p.unitId}: ${errorMessage(r.err)} ${p.what}`, { cause: r.err }));
      }
    } else {
      this.answers++;
      this.silentTimeouts = 0;
      let value: unknown;
      try {
        value = p.map(r.res);
      } catch (err) {
        this.unitFailed(b, errorMessage(err), p);
        this.settle(p, err instanceof Error ? err : new Error(String(err)));
        this.dispatch();
        return;
      }
      this.counters.answered++;
      this.unitAnswered(b);
      this.settle(p, undefined, value);
    }
    this.dispatch();
  }

  /**
   * RTU frames carry no transaction id: modbus-serial takes whatever answer comes next for the
   * request now outstanding, so a late answer to a request that timed out would be read as the
   * answer to the next one (values shifted, quality good). After a timeout the line stays quiet
   * for one more timeout, so that a late answer arrives, and is dropped, before anything is sent.
   */
  private guardLine(): void {
    this.guarding = true;
    this.clearTimer(this.guardTimer);
    this.guardTimer = this.setTimer(() => {
      this.guarding = false;
      this.dispatch();
    }, this.o.timeout);
  }

  private endGuard(): void {
    this.clearTimer(this.guardTimer);
    this.guarding = false;
  }

  private settle(p: Pending, err?: Error, value?: unknown): void {
    if (p.settled) return;
    p.settled = true;
    this.clearTimer(p.timer);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  /** Rejects every waiting and outstanding request (the link went down or the session closed). */
  private failAll(err: DeviceError): void {
    this.endGuard();
    for (const p of this.inFlight) {
      if (p.probe) this.probeAborted(this.breaker(p.unitId));
      this.settle(p, err);
    }
    this.inFlight.clear();
    for (const line of this.lines.values()) {
      for (const p of line) {
        if (p.probe) this.probeAborted(this.breaker(p.unitId));
        this.settle(p, err);
      }
    }
    this.lines.clear();
    this.queued = 0;
  }

  // ---- per-unit breaker ------------------------------------------------------------------------

  private setUnit(b: Breaker, change: Partial<UnitHealth>): void {
    const before = b.health.state;
    b.health = { ...b.health, ...change };
    if (b.health.state !== 'open') delete b.health.retryAt;
    if (b.health.state !== before) this.emit('unit', { ...b.health });
  }

  private unitAnswered(b: Breaker): void {
    b.probing = false;
    b.backoff.reset();
    const h = b.health;
    if (h.state === 'closed' && h.consecutiveFailures === 0) return;
    this.setUnit(b, { state: 'closed', consecutiveFailures: 0, lastError: undefined });
  }

  private unitFailed(b: Breaker, reason: string, p: Pending): void {
    const failures = b.health.consecutiveFailures + 1;
    if (b.health.state !== 'closed' && p.sentSeq <= b.openedSeq) {
      // Sent before the breaker opened (in flight with the failures that opened it): it tells
      // nothing new, so it neither pushes the retry further out nor ends a probe in flight.
      b.health.consecutiveFailures = failures;
      return;
    }
    b.probing = false;
    if (b.health.state !== 'closed' || failures >= this.breakerFailures) {
      b.openedSeq = this.sentSeq;
      this.setUnit(b, { state: 'open', consecutiveFailures: failures, lastError: reason, retryAt: this.now() + b.backoff.next() });
    } else {
      this.setUnit(b, { consecutiveFailures: failures, lastError: reason });
    }
  }

  /** A probe that never reached the unit tells nothing: back to open, and the next request may probe. */
  private probeAborted(b: Breaker): void {
    if (!b.probing) return;
    b.probing = false;
    if (b.health.state === 'half-open') this.setUnit(b, { state: 'open', retryAt: this.now() });
  }
}

/** Makes a session and starts connecting. */
export function createModbusSession(options: ConnectionOptions, deps: SessionDeps = {}): ModbusClientSession {
  const s = new ModbusClientSession(options, deps);
  s.open();
  return s;
}
