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
 *   transaction; appends arriving within `commitDelayMs` share one transaction (group commit,
 *   written with multi-row INSERTs), so a burst of 1,000 messages costs one commit, not 1,000.
 *   By default (`synchronous: 'full'`) each group commit is fsynced, so it survives power loss;
 *   with `synchronous: 'normal'` it survives the process being killed (SIGKILL, a crash) but not a
 *   power cut, and costs no fsync (see SqliteQueueOptions.synchronous).
 * - The backlog lives on disk: a reader that has caught up gets newly committed items from memory
 *   (at most AHEAD_MAX of them, their rows are on disk too); everything else is read from the file
 *   READ_AHEAD rows at a time, with a small SQLite page cache and no memory map.
 * - `peek` returns only committed items, oldest first; ids grow strictly (AUTOINCREMENT), so
 *   `peek(n, lastId)` never skips an item even after the queue ran empty. Acknowledged items are
 *   never returned again.
 * - `ack` takes effect at once for `peek`, `size` and `bytes`; the deletion itself is written with
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
  /** Up to `max` oldest items with id greater than `afterId`, in FIFO order. */
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
  /** Appends arriving within this many ms share one transaction (2). */
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
/** Rows SqliteQueue reads at once for peek. */
const READ_AHEAD = 256;
/**
 * Most items SqliteQueue keeps in memory ahead of the reader. A reader that has caught up with the
 * end of the table gets newly committed items from memory (their rows are on disk as well) instead
 * of reading back what was just written; beyond this many (or AHEAD_MAX_BYTES) the rest stays on disk only, so a backlog
 * never lives in memory.
 */
export const AHEAD_MAX = 50_000;
/** ... and at most this many bytes of them (large payloads). */
export const AHEAD_MAX_BYTES = 16 * 1024 * 1024;
/** Rows per multi-row INSERT (7 parameters each, far below SQLite's 32,766-parameter limit). */
const INSERT_ROWS = [64, 8, 1] as const;
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
    process.nextTick(done);
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

function settleGroup(group: readonly Pending[], err: Error | undefined): void {
  for (const p of group) p.done(err);
}

/** A row read back: id, ts, topic, payload, qos, retain, props, bytes (the page statement's columns). */
type RawRow = [number, number, string, Buffer, number, number, string | null, number];

interface Ahead {
  item: StoredItem;
  bytes: number;
}

