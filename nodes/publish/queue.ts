/**
 * Store-and-forward queue: the messages a publish node has accepted from the flow and not yet seen
 * acknowledged by the broker (DESIGN.md section 6). Engine module: no node-red import.
 *
 * API (used by plantwire-mqtt-publish and the Sparkplug nodes):
 *
 *   const q = new SqliteQueue({ file: queueFile(RED.settings.userDir, node.id), maxBytes, maxAgeMs });
 *   // or new MemoryQueue({ maxBytes, maxAgeMs }) when the user turned the disk buffer off
 *   await q.append([{ topic, payload, qos, retain, properties, ts }]); // resolves once durable
 *   const batch = q.peek(100);              // up to 100 oldest items, FIFO, each with its `id`
 *                                           // (do not change an item's payload after append: a
 *                                           // reader may be handed that same Buffer)
 *   const more = q.peek(100, batch[batch.length - 1].id); // the next ones after the last id seen
 *   q.ack([batch[0].id]);                   // the broker acknowledged it: it leaves the queue
 *   q.size; q.bytes; q.dropped; q.stats();  // counters; every drop is counted, never silent
 *   q.clear();                              // drop everything (counted as `cleared`)
 *   await q.close();                        // commits what is pending, then closes the file
 *
 * - `append` resolves when the items are durable: for SqliteQueue that is a committed WAL
 *   transaction; appends commit together once the event loop has taken in the rest of the turn,
 *   and at most once every `commitDelayMs` (group commit, written as chunks: up to 1,000 items
 *   packed into one row, queue-chunk.ts), so a burst of 1,000 messages costs one commit and one
 *   row, not 1,000, and a trickle one transaction per `commitDelayMs`.
 *   By default (`synchronous: 'full'`) each group commit is fsynced, so it survives power loss;
 *   with `synchronous: 'normal'` it survives the process being killed (SIGKILL, a crash) but not a
 *   power cut, and costs no fsync (see SqliteQueueOptions.synchronous).
 * - The backlog lives on disk: a reader that has caught up gets newly committed items from memory
 *   (at most AHEAD_MAX of them, their chunks are on disk too); everything else is read from the
 *   file a few chunks at a time, with a small SQLite page cache and no memory map.
 * - `peek` returns only committed items, oldest first; ids grow strictly (the next id is kept in
 *   the file), so `peek(n, lastId)` never skips an item even after the queue ran empty.
 *   Acknowledged items are never returned again. SqliteQueue may return fewer than asked for when
 *   payloads are large (it holds about AHEAD_MAX_BYTES of them at a time); an empty result means
 *   nothing is left after `afterId`.
 * - `ack` takes effect at once for `peek`, `size` and `bytes`; on disk it is a bit in its chunk's
 *   bitmap, and the chunk's row is deleted once all its items are gone; that is written with
 *   the next group commit, or within `ackDelayMs` without an fsync of its own (a crash before it
 *   is on disk replays the item: at least once, never lost). Acknowledgements arrive one PUBACK at
 *   a time; an fsync for each would bound the drain rate by the disk, not the broker.
 *   Unknown or already dropped ids are ignored.
 * - Bounds: `maxBytes` (payload + topic + properties) and `maxAgeMs` (by the item's `ts`). When an
 *   append would exceed `maxBytes`, the oldest items are dropped first; items older than
 *   `maxAgeMs` are dropped on every commit and every `pruneIntervalMs`. Every drop is counted in
 *   the stats (persisted in the file for SqliteQueue) and reported through `onDrop`.
 *   A single item larger than `maxBytes` is refused: `append` rejects with an OVERFLOW error and
 *   nothing is written.
 * - Survives a crash: a SIGKILLed process loses no resolved append (SQLite WAL recovery on open).
 *
 * `properties` is stored as JSON, so it must hold JSON values (MQTT 5 user properties, content
 * type, message expiry); Buffers inside it do not survive a round trip.
 */
import * as fs from 'fs';
import * as path from 'path';
import Database from 'better-sqlite3';
import { PlantwireError } from '../shared/errors';
import { CHUNK_MAX_BYTES, CHUNK_MAX_ITEMS, decodeChunk, encodeChunk, packedSize } from './queue-chunk';

export type QoS = 0 | 1 | 2;

export interface QueueItem {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: Record<string, unknown>;
  /** Time the item was accepted, epoch ms: the age bound counts from it. */
  ts: number;
}

export interface StoredItem extends QueueItem {
  /** Position in the queue; strictly increasing in append order. */
  id: number;
}

/** Called once an append is durable (no argument) or refused (the error; nothing was written). */
export type AppendCallback = (err?: Error) => void;

export type DropReason = 'size' | 'age' | 'clear';

export interface DropInfo {
  reason: DropReason;
  count: number;
  bytes: number;
}

export interface QueueStats {
  /** Items waiting (not yet acknowledged). */
  size: number;
  /** Bytes waiting (payload + topic + properties). */
  bytes: number;
  /** Items ever appended, acknowledged, and dropped (all reasons), since the store was created. */
  appended: number;
  acked: number;
  dropped: number;
  droppedSize: number;
  droppedAge: number;
  cleared: number;
  droppedBytes: number;
  maxBytes: number;
  maxAgeMs: number;
}

export interface StoreAndForwardQueue {
  /** Appends in order; resolves when the items are durable (rejects and writes nothing on error). */
  append(items: readonly QueueItem[]): Promise<void>;
  /** `append` with a callback instead of a Promise: `done` is called once, never before `add` returns. */
  add(items: readonly QueueItem[], done: AppendCallback): void;
  /**
   * Called once new items have become readable by `peek`: once per group commit (SqliteQueue) or
   * append (MemoryQueue), just before the callbacks of its appends. Set by the one reader that
   * drains the queue (the Forwarder), so that it looks for work once per commit, not per message.
   */
  onAppended?: () => void;
  /**
   * Up to `max` oldest items with id greater than `afterId`, in FIFO order; fewer when they are
   * large (see AHEAD_MAX_BYTES), but none only when there are none.
   */
  peek(max: number, afterId?: number): StoredItem[];
  /** Removes items the broker acknowledged. */
  ack(ids: readonly number[]): void;
  /** `ack` of one id (no array per PUBACK). */
  ackOne(id: number): void;
  /** Drops every item; returns how many. Counted as `cleared`. */
  clear(): number;
  /** Drops items older than maxAgeMs now; returns how many. */
  pruneExpired(): number;
  readonly size: number;
  readonly bytes: number;
  readonly dropped: number;
  stats(): QueueStats;
  /** Commits what is pending and releases the store; appends after close reject. */
  close(): Promise<void>;
}

