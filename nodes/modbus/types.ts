/**
 * The Modbus family's shared vocabulary (DESIGN.md section 4). Engines (codec, planner, session,
 * simulator) implement these; nodes use only these. No node-red import here.
 */
import type { EventEmitter } from 'events';
import type { Quality, SampleValue } from '../shared/sample';

export type Area = 'holding' | 'input' | 'coil' | 'discrete';
export const AREAS: readonly Area[] = ['holding', 'input', 'coil', 'discrete'];
/** Register areas hold 16-bit words; bit areas hold single bits. */
export const isBitArea = (a: Area): boolean => a === 'coil' || a === 'discrete';

export type DataType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64' | 'float64' | 'string';
export const DATA_TYPES: readonly DataType[] = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'];

export type Order16 = 'AB' | 'BA';
export type Order32 = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';
export type Order64 = 'ABCDEFGH' | 'GHEFCDAB' | 'BADCFEHG' | 'HGFEDCBA';
export type ByteOrder = Order16 | Order32 | Order64;

/** One tag of a read or write node, as the editor stores it. */
export interface TagDef {
  name: string;
  area: Area;
  /** Zero-based protocol address. */
  address: number;
  type: DataType;
  /** Default: big-endian for the type's width ('AB', 'ABCD', 'ABCDEFGH'). */
  order?: ByteOrder;
  /** `bool` on a register area: bit 0-15, bit 0 the least significant. */
  bit?: number;
  /** `string`: length in registers, two characters a register. */
  length?: number;
  /** value = raw * scale + offset; defaults 1 and 0. */
  scale?: number;
  offset?: number;
  unit?: string;
}

/** One request of a poll plan: a contiguous range of one area covering one or more tags. */
export interface ReadBlock {
  area: Area;
  /** First address read. */
  start: number;
  /** Registers (or bits) read. */
  count: number;
  /** The tags this block covers (each lies wholly inside it). */
  tags: TagDef[];
}

export interface PlanLimits {
  /** Registers per request (Modbus allows 125 for FC3/FC4). */
  maxRegisters: number;
  /** Bits per request (Modbus allows 2000 for FC1/FC2). */
  maxBits: number;
  /** Unused registers a request may read through between two tags. */
  maxGap: number;
}

// ---- codec (codec.ts) -------------------------------------------------------------------------
// export function registerCount(tag: TagDef): number                 words (or bits: 1) a tag spans
// export function validateTag(tag: TagDef): void                      ConfigError naming the tag if it cannot work
// export function decodeTag(tag: TagDef, words: ArrayLike<number>, offset: number): SampleValue
//      words: the 16-bit registers of a block; offset: index of the tag's first word in `words`.
//      Applies scale/offset for numeric types. Coil/discrete tags delegate to decodeBits.
//      Too few words: DeviceError. A float may decode to NaN/Infinity (the poller marks it bad).
//      64-bit integers decode to the nearest double (exact up to 2^53).
// export function decodeBits(tag: TagDef, bits: ArrayLike<boolean|number>, offset: number): boolean
// export type EncodableValue = SampleValue | bigint                  bigint: exact int64/uint64 writes
// export function encodeTag(tag: TagDef, value: EncodableValue, current?: number): number[]
//      Inverse of decodeTag (removes scale/offset, rounds to the nearest integer for integer types,
//      checks range: 70000 into int16 throws InputError; NaN/Infinity/wrong type/too-long string too).
//      Coil/discrete: [1] or [0]. A bool on a register needs `current` (the register's present value,
//      read-modify-write); needsCurrentWord(tag) says when.
// export function needsCurrentWord(tag: TagDef): boolean
// export function decodeBuffer(buf: Buffer | Uint8Array, offset: number, type: DataType, order?: ByteOrder, length?: number): number | string | boolean
//      The same byte-order rules for raw byte frames (plantwire-parse binary format); no scale/offset;
//      bool = one byte, non-zero true; string = `length` BYTES (default: to the end), trailing NULs dropped.
//      Too short a frame: InputError.
// export function encodeBuffer(value: EncodableValue, type: DataType, order?: ByteOrder, length?: number): Buffer
// export function bufferByteCount(type: DataType, length?: number): number
// export function ordersFor(type: DataType): readonly ByteOrder[]    the editor's choices, default first
// export function defaultOrder(type: DataType): ByteOrder
// export function isByteOrder(v: unknown): v is ByteOrder
// export const BYTE_ORDERS: readonly ByteOrder[]; export const TYPE_BYTES
//      An order of another width is accepted and means the same switches (byte swap in each word,
//      word order reversed): ABCD on an int16 = AB, DCBA on an int16 = BA, CDAB on an int64 = GHEFCDAB.