/** Durable queue in one SQLite file (WAL, group commit; see `synchronous` for what durable means). */
export class SqliteQueue extends BaseQueue implements StoreAndForwardQueue {
  private readonly db: Database.Database;
  private readonly commitDelayMs: number;
  private readonly ackDelayMs: number;
  private readonly maxGroup: number;
  private readonly fullSync: boolean;
  private pending: Pending[] = [];
  private pendingCount = 0;
  private readonly pendingAcks = new Set<number>();
  /** Sizes of items handed out by peek, so that ack needs no read. */
  private readonly peeked = new Map<number, number>();
  private commitTimer: NodeJS.Timeout | undefined;
  private commitTimerDelay = 0;
  /**
   * Items ahead of the reader, in id order: rows read from disk READ_AHEAD at a time, then, while
   * the reader is at the end of the table, items as they are committed. `ahead[aheadAt]` is the
   * first one not yet passed; ids up to `aheadAfter` have been passed.
   */
  private ahead: Ahead[] = [];
  private aheadAt = 0;
  /** Bytes of the entries from `aheadAt` on. */
  private aheadBytes = 0;
  private aheadAfter = -1;
  /** What is in `ahead` reaches the end of the table (until something is committed past it). */
  private aheadEnd = false;
  private transactions = 0;
  private readonly st: {
    insert: Map<number, Database.Statement>;
    delRange: Database.Statement;
    del: Database.Statement;
    head: Database.Statement;
    page: Database.Statement;
    bytesOf: Database.Statement;
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
        CREATE TABLE IF NOT EXISTS items (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          ts INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
          qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT, bytes INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
      const insert = new Map<number, Database.Statement>();
      for (const n of INSERT_ROWS) {
        insert.set(
          n,
          this.db.prepare(`INSERT INTO items (ts, topic, payload, qos, retain, props, bytes) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`),
        );
      }
      const keys = Object.keys(emptyCounters());
      this.st = {
        insert,
        delRange: this.db.prepare('DELETE FROM items WHERE id BETWEEN ? AND ?'),
        del: this.db.prepare('DELETE FROM items WHERE id = ?'),
        head: this.db.prepare('SELECT id, ts, bytes FROM items WHERE id > ? ORDER BY id LIMIT ?'),
        // Rows as arrays (raw), not objects: half the cost of a row read back (bench/publish).
        page: this.db.prepare('SELECT id, ts, topic, payload, qos, retain, props, bytes FROM items WHERE id > ? ORDER BY id LIMIT ?').raw(true),
        bytesOf: this.db.prepare('SELECT bytes FROM items WHERE id = ?'),
        setMeta: this.db.prepare(
          `INSERT INTO meta (key, value) VALUES ${keys.map(() => '(?, ?)').join(', ')} ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
        ),
      };
      // Once per open, not per message: the counters below are kept up to date in memory.
      const agg = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM items').get() as {
        n: number;
        b: number;
      };
      this.count = agg.n;
      this.total = agg.b;
      // An empty table: a reader will start at the beginning, which is its end, so what is
      // committed before its first peek is kept in memory for it too (else the first thousands
      // of messages of a busy start were read back from disk, at several µs a row).
      if (agg.n === 0) {
        this.aheadAfter = 0;
        this.aheadEnd = true;
      }
      const meta = this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: keyof Counters; value: number }>;
      for (const { key, value } of meta) if (key in this.c) this.c[key] = value;
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
    else this.scheduleCommit();
  }

  peek(max: number, afterId = 0): StoredItem[] {
    if (this.closed || max <= 0) return [];
    // Rows are read ahead of the reader, READ_AHEAD at a time: a draining forwarder asks for one
    // or two items after every PUBACK, and a query for each would cost more than the send.
    if (this.aheadAfter < 0 || afterId < this.aheadAfter) this.resetAhead(afterId);
    while (this.aheadAt < this.ahead.length && this.ahead[this.aheadAt].item.id <= afterId) {
      this.aheadBytes -= this.ahead[this.aheadAt].bytes;
      this.aheadAt++;
    }
    if (afterId > this.aheadAfter) this.aheadAfter = afterId;
    const out: StoredItem[] = [];
    let i = this.aheadAt;
    for (;;) {
      for (; i < this.ahead.length && out.length < max; i++) {
        const e = this.ahead[i];
        if (this.pendingAcks.size && this.pendingAcks.has(e.item.id)) continue;
        this.peeked.set(e.item.id, e.bytes);
        out.push(e.item);
      }
      if (out.length >= max || this.aheadEnd) break;
      const from = this.ahead.length > this.aheadAt ? this.ahead[this.ahead.length - 1].item.id : this.aheadAfter;
      const chunk = Math.max(READ_AHEAD, max - out.length);
      const rows = this.st.page.all(from, chunk) as RawRow[];
      for (const [id, ts, topic, payload, qos, retain, props, bytes] of rows) {
        const item: StoredItem = { id, topic, payload, qos: qos as QoS, retain: retain === 1, ts };
        if (props !== null) item.properties = JSON.parse(props) as Record<string, unknown>;
        this.ahead.push({ item, bytes });
        this.aheadBytes += bytes;
      }
      if (rows.length < chunk) this.aheadEnd = true;
      if (!rows.length) break;
    }
    this.compactAhead();
    return out;
  }

  private resetAhead(after: number): void {
    this.ahead = [];
    this.aheadAt = 0;
    this.aheadBytes = 0;
    this.aheadAfter = after;
    this.aheadEnd = false;
  }

  /** Forgets passed entries once they are most of the array (O(1) amortised per item). */
  private compactAhead(): void {
    if (this.aheadAt === this.ahead.length) {
      this.ahead = [];
      this.aheadAt = 0;
    } else if (this.aheadAt > 512 && this.aheadAt * 2 > this.ahead.length) {
      this.ahead = this.ahead.slice(this.aheadAt);
      this.aheadAt = 0;
    }
  }

  ack(ids: readonly number[]): void {
    if (this.closed) return;
    for (const id of ids) this.take(id);
    if (this.pendingAcks.size) this.scheduleCommit(this.pending.length ? this.commitDelayMs : this.ackDelayMs);
  }

  ackOne(id: number): void {
    if (this.closed) return;
    this.take(id);
    if (this.pendingAcks.size) this.scheduleCommit(this.pending.length ? this.commitDelayMs : this.ackDelayMs);
  }

  private take(id: number): void {
    if (this.pendingAcks.has(id)) return;
    let b = this.peeked.get(id);
    if (b === undefined) b = (this.st.bytesOf.get(id) as { bytes: number } | undefined)?.bytes;
    if (b === undefined) return; // dropped meanwhile, or never existed
    this.peeked.delete(id);
    this.pendingAcks.add(id);
    this.count--;
    this.total -= b;
    this.c.acked++;
  }

  clear(): number {
    if (this.closed) return 0;
    this.commit();
    const n = this.count;
    const b = this.total;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM items').run();
      this.count = 0;
      this.total = 0;
      this.peeked.clear();
      this.aheadAfter = -1;
      this.c.cleared += n;
      this.c.droppedBytes += b;
      this.saveCounters();
    })();
    if (n) this.options.onDrop?.({ reason: 'clear', count: n, bytes: b });
    return n;
  }

  pruneExpired(): number {
    if (this.closed || this.maxAgeMs <= 0) return 0;
    const cutoff = this.now() - this.maxAgeMs;
    let n = 0;
    this.db.transaction(() => {
      n = this.dropHeadWhile((r) => r.ts < cutoff, 'age');
    })();
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    this.stopTimers();
    this.db.close();
  }

  private scheduleCommit(delay = this.commitDelayMs): void {
    if (this.commitTimer) {
      // An append must not wait behind the longer acknowledgement delay.
      if (delay >= this.commitTimerDelay) return;
      clearTimeout(this.commitTimer);
    }
    this.commitTimerDelay = delay;
    this.commitTimer = setTimeout(() => this.commit(), delay);
  }

  /** One transaction: pending acknowledgements, then pending appends, then the bounds. */
  private commit(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const group = this.pending;
    const acks = this.pendingAcks.size ? [...this.pendingAcks].sort((a, b) => a - b) : [];
    this.pending = [];
    this.pendingCount = 0;
    if (!group.length && !acks.length) return;
    // Only appends need the fsync before they are reported durable; deletions can ride along later.
    const relaxed = this.fullSync && group.length === 0;
    if (relaxed) this.db.pragma('synchronous = NORMAL');
    let firstId = 0;
    try {
      this.db.transaction(() => {
        this.deleteAcked(acks);
        firstId = this.insertGroup(group);
        if (this.total > this.maxBytes) this.dropHeadWhile(() => this.total > this.maxBytes, 'size');
        if (this.maxAgeMs > 0) {
          const cutoff = this.now() - this.maxAgeMs;
          this.dropHeadWhile((r) => r.ts < cutoff, 'age');
        }
        this.saveCounters();
      })();
      this.transactions++;
      for (const id of acks) this.pendingAcks.delete(id);
      // A reader that went back (a dropped connection) may hold rows that are gone now.
      if (acks.length && this.ahead.length > this.aheadAt && acks[acks.length - 1] >= this.ahead[this.aheadAt].item.id) {
        const gone = new Set(acks);
        this.ahead = this.ahead.slice(this.aheadAt).filter((e) => !gone.has(e.item.id));
        this.aheadAt = 0;
        this.aheadBytes = this.ahead.reduce((sum, e) => sum + e.bytes, 0);
      }
      if (group.length) this.keepAhead(group, firstId);
    } catch (err) {
      // Nothing of the group was written (the transaction rolled back): put the counters back and
      // tell every waiting append; the acknowledgements stay pending for the next commit.
      const agg = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM items').get() as { n: number; b: number };
      const pb = acks.reduce((s, id) => s + ((this.st.bytesOf.get(id) as { bytes: number } | undefined)?.bytes ?? 0), 0);
      this.count = agg.n - acks.length;
      this.total = agg.b - pb;
      process.nextTick(settleGroup, group, err instanceof Error ? err : new Error(String(err)));
      return;
    } finally {
      if (relaxed) this.db.pragma('synchronous = FULL');
    }
    // On the next tick, not inside commit: a callback must not run inside add, clear or close.
    if (group.length) process.nextTick(settleGroup, group, undefined);
  }

  /** Deletes acknowledged rows, one statement per run of consecutive ids (`acks` sorted). */
  private deleteAcked(acks: readonly number[]): void {
    for (let i = 0; i < acks.length; ) {
      let j = i;
      while (j + 1 < acks.length && acks[j + 1] === acks[j] + 1) j++;
      if (i === j) this.st.del.run(acks[i]);
      else this.st.delRange.run(acks[i], acks[j]);
      i = j + 1;
    }
  }

  /**
   * Inserts the group in order with multi-row INSERTs; returns the id of its first row. Ids of one
   * transaction on our one connection are consecutive (AUTOINCREMENT: the largest id ever + 1).
   */
  private insertGroup(group: readonly Pending[]): number {
    let n = 0;
    for (const p of group) n += p.items.length;
    let gi = 0;
    let k = 0;
    let first = 0;
    let left = n;
    while (left > 0) {
      const rows = INSERT_ROWS.find((r) => r <= left) as number;
      const params: unknown[] = new Array(rows * 7);
      for (let r = 0, at = 0; r < rows; r++) {
        while (k >= group[gi].items.length) {
          gi++;
          k = 0;
        }
        const p = group[gi];
        const item = p.items[k];
        params[at++] = item.ts;
        params[at++] = item.topic;
        params[at++] = item.payload;
        params[at++] = item.qos;
        params[at++] = item.retain ? 1 : 0;
        params[at++] = p.props[k] ?? null;
        params[at++] = p.sizes[k];
        this.count++;
        this.total += p.sizes[k];
        this.c.appended++;
        k++;
      }
      const last = Number((this.st.insert.get(rows) as Database.Statement).run(params).lastInsertRowid);
      if (!first) first = last - rows + 1;
      left -= rows;
    }
    return first;
  }

  /**
   * A reader at the end of the table gets the group just committed from memory, so a message
   * that arrives while the broker is connected is sent without reading back the row just written.
   */
  private keepAhead(group: readonly Pending[], firstId: number): void {
    let n = 0;
    let bytes = 0;
    for (const p of group) {
      n += p.items.length;
      for (const b of p.sizes) bytes += b;
    }
    if (
      this.aheadAfter < 0 ||
      !this.aheadEnd ||
      this.ahead.length - this.aheadAt + n > AHEAD_MAX ||
      this.aheadBytes + bytes > AHEAD_MAX_BYTES
    ) {
      this.aheadEnd = false; // new rows follow what was read ahead: read them from disk
      return;
    }
    const lastKnown = this.ahead.length > this.aheadAt ? this.ahead[this.ahead.length - 1].item.id : this.aheadAfter;
    if (firstId <= lastKnown) {
      this.aheadEnd = false; // rows dropped or reread meanwhile: let the disk decide
      return;
    }
    let id = firstId;
    for (const p of group) {
      p.items.forEach((item, k) => {
        const stored: StoredItem = { id: id++, topic: item.topic, payload: item.payload, qos: item.qos, retain: item.retain, ts: item.ts };
        // The same fresh copy a read from disk gives: later changes to the caller's object do not leak in.
        const pj = p.props[k];
        if (pj !== undefined) stored.properties = JSON.parse(pj) as Record<string, unknown>;
        this.ahead.push({ item: stored, bytes: p.sizes[k] });
        this.aheadBytes += p.sizes[k];
      });
    }
  }

  /** Deletes from the head while `cond` holds (inside a transaction); counts and reports. */
  private dropHeadWhile(cond: (r: { id: number; ts: number; bytes: number }) => boolean, reason: DropReason): number {
    let n = 0;
    let b = 0;
    let after = 0;
    // Most commits drop nothing: look at the head row first, then read further in growing pages.
    let page = 1;
    outer: for (;;) {
      const rows = this.st.head.all(after, page) as Array<{ id: number; ts: number; bytes: number }>;
      if (!rows.length) break;
      page = Math.min(512, page * 8);
      for (const r of rows) {
        after = r.id;
        if (this.pendingAcks.has(r.id)) continue; // already gone as far as anyone can see
        if (!cond(r)) break outer;
        this.st.del.run(r.id);
        this.peeked.delete(r.id);
        this.count--;
        this.total -= r.bytes;
        n++;
        b += r.bytes;
      }
    }
    if (n) {
      this.aheadAfter = -1; // rows left the head: read again
      if (reason === 'size') this.c.droppedSize += n;
      else if (reason === 'age') this.c.droppedAge += n;
      else this.c.cleared += n;
      this.c.droppedBytes += b;
      this.saveCounters();
      this.options.onDrop?.({ reason, count: n, bytes: b });
    }
    return n;
  }

  private saveCounters(): void {
    const params: Array<string | number> = [];
    for (const [k, v] of Object.entries(this.c)) params.push(k, v);
    this.st.setMeta.run(params);
  }
}