export interface QueueOptions {
  /** Upper bound of the bytes kept; 0 or missing = 100 MB. */
  maxBytes?: number;
  /** Items older than this are dropped; 0 or missing = no age bound. */
  maxAgeMs?: number;
  now?: () => number;
  onDrop?: (info: DropInfo) => void;
  /** How often expired items are pruned while nothing is appended, ms (60 s). */
  pruneIntervalMs?: number;
}

export interface SqliteQueueOptions extends QueueOptions {
  file: string;
  /**
   * Appends commit at most once per this many ms (2): an append to a queue that has not committed
   * for that long commits on the next turn of the event loop, later ones share the next transaction.
   */
  commitDelayMs?: number;
  /** A pending group larger than this commits at once (5,000 items). */
  maxGroup?: number;
  /** Acknowledgements alone are written within this many ms (50), without an fsync of their own. */
  ackDelayMs?: number;
  /**
   * What a resolved append survives. 'full' (the default): synchronous=FULL, one fsync per group
   * commit, so appends survive power loss too; on a slow SD card or a busy disk that fsync bounds
   * the rate at which messages are accepted. 'normal': SQLite WAL with synchronous=NORMAL,
   * no fsync per commit; a committed transaction survives the process being killed (SIGKILL, a
   * crash, the OOM killer), because the WAL frames are written before the commit returns and are
   * recovered on the next open, but the last commits before a power cut or kernel panic may be
   * lost.
   */
  synchronous?: 'normal' | 'full';
}

export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
/** Items SqliteQueue reads ahead at least, when peek has to read from disk (unless they pass AHEAD_MAX_BYTES). */
const READ_AHEAD = 256;
/** Chunks (rows) read at once. */
const READ_CHUNKS = 4;
/**
 * Most items SqliteQueue keeps in memory ahead of the reader. A reader that has caught up with the
 * end of the table gets newly committed items from memory (their rows are on disk as well) instead
 * of reading back what was just written; beyond this many (or AHEAD_MAX_BYTES) the rest stays on disk only, so a backlog
 * never lives in memory.
 */
export const AHEAD_MAX = 50_000;
/** ... and at most this many bytes of them (large payloads). */
export const AHEAD_MAX_BYTES = 16 * 1024 * 1024;
/** SQLite page cache, KiB (PRAGMA cache_size takes a negative number for KiB). */
const CACHE_KIB = 2048;

export class OverflowError extends PlantwireError {
  constructor(message: string) {
    super('OVERFLOW', message);
    this.name = 'OverflowError';
  }
}

/** The bytes an item counts against `maxBytes`. */
export function itemBytes(item: QueueItem, propsJson?: string): number {
  return item.payload.length + Buffer.byteLength(item.topic) + (propsJson ? Buffer.byteLength(propsJson) : 0);
}