// ---- planner (planner.ts) ---------------------------------------------------------------------
// export function planReadBlocks(tags: readonly TagDef[], limits: PlanLimits): ReadBlock[]
//      Fewest requests; blocks ordered holding, input, coil, discrete, then by start; every tag in
//      exactly one block's `tags`. ConfigError for a bad tag/limit or a tag wider than a request.
// export function validateLimits(limits: PlanLimits): void
// export const DEFAULT_LIMITS: PlanLimits  ({ maxRegisters: 125, maxBits: 2000, maxGap: 10 })
// export const MAX_READ_REGISTERS = 125, MAX_READ_BITS = 2000

// ---- session (session.ts) ---------------------------------------------------------------------
// export function createModbusSession(options: ConnectionOptions, deps?: SessionDeps): ModbusClientSession
//      Validates (ConfigError), then starts connecting at once; keeps the link up until close().
// export class ModbusClientSession extends EventEmitter implements ModbusSession
//      constructor(options: ConnectionOptions, deps?: SessionDeps); open(): void (idle -> connecting)
//      read / writeRegisters / writeCoils / unitHealth / close as in ModbusSession below, plus
//      maskWriteRegister(unitId, address, andMask, orMask): Promise<void>   (FC22)
//      get state: SessionState; get error: string | undefined (why the link is down);
//      get options (defaults applied); get stats: SessionStats { requests, answered, exceptions,
//      timeouts, rejectedFast, reconnects, inFlight, queued }
//      Events: 'state' (state: SessionState, detail?: string), 'unit' (UnitHealth) on breaker changes.
//      Errors: InputError (bad arguments), DeviceError with code 'TIMEOUT' (no answer / waited too
//      long for a slot), 'UNAVAILABLE' (link down, session closed, unit's breaker open: fail-fast),
//      'OVERFLOW' (waiting line full), 'DEVICE' (garbled answer); ModbusExceptionError (a
//      DeviceError) with .exception: ModbusExceptionName and .exceptionCode for exception answers.
//      While 'connecting' requests wait in the (bounded) line; in 'backoff'/'idle'/'closed' they fail fast.
// export interface SessionDeps { createClient?, now?, setTimeout?, clearTimeout?, random?,
//      reconnect?: BackoffOptions (500 ms..30 s), breaker?: BackoffOptions (2 s..60 s),
//      breakerFailures? (3), maxQueue? (256), queueTimeout? (3 x timeout), connectTimeout?
//      (max(3 x timeout, 3000)), reconnectAfterTimeouts? (TCP 5) }
// export function normaliseConnection(o: ConnectionOptions): ConnectionOptions   defaults, ConfigError
// export const MAX_IN_FLIGHT_TCP = 128   (maxInFlight is clamped to it; RTU is always 1)
export type SessionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface ConnectionOptions {
  transport: 'tcp' | 'rtu';
  host?: string;
  port?: number;
  serialPort?: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: number;
  stopBits?: number;
  /** Response timeout, ms. */
  timeout: number;
  /** TCP: transactions outstanding at once; RTU is always 1. */
  maxInFlight: number;
  limits: PlanLimits;
}

/** A unit's circuit breaker: `open` means the unit failed repeatedly and is retried on backoff only. */
export interface UnitHealth {
  unitId: number;
  state: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  /** When the next attempt is allowed (epoch ms) while open. */
  retryAt?: number;
  lastError?: string;
}

