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
 *   const more = q.peek(100, batch[batch.length - 1].id); // the next ones after the last id seen
 *   q.ack([batch[0].id]);                   // the broker acknowledged it: it leaves the queue
 *   q.size; q.bytes; q.dropped; q.stats();  // counters; every drop is counted, never silent
 *   q.clear();                              // drop everything (counted as `cleared`)
 *   await q.close();                        // commits what is pending, then closes the file
 *
 * - `append` resolves when the items are durable: for SqliteQueue that is a committed WAL
 *   transaction with `synchronous=FULL`; appends arriving within `commitDelayMs` share one
 *   transaction (group commit), so a burst of 1,000 messages costs one fsync, not 1,000.
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
  /** Up to `max` oldest items with id greater than `afterId`, in FIFO order. */
  peek(max: number, afterId?: number): StoredItem[];
  /** Removes items the broker acknowledged. */
  ack(ids: readonly number[]): void;
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
  /** Acknowledgements alone are written within this many ms (50). */
  ackDelayMs?: number;
}

export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
/** Rows SqliteQueue reads at once for peek. */
const READ_AHEAD = 256;

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

  append(items: readonly QueueItem[]): Promise<void> {
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
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
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
    for (const id of ids) {
      const at = this.index.get(id);
      if (at === undefined) continue;
      const e = this.entries[at] as MemEntry;
      this.remove(at, e);
      this.c.acked++;
    }
    this.compact();
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
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Row {
  id: number;
  ts: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  props: string | null;
  bytes: number;
}

/** Durable queue in one SQLite file (WAL, synchronous=FULL, group commit). */
export class SqliteQueue extends BaseQueue implements StoreAndForwardQueue {
  private readonly db: Database.Database;
  private readonly commitDelayMs: number;
  private readonly ackDelayMs: number;
  private readonly maxGroup: number;
  private pending: Pending[] = [];
  private pendingCount = 0;
  private readonly pendingAcks = new Set<number>();
  /** Sizes of items handed out by peek, so that ack needs no read. */
  private readonly peeked = new Map<number, number>();
  private commitTimer: NodeJS.Timeout | undefined;
  private commitTimerDelay = 0;
  /** Rows read ahead of the reader: the ids after `aheadAfter`, in order, as they were on disk. */
  private ahead: Array<{ item: StoredItem; bytes: number }> = [];
  private aheadAfter = -1;
  /** The last read reached the end of the table (until the next insert). */
  private aheadEnd = false;
  private transactions = 0;
  private readonly st: {
    insert: Database.Statement;
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
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    try {
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit is fsynced before append resolves, so "done" survives power loss too.
      this.db.pragma('synchronous = FULL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS items (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          ts INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
          qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT, bytes INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
      this.st = {
        insert: this.db.prepare(
          'INSERT INTO items (ts, topic, payload, qos, retain, props, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ),
        del: this.db.prepare('DELETE FROM items WHERE id = ? RETURNING bytes'),
        head: this.db.prepare('SELECT id, ts, bytes FROM items WHERE id > ? ORDER BY id LIMIT ?'),
        page: this.db.prepare('SELECT * FROM items WHERE id > ? ORDER BY id LIMIT ?'),
        bytesOf: this.db.prepare('SELECT bytes FROM items WHERE id = ?'),
        setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      };
      const agg = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM items').get() as {
        n: number;
        b: number;
      };
      this.count = agg.n;
      this.total = agg.b;
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

  append(items: readonly QueueItem[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) throw new Error('queue is closed');
      items.forEach(checkItem);
      const props = items.map((i) => (i.properties ? JSON.stringify(i.properties) : undefined));
      const sizes = items.map((i, k) => itemBytes(i, props[k]));
      this.refuseOversized(items, sizes);
      this.pending.push({ items, props, sizes, resolve, reject });
      this.pendingCount += items.length;
      if (this.pendingCount >= this.maxGroup) this.commit();
      else this.scheduleCommit();
    });
  }

  peek(max: number, afterId = 0): StoredItem[] {
    if (this.closed || max <= 0) return [];
    // Rows are read ahead of the reader, READ_AHEAD at a time: a draining forwarder asks for one
    // or two items after every PUBACK, and a query for each would cost more than the send.
    if (this.aheadAfter < 0 || afterId < this.aheadAfter) this.resetAhead(afterId);
    let passed = 0;
    while (passed < this.ahead.length && this.ahead[passed].item.id <= afterId) passed++;
    if (passed) this.ahead.splice(0, passed);
    if (afterId > this.aheadAfter) this.aheadAfter = afterId;
    const out: StoredItem[] = [];
    let i = 0;
    for (;;) {
      for (; i < this.ahead.length && out.length < max; i++) {
        const e = this.ahead[i];
        if (this.pendingAcks.has(e.item.id)) continue;
        this.peeked.set(e.item.id, e.bytes);
        out.push(e.item);
      }
      if (out.length >= max || this.aheadEnd) break;
      const from = this.ahead.length ? this.ahead[this.ahead.length - 1].item.id : this.aheadAfter;
      const chunk = Math.max(READ_AHEAD, max - out.length);
      const rows = this.st.page.all(from, chunk) as Row[];
      for (const r of rows) {
        const item: StoredItem = { id: r.id, topic: r.topic, payload: r.payload, qos: r.qos as QoS, retain: r.retain === 1, ts: r.ts };
        if (r.props !== null) item.properties = JSON.parse(r.props) as Record<string, unknown>;
        this.ahead.push({ item, bytes: r.bytes });
      }
      if (rows.length < chunk) this.aheadEnd = true;
      if (!rows.length) break;
    }
    return out;
  }

  private resetAhead(after: number): void {
    this.ahead = [];
    this.aheadAfter = after;
    this.aheadEnd = false;
  }

  ack(ids: readonly number[]): void {
    if (this.closed) return;
    for (const id of ids) {
      if (this.pendingAcks.has(id)) continue;
      let b = this.peeked.get(id);
      if (b === undefined) b = (this.st.bytesOf.get(id) as { bytes: number } | undefined)?.bytes;
      if (b === undefined) continue; // dropped meanwhile, or never existed
      this.peeked.delete(id);
      this.pendingAcks.add(id);
      this.count--;
      this.total -= b;
      this.c.acked++;
    }
    if (this.pendingAcks.size) this.scheduleCommit(this.pending.length ? this.commitDelayMs : this.ackDelayMs);
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
    const acks = [...this.pendingAcks];
    this.pending = [];
    this.pendingCount = 0;
    if (!group.length && !acks.length) return;
    // Only appends need the fsync before they are reported durable; deletions can ride along later.
    const relaxed = group.length === 0;
    if (relaxed) this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(() => {
        for (const id of acks) this.st.del.run(id);
        for (const p of group) {
          p.items.forEach((item, k) => {
            this.st.insert.run(item.ts, item.topic, item.payload, item.qos, item.retain ? 1 : 0, p.props[k] ?? null, p.sizes[k]);
            this.count++;
            this.total += p.sizes[k];
            this.c.appended++;
          });
        }
        if (this.total > this.maxBytes) this.dropHeadWhile(() => this.total > this.maxBytes, 'size');
        if (this.maxAgeMs > 0) {
          const cutoff = this.now() - this.maxAgeMs;
          this.dropHeadWhile((r) => r.ts < cutoff, 'age');
        }
        this.saveCounters();
      })();
      this.transactions++;
      for (const id of acks) this.pendingAcks.delete(id);
      if (acks.length) {
        const gone = new Set(acks);
        this.ahead = this.ahead.filter((e) => !gone.has(e.item.id));
      }
      if (group.length) this.aheadEnd = false; // new rows follow what was read ahead
    } catch (err) {
      // Nothing of the group was written (the transaction rolled back): put the counters back and
      // tell every waiting append; the acknowledgements stay pending for the next commit.
      const agg = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM items').get() as { n: number; b: number };
      const pb = acks.reduce((s, id) => s + ((this.st.bytesOf.get(id) as { bytes: number } | undefined)?.bytes ?? 0), 0);
      this.count = agg.n - acks.length;
      this.total = agg.b - pb;
      for (const p of group) p.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    } finally {
      if (relaxed) this.db.pragma('synchronous = FULL');
    }
    for (const p of group) p.resolve();
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
    for (const [k, v] of Object.entries(this.c)) this.st.setMeta.run(k, v);
  }
}