/** The store file for a node: `<userDir>/plantwire/<name>.sqlite`; creates the folder. */
export function queueFile(userDir: string, name: string): string {
  const dir = path.join(userDir, 'plantwire');
  fs.mkdirSync(dir, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_') || 'queue';
  return path.join(dir, `${safe}.sqlite`);
}

function checkItem(item: QueueItem): void {
  if (!item || typeof item.topic !== 'string') throw new TypeError('queue item needs a string topic');
  if (!Buffer.isBuffer(item.payload)) throw new TypeError('queue item payload must be a Buffer');
  if (item.qos !== 0 && item.qos !== 1 && item.qos !== 2) throw new TypeError('queue item qos must be 0, 1 or 2');
  if (!Number.isFinite(item.ts)) throw new TypeError('queue item ts must be epoch milliseconds');
}

function emptyCounters(): Counters {
  return { appended: 0, acked: 0, droppedSize: 0, droppedAge: 0, cleared: 0, droppedBytes: 0 };
}

interface Counters {
  appended: number;
  acked: number;
  droppedSize: number;
  droppedAge: number;
  cleared: number;
  droppedBytes: number;
}

abstract class BaseQueue {
  protected readonly maxBytes: number;
  protected readonly maxAgeMs: number;
  protected readonly now: () => number;
  protected c: Counters = emptyCounters();
  protected count = 0;
  protected total = 0;
  protected closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  onAppended?: () => void;

  constructor(protected readonly options: QueueOptions) {
    this.maxBytes = options.maxBytes && options.maxBytes > 0 ? options.maxBytes : DEFAULT_MAX_BYTES;
    this.maxAgeMs = options.maxAgeMs && options.maxAgeMs > 0 ? options.maxAgeMs : 0;
    this.now = options.now ?? Date.now;
    if (this.maxAgeMs > 0) {
      this.pruneTimer = setInterval(() => this.pruneExpired(), options.pruneIntervalMs ?? 60_000);
      this.pruneTimer.unref?.();
    }
  }

  abstract pruneExpired(): number;
  abstract add(items: readonly QueueItem[], done: AppendCallback): void;

  append(items: readonly QueueItem[]): Promise<void> {
    return new Promise<void>((resolve, reject) => this.add(items, (err) => (err ? reject(err) : resolve())));
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.total;
  }

  get dropped(): number {
    return this.c.droppedSize + this.c.droppedAge + this.c.cleared;
  }

  stats(): QueueStats {
    return {
      size: this.count,
      bytes: this.total,
      appended: this.c.appended,
      acked: this.c.acked,
      dropped: this.dropped,
      droppedSize: this.c.droppedSize,
      droppedAge: this.c.droppedAge,
      cleared: this.c.cleared,
      droppedBytes: this.c.droppedBytes,
      maxBytes: this.maxBytes,
      maxAgeMs: this.maxAgeMs,
    };
  }

  protected countDrop(reason: DropReason, count: number, bytes: number): void {
    if (count === 0) return;
    if (reason === 'size') this.c.droppedSize += count;
    else if (reason === 'age') this.c.droppedAge += count;
    else this.c.cleared += count;
    this.c.droppedBytes += bytes;
    this.options.onDrop?.({ reason, count, bytes });
  }

  protected refuseOversized(items: readonly QueueItem[], sizes: readonly number[]): void {
    items.forEach((item, i) => {
      if (sizes[i] > this.maxBytes) {
        throw new OverflowError(
          `message for "${item.topic.slice(0, 60)}" is ${sizes[i]} bytes, larger than the whole buffer (${this.maxBytes} bytes)`,
        );
      }
    });
  }

  protected stopTimers(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
  }
}

interface MemEntry {
  item: StoredItem;
  bytes: number;
}

/** In-memory queue: the same bounds and counters, lost on restart. */
export class MemoryQueue extends BaseQueue implements StoreAndForwardQueue {
  // A ring-like array: `head` advances on removal and the array is compacted when half is dead,
  // so removing from the front stays O(1) amortised (Array.shift is O(n) on large arrays).
  private entries: Array<MemEntry | undefined> = [];
  private head = 0;
  private nextId = 1;
  private readonly index = new Map<number, number>();

  constructor(options: QueueOptions = {}) {
    super(options);
  }

  add(items: readonly QueueItem[], done: AppendCallback): void {
    try {
      if (this.closed) throw new Error('queue is closed');
      items.forEach(checkItem);
      const props = items.map((i) => (i.properties ? JSON.stringify(i.properties) : undefined));
      const sizes = items.map((i, k) => itemBytes(i, props[k]));
      this.refuseOversized(items, sizes);
      items.forEach((item, k) => {
        const stored: StoredItem = {
          id: this.nextId++,
          topic: item.topic,
          payload: item.payload,
          qos: item.qos,
          retain: item.retain,
          ts: item.ts,
        };
        if (props[k] !== undefined) stored.properties = JSON.parse(props[k] as string) as Record<string, unknown>;
        this.index.set(stored.id, this.entries.length);
        this.entries.push({ item: stored, bytes: sizes[k] });
        this.count++;
        this.total += sizes[k];
        this.c.appended++;
      });
      this.dropOldestWhile(() => this.total > this.maxBytes, 'size');
      this.pruneExpired();
    } catch (err) {
      process.nextTick(done, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    process.nextTick(() => {
      this.onAppended?.();
      done();
    });
  }

  peek(max: number, afterId = 0): StoredItem[] {
    const out: StoredItem[] = [];
    for (let i = this.head; i < this.entries.length && out.length < max; i++) {
      const e = this.entries[i];
      if (e && e.item.id > afterId) out.push(e.item);
    }
    return out;
  }

  ack(ids: readonly number[]): void {
    for (const id of ids) this.take(id);
    this.compact();
  }

  ackOne(id: number): void {
    this.take(id);
    this.compact();
  }

  private take(id: number): void {
    const at = this.index.get(id);
    if (at === undefined) return;
    this.remove(at, this.entries[at] as MemEntry);
    this.c.acked++;
  }

  clear(): number {
    const n = this.count;
    const b = this.total;
    this.entries = [];
    this.head = 0;
    this.index.clear();
    this.count = 0;
    this.total = 0;
    this.countDrop('clear', n, b);
    return n;
  }

  pruneExpired(): number {
    if (this.maxAgeMs <= 0) return 0;
    const cutoff = this.now() - this.maxAgeMs;
    return this.dropOldestWhile((e) => e.item.ts < cutoff, 'age');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTimers();
  }

  private remove(at: number, e: MemEntry): void {
    this.entries[at] = undefined;
    this.index.delete(e.item.id);
    this.count--;
    this.total -= e.bytes;
  }

  private dropOldestWhile(cond: (e: MemEntry) => boolean, reason: DropReason): number {
    let n = 0;
    let b = 0;
    while (this.head < this.entries.length) {
      const e = this.entries[this.head];
      if (!e) {
        this.head++;
        continue;
      }
      if (!cond(e)) break;
      this.remove(this.head, e);
      this.head++;
      n++;
      b += e.bytes;
    }
    this.compact();
    this.countDrop(reason, n, b);
    return n;
  }

  private compact(): void {
    while (this.head < this.entries.length && !this.entries[this.head]) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
      this.index.clear();
      this.entries.forEach((e, i) => e && this.index.set(e.item.id, i));
    }
  }
}

interface Pending {
  items: readonly QueueItem[];
  props: Array<string | undefined>;
  sizes: number[];
  done: AppendCallback;
}

function settleGroup(group: readonly Pending[], err: Error | undefined, appended?: () => void): void {
  appended?.();
  for (const p of group) p.done(err);
}

/** What SqliteQueue knows of one chunk (one row: the items of one group commit, see queue-chunk.ts). */
interface ChunkState {
  /** Id of its first item; item k has the id `id + k`. */
  id: number;
  n: number;
  /** Items not gone (acknowledged or dropped), and their bytes. */
  live: number;
  bytes: number;
  /** Oldest and newest item timestamps (the age bound looks into a chunk only between them). */
  minTs: number;
  maxTs: number;
  /** Bit k set: item k is gone. Undefined while none is. */
  gone: Uint8Array | undefined;
}

function isGone(c: ChunkState, k: number): boolean {
  return c.gone !== undefined && (c.gone[k >> 3] & (1 << (k & 7))) !== 0;
}

function setGone(gone: Uint8Array, k: number): void {
  gone[k >> 3] |= 1 << (k & 7);
}

/** A chunk row without its data: id, n, live, bytes, min_ts, max_ts, gone. */
type ChunkRow = [number, number, number, number, number, number, Buffer | null];
/** A chunk row with its data. */
type ChunkDataRow = [number, number, number, number, number, number, Buffer | null, Buffer];

interface Ahead {
  item: StoredItem;
  bytes: number;
  chunk: ChunkState;
}

/** A change to one chunk made inside a transaction, applied to memory once it has committed. */
interface ChunkPlan {
  chunk: ChunkState;
  gone: Uint8Array;
  live: number;
  bytes: number;
  /** Ids dropped from it. */
  ids: number[];
}

/** Which items a drop takes from the head: `want` per item, `whole` and `none` per chunk from its bounds. */
interface DropRule {
  want(ts: number, left: number): boolean;
  /** Every live item of the chunk goes (`leftAfter`: the bytes left once they have). */
  whole(c: ChunkState, leftAfter: number): boolean;
  /** Its first live item stays, so the drop ends here. */
  none(c: ChunkState, left: number): boolean;
}

/** Oldest first while more than `max` bytes are kept. */
function sizeRule(max: number): DropRule {
  return { want: (_ts, left) => left > max, whole: (_c, leftAfter) => leftAfter > max, none: (_c, left) => left <= max };
}

/** Oldest first while older than `cutoff` (epoch ms). */
function ageRule(cutoff: number): DropRule {
  return { want: (ts) => ts < cutoff, whole: (c) => c.maxTs < cutoff, none: (c) => c.minTs >= cutoff };
}

/** Items a drop removes, and the chunks it changes. */
interface DropPlan {
  reason: DropReason;
  count: number;
  bytes: number;
  chunks: Map<number, ChunkPlan>;
}

/** A chunk written by a commit: its state and its items' range in the commit's flattened arrays. */
interface Made {
  chunk: ChunkState;
  from: number;
  to: number;
}

/**
 * Durable queue in one SQLite file (WAL, group commit; see `synchronous` for what durable means).
 * Each group commit is written as chunks: rows of up to CHUNK_MAX_ITEMS items packed into one blob
 * (queue-chunk.ts, table chunk_data), described by a row in `chunks` with a bitmap of the items
 * already gone (a table of its own: SQLite rewrites a whole row on UPDATE, and the bitmap changes
 * with every commit of acknowledgements). Both rows are deleted when all of its items are gone. Item ids are given here (the `nextId` counter is kept in the file), so they
 * grow strictly even when the queue runs empty.
 */
export class SqliteQueue extends BaseQueue implements StoreAndForwardQueue {
  private readonly db: Database.Database;
  private readonly commitDelayMs: number;
  private readonly ackDelayMs: number;
  private readonly maxGroup: number;
  private readonly fullSync: boolean;
  private pending: Pending[] = [];
  private pendingCount = 0;
  /** Chunks whose gone bits changed since the last commit. */
  private readonly dirty = new Set<ChunkState>();
  /**
   * Chunks this process has read, written or changed, by id: the one state of each (newer than its
   * row while it is dirty). A chunk leaves when its row is deleted.
   */
  private readonly chunks = new Map<number, ChunkState>();
  /** Items handed out by peek, so that ack needs no read. */
  private readonly peeked = new Map<number, Ahead>();
  private commitTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private commitTimerDelay = 0;
  /** The armed commit is for appends (it takes the acknowledgements too), not acknowledgements alone. */
  private commitForAppends = false;
  /** When the last transaction started (Date.now()). */
  private lastCommit = 0;
  /**
   * Items ahead of the reader, in id order: chunks read from disk, then, while the reader is at the
   * end of the table, items as they are committed. `ahead[aheadAt]` is the first one not yet
   * passed; ids up to `aheadAfter` have been passed.
   */
  private ahead: Ahead[] = [];
  private aheadAt = 0;
  /** Bytes of the entries from `aheadAt` on. */
  private aheadBytes = 0;
  /** Bytes of the passed entries still in `ahead` (before `aheadAt`), until it is compacted. */
  private passedBytes = 0;
  private aheadAfter = -1;
  /** What is in `ahead` reaches the end of the table (until something is committed past it). */
  private aheadEnd = false;
  /** Id of the last chunk whose items are in `ahead` (the next disk read starts after it). */
  private diskAfter = -1;
  private nextId = 1;
  private transactions = 0;
  private readonly st: {
    insert: Database.Statement;
    insertData: Database.Statement;
    del: Database.Statement;
    delData: Database.Statement;
    update: Database.Statement;
    page: Database.Statement;
    head: Database.Statement;
    containing: Database.Statement;
    dataOf: Database.Statement;
    setMeta: Database.Statement;
  };

  constructor(options: SqliteQueueOptions) {
    super(options);
    this.commitDelayMs = options.commitDelayMs ?? 2;
    this.ackDelayMs = options.ackDelayMs ?? 50;
    this.maxGroup = options.maxGroup ?? 5000;
    this.fullSync = (options.synchronous ?? 'full') === 'full';
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    try {
      // 16 KiB pages for a new file (an existing one keeps its own): a chunk of a thousand messages
      // is some 130 KB, and every page is one WAL frame written with its own system call (4 KiB
      // pages made three times the writes in bench/publish).
      this.db.pragma('page_size = 16384');
      this.db.pragma('journal_mode = WAL');
      // See SqliteQueueOptions.synchronous: NORMAL in WAL mode loses nothing a resolved append
      // promised when the process dies (SIGKILL, crash, OOM kill): the committed WAL frames are in
      // the operating system's cache and are recovered on the next open. FULL adds an fsync per
      // group commit, which is what it takes to survive a power cut as well.
      this.db.pragma(`synchronous = ${this.fullSync ? 'FULL' : 'NORMAL'}`);
      // The backlog lives on disk: a small page cache and no memory map keep the process's memory
      // flat however many rows wait (the operating system's file cache does the rest).
      this.db.pragma(`cache_size = -${CACHE_KIB}`);
      this.db.pragma('mmap_size = 0');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS chunks (
          id INTEGER PRIMARY KEY, n INTEGER NOT NULL, live INTEGER NOT NULL, bytes INTEGER NOT NULL,
          min_ts REAL NOT NULL, max_ts REAL NOT NULL, gone BLOB);
        CREATE TABLE IF NOT EXISTS chunk_data (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
      const keys = [...Object.keys(emptyCounters()), 'nextId'];
      this.st = {
        insert: this.db.prepare('INSERT INTO chunks (id, n, live, bytes, min_ts, max_ts, gone) VALUES (?, ?, ?, ?, ?, ?, NULL)'),
        insertData: this.db.prepare('INSERT INTO chunk_data (id, data) VALUES (?, ?)'),
        del: this.db.prepare('DELETE FROM chunks WHERE id = ?'),
        delData: this.db.prepare('DELETE FROM chunk_data WHERE id = ?'),
        update: this.db.prepare('UPDATE chunks SET live = ?, bytes = ?, gone = ? WHERE id = ?'),
        // Rows as arrays (raw), not objects: half the cost of a row read back (bench/publish).
        page: this.db
          .prepare('SELECT c.id, c.n, c.live, c.bytes, c.min_ts, c.max_ts, c.gone, d.data FROM chunks c JOIN chunk_data d ON d.id = c.id WHERE c.id > ? ORDER BY c.id LIMIT ?')
          .raw(true),
        head: this.db.prepare('SELECT id, n, live, bytes, min_ts, max_ts, gone FROM chunks WHERE id > ? ORDER BY id LIMIT ?').raw(true),
        containing: this.db.prepare('SELECT id, n, live, bytes, min_ts, max_ts, gone FROM chunks WHERE id <= ? ORDER BY id DESC LIMIT 1').raw(true),
        dataOf: this.db.prepare('SELECT data FROM chunk_data WHERE id = ?').pluck(true),
        setMeta: this.db.prepare(
          `INSERT INTO meta (key, value) VALUES ${keys.map(() => '(?, ?)').join(', ')} ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
        ),
      };
      const meta = this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: number }>;
      for (const { key, value } of meta) {
        if (key === 'nextId') this.nextId = Math.max(this.nextId, value);
        else if (key in this.c) this.c[key as keyof Counters] = value;
      }
      this.migrateRows();
      // Once per open, not per message: the counters below are kept up to date in memory.
      const agg = this.db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(live), 0) AS n, COALESCE(SUM(bytes), 0) AS b, MAX(id + n) AS end FROM chunks').get() as {
        rows: number;
        n: number;
        b: number;
        end: number | null;
      };
      this.count = agg.n;
      this.total = agg.b;
      if (agg.end !== null) this.nextId = Math.max(this.nextId, agg.end);
      // An empty table: a reader will start at the beginning, which is its end, so what is
      // committed before its first peek is kept in memory for it too (else the first thousands
      // of messages of a busy start were read back from disk).
      if (agg.rows === 0) {
        this.aheadAfter = 0;
        this.aheadEnd = true;
        this.diskAfter = this.nextId - 1;
      }
    } catch (err) {
      this.db.close();
      this.stopTimers();
      throw err;
    }
  }

  /** Write transactions committed since open (group commit makes this far smaller than appends). */
  get commits(): number {
    return this.transactions;
  }

  /** Items held in memory ahead of the reader (bounded; the backlog itself stays on disk). */
  get aheadInMemory(): number {
    return this.ahead.length - this.aheadAt;
  }

  add(items: readonly QueueItem[], done: AppendCallback): void {
    const props: Array<string | undefined> = new Array(items.length);
    const sizes: number[] = new Array(items.length);
    try {
      if (this.closed) throw new Error('queue is closed');
      for (let k = 0; k < items.length; k++) {
        const item = items[k];
        checkItem(item);
        props[k] = item.properties ? JSON.stringify(item.properties) : undefined;
        sizes[k] = itemBytes(item, props[k]);
      }
      this.refuseOversized(items, sizes);
    } catch (err) {
      process.nextTick(done, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.pending.push({ items, props, sizes, done });
    this.pendingCount += items.length;
    // A full group commits now (its callbacks still run after `add` has returned: see commit).
    if (this.pendingCount >= this.maxGroup) this.commit();
    else this.scheduleCommit(true);
  }

  peek(max: number, afterId = 0): StoredItem[] {
    if (this.closed || max <= 0) return [];
    // Chunks are read ahead of the reader: a draining forwarder asks for one or two items after
    // every PUBACK, and a query for each would cost more than the send.
    if (this.aheadAfter < 0 || afterId < this.aheadAfter) this.resetAhead(afterId);
    // Pass what the reader has passed, and what is gone at the head as well: gone items are never
    // handed out again, so a reader that acknowledges from the head without giving `afterId` still
    // moves the read position on (else it would rescan them on every peek and the read-ahead grew
    // with every chunk read).
    while (this.aheadAt < this.ahead.length) {
      const e = this.ahead[this.aheadAt];
      if (e.item.id > afterId && !isGone(e.chunk, e.item.id - e.chunk.id)) break;
      this.aheadBytes -= e.bytes;
      this.passedBytes += e.bytes;
      this.aheadAt++;
    }
    if (afterId > this.aheadAfter) this.aheadAfter = afterId;
    const out: StoredItem[] = [];
    let i = this.aheadAt;
    for (;;) {
      for (; i < this.ahead.length && out.length < max; i++) {
        const e = this.ahead[i];
        if (isGone(e.chunk, e.item.id - e.chunk.id)) continue; // acknowledged or dropped meanwhile
        this.peeked.set(e.item.id, e);
        out.push(e.item);
      }
      if (out.length >= max || this.aheadEnd) break;
      // Large payloads: once AHEAD_MAX_BYTES are held ahead, the rest waits until the reader has
      // passed some of them (it gets fewer than `max` items, never none while any are left).
      if (out.length > 0 && this.aheadBytes >= AHEAD_MAX_BYTES) break;
      this.readChunks(max - out.length);
    }
    this.compactAhead();
    return out;
  }

  /**
   * Reads chunks after `diskAfter` into `ahead` until it holds `want` (at least READ_AHEAD) more
   * items, or AHEAD_MAX_BYTES are held ahead (once at least one item was read), or the table ends.
   */
  private readChunks(want: number): void {
    let got = 0;
    let rowsAtOnce = READ_CHUNKS;
    while (got < Math.max(READ_AHEAD, want)) {
      const rows = this.st.page.all(this.diskAfter, rowsAtOnce) as ChunkDataRow[];
      for (const row of rows) {
        // A count alone is no bound: 256 items of 1 MB each were 256 MB in memory after a restart.
        if (got > 0 && this.aheadBytes >= AHEAD_MAX_BYTES) return;
        const chunk = this.chunkOf(row);
        this.diskAfter = chunk.id;
        // Rows this large are read one at a time, so that at most one row goes past the byte bound.
        if (this.aheadBytes + row[7].length * READ_CHUNKS > AHEAD_MAX_BYTES) rowsAtOnce = 1;
        if (chunk.live === 0) continue;
        decodeChunk(
          row[7],
          chunk.id,
          (k) => chunk.id + k <= this.aheadAfter || isGone(chunk, k),
          (u) => {
            this.ahead.push({ item: u.item, bytes: u.bytes, chunk });
            this.aheadBytes += u.bytes;
            got++;
          },
        );
      }
      if (rows.length < rowsAtOnce) {
        this.aheadEnd = true;
        return;
      }
      if (got > 0 && this.aheadBytes >= AHEAD_MAX_BYTES) return;
    }
  }

  /** The state of a chunk read from its row: the one in memory when there is one (it may be newer). */
  private chunkOf(row: ChunkRow | ChunkDataRow): ChunkState {
    let c = this.chunks.get(row[0]);
    if (!c) {
      c = chunkFromRow(row);
      this.chunks.set(c.id, c);
    }
    return c;
  }

  private resetAhead(after: number): void {
    this.ahead = [];
    this.aheadAt = 0;
    this.aheadBytes = 0;
    this.passedBytes = 0;
    this.aheadAfter = after;
    this.aheadEnd = false;
    // From the chunk that holds the item after `after` (items up to `after` are skipped as they are read).
    const row = this.st.containing.get(after + 1) as ChunkRow | undefined;
    this.diskAfter = row ? row[0] - 1 : -1;
  }

  /**
   * Forgets passed entries once they are most of the array (O(1) amortised per item), or once they
   * hold AHEAD_MAX_BYTES (O(1) amortised per byte): with large payloads a few hundred passed
   * entries would otherwise keep hundreds of MB alive while the reader drains a backlog.
   */
  private compactAhead(): void {
    if (this.aheadAt === this.ahead.length) {
      this.ahead = [];
      this.aheadAt = 0;
      this.passedBytes = 0;
    } else if ((this.aheadAt > 512 && this.aheadAt * 2 > this.ahead.length) || this.passedBytes >= AHEAD_MAX_BYTES) {
      this.ahead = this.ahead.slice(this.aheadAt);
      this.aheadAt = 0;
      this.passedBytes = 0;
    }
  }

  ack(ids: readonly number[]): void {
    if (this.closed) return;
    for (const id of ids) this.take(id);
    if (this.dirty.size) this.scheduleCommit(this.pending.length > 0);
  }

  ackOne(id: number): void {
    if (this.closed) return;
    this.take(id);
    if (this.dirty.size) this.scheduleCommit(this.pending.length > 0);
  }

  private take(id: number): void {
    let chunk: ChunkState | undefined;
    let bytes = -1;
    const e = this.peeked.get(id);
    if (e) {
      this.peeked.delete(id);
      chunk = e.chunk;
      bytes = e.bytes;
    } else {
      // Not handed out by peek (rare): find its chunk, and its size in the chunk's data.
      const row = this.st.containing.get(id) as ChunkRow | undefined;
      if (!row) return;
      chunk = this.chunkOf(row);
      const k = id - chunk.id;
      if (k >= chunk.n || isGone(chunk, k)) return;
      decodeChunk(
        this.st.dataOf.get(chunk.id) as Buffer,
        chunk.id,
        (j) => j !== k,
        (u) => (bytes = u.bytes),
      );
    }
    const k = id - chunk.id;
    if (bytes < 0 || k < 0 || k >= chunk.n || isGone(chunk, k)) return; // dropped meanwhile, or never existed
    if (!chunk.gone) chunk.gone = new Uint8Array((chunk.n + 7) >> 3);
    setGone(chunk.gone, k);
    chunk.live--;
    chunk.bytes -= bytes;
    this.dirty.add(chunk);
    this.count--;
    this.total -= bytes;
    this.c.acked++;
  }

  clear(): number {
    if (this.closed) return 0;
    this.commit();
    const n = this.count;
    const b = this.total;
    const counters = { ...this.c, cleared: this.c.cleared + n, droppedBytes: this.c.droppedBytes + b };
    this.db.transaction(() => {
      this.db.exec('DELETE FROM chunks; DELETE FROM chunk_data');
      this.saveCounters(counters);
    })();
    this.c = counters;
    this.count = 0;
    this.total = 0;
    this.chunks.clear();
    this.dirty.clear();
    this.peeked.clear();
    this.aheadAfter = -1;
    if (n) this.options.onDrop?.({ reason: 'clear', count: n, bytes: b });
    return n;
  }

  pruneExpired(): number {
    if (this.closed || this.maxAgeMs <= 0) return 0;
    let plan: DropPlan | undefined;
    this.db.transaction(() => {
      plan = this.planDrops('age', this.total, new Map(), ageRule(this.now() - this.maxAgeMs));
      if (plan.count) this.saveCounters(this.countersAfter([plan]));
    })();
    this.applyDrops([plan!]);
    return plan!.count;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    this.stopTimers();
    this.db.close();
  }

  /**
   * Appends commit as soon as the event loop has taken in the rest of this turn's messages, but at
   * most once per `commitDelayMs` (a steady trickle of messages one per turn would otherwise cost a
   * transaction each); acknowledgements alone wait `ackDelayMs`.
   */
  private scheduleCommit(forAppends: boolean): void {
    // A commit armed for appends takes everything; one armed for acknowledgements alone takes
    // acknowledgements, but an append must not wait behind that longer delay.
    if (this.commitTimer && (this.commitForAppends || !forAppends)) return;
    this.cancelCommit();
    const delay = forAppends ? Math.max(0, this.lastCommit + this.commitDelayMs - Date.now()) : this.ackDelayMs;
    this.commitForAppends = forAppends;
    this.commitTimerDelay = delay;
    this.commitTimer = delay <= 0 ? setImmediate(this.commitNow) : setTimeout(this.commitNow, delay);
  }

  private readonly commitNow = (): void => this.commit();

  private cancelCommit(): void {
    const t = this.commitTimer;
    if (!t) return;
    if (this.commitTimerDelay <= 0) clearImmediate(t as NodeJS.Immediate);
    else clearTimeout(t as NodeJS.Timeout);
    this.commitTimer = undefined;
  }

  /**
   * One transaction: the chunks changed by acknowledgements, then the pending appends as new chunks,
   * then the bounds. Memory (counters, states, the reader's items) changes only once it has
   * committed; if it fails, nothing of the group was written and the acknowledgements stay pending.
   */
  private commit(): void {
    this.cancelCommit();
    const group = this.pending;
    this.pending = [];
    this.pendingCount = 0;
    if (!group.length && !this.dirty.size) return;
    this.lastCommit = Date.now();
    // Only appends need the fsync before they are reported durable; deletions can ride along later.
    const relaxed = this.fullSync && group.length === 0;
    if (relaxed) this.db.pragma('synchronous = NORMAL');
    const flat = flatten(group);
    let made: Made[] = [];
    let nextId = this.nextId;
    const drops: DropPlan[] = [];
    try {
      this.db.transaction(() => {
        this.writeDirty();
        made = this.insertChunks(flat);
        if (made.length) nextId = made[made.length - 1].chunk.id + made[made.length - 1].chunk.n;
        const fresh = new Map(made.map((m) => [m.chunk.id, m.chunk]));
        let total = this.total + flat.bytes;
        if (total > this.maxBytes) {
          const plan = this.planDrops('size', total, fresh, sizeRule(this.maxBytes));
          drops.push(plan);
          total -= plan.bytes;
        }
        if (this.maxAgeMs > 0) {
          drops.push(this.planDrops('age', total, fresh, ageRule(this.now() - this.maxAgeMs), drops[0]));
        }
        this.saveCounters(this.countersAfter(drops, flat.items.length), nextId);
      })();
    } catch (err) {
      if (group.length) process.nextTick(settleGroup, group, err instanceof Error ? err : new Error(String(err)));
      return;
    } finally {
      if (relaxed) this.db.pragma('synchronous = FULL');
    }
    this.transactions++;
    // Acknowledged chunks are written: the empty ones are gone.
    for (const c of this.dirty) if (c.live === 0) this.chunks.delete(c.id);
    this.dirty.clear();
    if (made.length) {
      for (const m of made) this.chunks.set(m.chunk.id, m.chunk);
      this.nextId = nextId;
      this.count += flat.items.length;
      this.total += flat.bytes;
      this.c.appended += flat.items.length;
      this.keepAhead(flat, made);
    }
    this.applyDrops(drops);
    // On the next tick, not inside commit: a callback must not run inside add, clear or close.
    if (group.length) process.nextTick(settleGroup, group, undefined, made.length ? this.onAppended : undefined);
  }

  /** Writes the chunks acknowledgements changed: deleted when empty, else their new bitmap. */
  private writeDirty(): void {
    for (const c of this.dirty) {
      if (c.live === 0) this.deleteChunk(c.id);
      else this.st.update.run(c.live, c.bytes, c.gone ?? null, c.id);
    }
  }

  private deleteChunk(id: number): void {
    this.st.del.run(id);
    this.st.delData.run(id);
  }

  /** Inserts the group as chunks with ids from `nextId` on (written, not yet in memory). */
  private insertChunks(flat: Flat): Made[] {
    const { items, props, sizes } = flat;
    const made: Made[] = [];
    let id = this.nextId;
    let from = 0;
    let packed = 0;
    for (let i = 0; i <= items.length; i++) {
      const size = i < items.length ? packedSize(items[i], props[i]) : 0;
      if (i > from && (i === items.length || i - from >= CHUNK_MAX_ITEMS || packed + size > CHUNK_MAX_BYTES)) {
        let bytes = 0;
        let minTs = Infinity;
        let maxTs = -Infinity;
        for (let k = from; k < i; k++) {
          bytes += sizes[k];
          if (items[k].ts < minTs) minTs = items[k].ts;
          if (items[k].ts > maxTs) maxTs = items[k].ts;
        }
        const n = i - from;
        this.st.insert.run(id, n, n, bytes, minTs, maxTs);
        this.st.insertData.run(id, encodeChunk(items, props, from, i, packed));
        made.push({ chunk: { id, n, live: n, bytes, minTs, maxTs, gone: undefined }, from, to: i });
        id += n;
        from = i;
        packed = 0;
      }
      packed += size;
    }
    return made;
  }

  /**
   * Inside a transaction: drops items from the head, oldest first, while `rule.want(ts, bytes left)`
   * holds; writes the changed chunks and returns what changed (applied to memory after the commit).
   * A chunk is unpacked only when the rule cannot tell from its bounds (`whole`: every live item
   * goes; `none`: the first live item stays). `fresh`: chunks inserted in this transaction;
   * `before`: an earlier plan of the same transaction.
   */
  private planDrops(reason: DropReason, total: number, fresh: ReadonlyMap<number, ChunkState>, rule: DropRule, before?: DropPlan): DropPlan {
    const plan: DropPlan = { reason, count: 0, bytes: 0, chunks: new Map() };
    let after = -1;
    // Most commits drop nothing: look at the head chunk first, then read further in growing pages.
    let page = 1;
    outer: for (;;) {
      const rows = this.st.head.all(after, page) as ChunkRow[];
      if (!rows.length) break;
      page = Math.min(64, page * 4);
      for (const row of rows) {
        after = row[0];
        const chunk = fresh.get(row[0]) ?? this.chunks.get(row[0]) ?? chunkFromRow(row);
        const earlier = before?.chunks.get(chunk.id);
        const gone = earlier ? earlier.gone : chunk.gone;
        const live = earlier ? earlier.live : chunk.live;
        const bytes = earlier ? earlier.bytes : chunk.bytes;
        if (live === 0) continue;
        if (rule.none(chunk, total)) break outer;
        const goneBit = (k: number) => gone !== undefined && (gone[k >> 3] & (1 << (k & 7))) !== 0;
        const cp: ChunkPlan = { chunk, gone: gone ? gone.slice() : new Uint8Array((chunk.n + 7) >> 3), live, bytes, ids: [] };
        const drop = (k: number, b: number) => {
          setGone(cp.gone, k);
          cp.live--;
          cp.bytes -= b;
          cp.ids.push(chunk.id + k);
          total -= b;
          plan.count++;
          plan.bytes += b;
        };
        let stopped = false;
        if (rule.whole(chunk, total - bytes)) {
          // Every live item goes: no need for their sizes one by one.
          for (let k = 0; k < chunk.n; k++) if (!goneBit(k)) drop(k, 0);
          cp.bytes = 0;
          total -= bytes;
          plan.bytes += bytes;
        } else {
          decodeChunk(
            this.st.dataOf.get(chunk.id) as Buffer,
            chunk.id,
            (k) => stopped || goneBit(k),
            (u) => {
              if (rule.want(u.item.ts, total)) drop(u.item.id - chunk.id, u.bytes);
              else stopped = true;
            },
          );
        }
        if (cp.ids.length) {
          plan.chunks.set(chunk.id, cp);
          if (cp.live === 0) this.deleteChunk(chunk.id);
          else this.st.update.run(cp.live, cp.bytes, cp.gone, chunk.id);
        }
        if (stopped) break outer;
      }
    }
    return plan;
  }

  /** After the transaction of `plans` committed: memory follows, and every drop is counted and reported. */
  private applyDrops(plans: readonly DropPlan[]): void {
    for (const plan of plans) {
      if (!plan.count) continue;
      for (const cp of plan.chunks.values()) {
        const c = cp.chunk;
        c.gone = cp.gone;
        c.live = cp.live;
        c.bytes = cp.bytes;
        if (c.live === 0) this.chunks.delete(c.id);
        else this.chunks.set(c.id, c);
        this.dirty.delete(c); // its row is as written now (acknowledgements were written first)
        for (const id of cp.ids) this.peeked.delete(id);
      }
      this.count -= plan.count;
      this.total -= plan.bytes;
      if (plan.reason === 'size') this.c.droppedSize += plan.count;
      else if (plan.reason === 'age') this.c.droppedAge += plan.count;
      else this.c.cleared += plan.count;
      this.c.droppedBytes += plan.bytes;
      this.aheadAfter = -1; // items left the head: read again
      this.options.onDrop?.({ reason: plan.reason, count: plan.count, bytes: plan.bytes });
    }
  }

  /** The counters as they will be once `drops` and `appended` new items have committed. */
  private countersAfter(drops: readonly DropPlan[], appended = 0): Counters {
    const c = { ...this.c, appended: this.c.appended + appended };
    for (const d of drops) {
      if (d.reason === 'size') c.droppedSize += d.count;
      else if (d.reason === 'age') c.droppedAge += d.count;
      else c.cleared += d.count;
      c.droppedBytes += d.bytes;
    }
    return c;
  }

  /**
   * A reader at the end of the table gets the chunks just committed from memory, so a message
   * that arrives while the broker is connected is sent without reading back what was just written.
   */
  private keepAhead(flat: Flat, made: readonly Made[]): void {
    if (
      this.aheadAfter < 0 ||
      !this.aheadEnd ||
      this.ahead.length - this.aheadAt + flat.items.length > AHEAD_MAX ||
      this.aheadBytes + flat.bytes > AHEAD_MAX_BYTES
    ) {
      this.aheadEnd = false; // new chunks follow what was read ahead: read them from disk
      return;
    }
    for (const { chunk, from, to } of made) {
      for (let k = from; k < to; k++) {
        const item = flat.items[k];
        const stored: StoredItem = { id: chunk.id + k - from, topic: item.topic, payload: item.payload, qos: item.qos, retain: item.retain, ts: item.ts };
        // The same fresh copy a read from disk gives: later changes to the caller's object do not leak in.
        const pj = flat.props[k];
        if (pj !== undefined) stored.properties = JSON.parse(pj) as Record<string, unknown>;
        this.ahead.push({ item: stored, bytes: flat.sizes[k], chunk });
        this.aheadBytes += flat.sizes[k];
      }
      this.diskAfter = chunk.id;
    }
  }

  /**
   * A file written by an earlier version holds one row per item (table `items`): its items move
   * into chunks, in order, with new ids after every id it used, once, at open.
   */
  private migrateRows(): void {
    const old = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'items'").get();
    if (!old) return;
    const seq = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").pluck(true).get() as number | undefined;
    this.nextId = Math.max(this.nextId, (seq ?? 0) + 1);
    const rows = this.db.prepare('SELECT id, ts, topic, payload, qos, retain, props, bytes FROM items WHERE id > ? ORDER BY id LIMIT ?').raw(true);
    this.db.transaction(() => {
      let after = 0;
      for (;;) {
        const page = rows.all(after, CHUNK_MAX_ITEMS) as Array<[number, number, string, Buffer, number, number, string | null, number]>;
        if (!page.length) break;
        const flat: Flat = { items: [], props: [], sizes: [], bytes: 0 };
        for (const [id, ts, topic, payload, qos, retain, props, bytes] of page) {
          after = id;
          flat.items.push({ topic, payload, qos: qos as QoS, retain: retain === 1, ts });
          flat.props.push(props ?? undefined);
          flat.sizes.push(bytes);
          flat.bytes += bytes;
        }
        const made = this.insertChunks(flat);
        const last = made[made.length - 1].chunk;
        this.nextId = last.id + last.n;
      }
      this.db.exec('DROP TABLE items');
      this.saveCounters(this.c);
    })();
  }

  private saveCounters(c: Counters, nextId = this.nextId): void {
    const params: Array<string | number> = [];
    for (const [k, v] of Object.entries(c)) params.push(k, v);
    params.push('nextId', nextId);
    this.st.setMeta.run(params);
  }
}

/** The items of a group commit in flat arrays (item, its properties JSON, its bytes). */
interface Flat {
  items: QueueItem[];
  props: Array<string | undefined>;
  sizes: number[];
  bytes: number;
}

function flatten(group: readonly Pending[]): Flat {
  if (group.length === 1) {
    const p = group[0];
    let bytes = 0;
    for (const b of p.sizes) bytes += b;
    return { items: p.items as QueueItem[], props: p.props, sizes: p.sizes, bytes };
  }
  const flat: Flat = { items: [], props: [], sizes: [], bytes: 0 };
  for (const p of group) {
    for (let k = 0; k < p.items.length; k++) {
      flat.items.push(p.items[k]);
      flat.props.push(p.props[k]);
      flat.sizes.push(p.sizes[k]);
      flat.bytes += p.sizes[k];
    }
  }
  return flat;
}

function chunkFromRow(row: ChunkRow | ChunkDataRow): ChunkState {
  return { id: row[0], n: row[1], live: row[2], bytes: row[3], minTs: row[4], maxTs: row[5], gone: row[6] ? new Uint8Array(row[6]) : undefined };
}