export type ModbusExceptionName =
  | 'illegal function'
  | 'illegal data address'
  | 'illegal data value'
  | 'server device failure'
  | 'acknowledge'
  | 'server device busy'
  | 'memory parity error'
  | 'gateway path unavailable'
  | 'gateway target device failed to respond';

/** Exception codes by number (Modbus Application Protocol V1.1b3, section 7). */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, ModbusExceptionName>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/**
 * One connection to a device or bus, shared by every read/write node that uses the same
 * connection config node. Requests from all users go through it: it bounds transactions in
 * flight, reconnects with backoff, and keeps a circuit breaker per unit id.
 * Events: 'state' (SessionState), 'unit' (UnitHealth), 'error' is never emitted (failures reject).
 */
export interface ModbusSession extends EventEmitter {
  readonly state: SessionState;
  /** Registers for holding/input, booleans for coil/discrete. Rejects with DeviceError (exception name in message). */
  read(unitId: number, area: Area, start: number, count: number): Promise<number[] | boolean[]>;
  /** FC6 when one register, FC16 otherwise. */
  writeRegisters(unitId: number, address: number, words: number[]): Promise<void>;
  /** FC5 when one coil, FC15 otherwise. */
  writeCoils(unitId: number, address: number, bits: boolean[]): Promise<void>;
  unitHealth(unitId: number): UnitHealth;
  close(): Promise<void>;
}

// ---- poller (poller.ts): one read node's polling loop over a session --------------------------
// export class ModbusPoller extends EventEmitter
//      constructor(o: { session: Pick<ModbusSession,'read'>; unitId: number; tags: TagDef[];
//                       limits: PlanLimits; now?; setInterval?; clearInterval? })   plans once; ConfigError
//      readonly blocks: readonly ReadBlock[]
//      pollOnce(): Promise<PollResult>   never rejects; while a poll runs, returns that poll
//      start(intervalMs: number): void   polls now and every interval; emits 'poll' (PollResult)
//      stop(): void; get overruns: number; get polls: number; get started: boolean
//      lastValues(): Record<string, SampleValue>
//      Events: 'poll' (PollResult), 'overrun' (count), 'error' (a listener threw; only if listened to).
//      Samples come in the order of `tags`; a NaN/Infinity float is quality bad with the last value.
export interface PollResult {
  /** Values by tag name, quality bad (last value kept) where the tag's block failed. Made on first read. */
  readonly samples: { tag: string; value: SampleValue; quality: Quality; unit?: string }[];
  /** The tags polled, in order; `values` and `good` follow it (a batch is built from these, no sample objects). */
  tags: readonly TagDef[];
  values: SampleValue[];
  good: boolean[];
  /** How many tags are not good. */
  bad: number;
  ts: number;
  requests: number;
  failedRequests: number;
  durationMs: number;
  errors: string[];
}

// ---- simulator (simulator.ts): a fast Modbus TCP server for demos and tests --------------------
// export class ModbusSimulator extends EventEmitter
//      constructor(o?: SimulatorOptions { port? (0), host? ('127.0.0.1'), unitIds? ([1]; others never
//        answer), signals?: SimSignal[], tickMs? (100; 0 = only tick()), delayMs? (0), areaSize?
//        (per area, default 65536; beyond: exception 02), now?, random?, setTimeout?, clearTimeout?,
//        setInterval?, clearInterval? })
//      start(): Promise<number> (bound port; restartable on the same port); stop(): Promise<void>
//      get port; get stats: { connections, requests, responses, exceptions, unanswered, pending, maxPending }
//      tick(); getValue(name, unitId?); setValue(name, value) (the signal becomes constant);
//      getRaw(unitId, area, address, count): number[]; setRaw(unitId, area, address, values); dropConnections()
//      Events: 'write' (SimWriteEvent { unitId, area: 'holding'|'coil', address, values, tags: string[] })
// export interface SimSignal { name, area, address, type, order?, bit?, length?, scale?, offset?, unitId?,
//      signal: 'sine'|'ramp'|'random'|'counter'|'constant'|'square', min?, max?, period? (s), value? }
// export const SIGNAL_KINDS
