/**
 * One suite, run against both queue implementations, the way Telegraf tests its buffers: overfill,
 * drop counting, FIFO, wrap, partial acknowledgement; the SQLite queue also across reopen and a
 * SIGKILL mid-write.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import * as ts from 'typescript';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { CHUNK_MAX_BYTES, CHUNK_MAX_ITEMS } from '../../../nodes/publish/queue-chunk';
import {
  AHEAD_MAX,
  AHEAD_MAX_BYTES,
  MemoryQueue,
  OverflowError,
  SqliteQueue,
  queueFile,
  type DropInfo,
  type QueueItem,
  type QueueOptions,
  type StoredItem,
  type StoreAndForwardQueue,
} from '../../../nodes/publish/queue';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-queue-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let fileNo = 0;
function item(n: number, size = 10, ts = 1000): QueueItem {
  const payload = Buffer.alloc(size, 0x20);
  payload.write(String(n));
  return { topic: 't', payload, qos: 1, retain: false, ts };
}
const seqOf = (p: Buffer) => Number(p.toString().trim());
const ITEM_BYTES = 11; // 10-byte payload + 1-byte topic

type Make = (o?: QueueOptions) => StoreAndForwardQueue;
const makers: Array<[string, Make]> = [
  ['MemoryQueue', (o = {}) => new MemoryQueue(o)],
  ['SqliteQueue', (o = {}) => new SqliteQueue({ ...o, file: path.join(tmp, `q${++fileNo}.sqlite`) })],
];

describe.each(makers)('%s', (_name, make) => {
  let q: StoreAndForwardQueue;
  afterEach(async () => {
    await q.close();
  });

  it('keeps FIFO order across appends and peeks', async () => {
    q = make();
    await q.append([item(0), item(1)]);
    await q.append([item(2)]);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([0, 1, 2]);
    expect(q.size).toBe(3);
    expect(q.bytes).toBe(3 * ITEM_BYTES);
  });

  it('returns the next page after a given id and nothing acknowledged', async () => {
    q = make();
    await q.append([0, 1, 2, 3, 4].map((n) => item(n)));
    const first = q.peek(2);
    expect(first.map((i) => seqOf(i.payload))).toEqual([0, 1]);
    expect(q.peek(2, first[1].id).map((i) => seqOf(i.payload))).toEqual([2, 3]);
    q.ack([first[0].id]);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([1, 2, 3, 4]);
  });

  it('acknowledges partially and out of order; unknown ids are ignored', async () => {
    q = make();
    await q.append([0, 1, 2, 3].map((n) => item(n)));
    const all = q.peek(10);
    q.ack([all[2].id, all[0].id, 99999]);
    q.ack([all[0].id]); // twice: counted once
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([1, 3]);
    expect(q.size).toBe(2);
    expect(q.bytes).toBe(2 * ITEM_BYTES);
    expect(q.stats()).toMatchObject({ appended: 4, acked: 2, dropped: 0 });
  });

  it('drops the oldest on overfill and counts every drop', async () => {
    const drops: DropInfo[] = [];
    q = make({ maxBytes: 5 * ITEM_BYTES, onDrop: (d) => drops.push(d) });
    for (let n = 0; n < 8; n++) {
      await q.append([item(n)]);
      q.peek(100); // a reader holding pages must not see dropped items again
    }
    expect(q.peek(100).map((i) => seqOf(i.payload))).toEqual([3, 4, 5, 6, 7]);
    expect(q.size).toBe(5);
    expect(q.dropped).toBe(3);
    expect(q.stats()).toMatchObject({ droppedSize: 3, droppedBytes: 3 * ITEM_BYTES, appended: 8 });
    expect(drops.reduce((s, d) => s + d.count, 0)).toBe(3);
    expect(drops.every((d) => d.reason === 'size')).toBe(true);
  });

  it('drops older items when one append overfills at once, keeping the newest', async () => {
    q = make({ maxBytes: 4 * ITEM_BYTES });
    await q.append([0, 1, 2, 3, 4, 5, 6].map((n) => item(n)));
    expect(q.peek(100).map((i) => seqOf(i.payload))).toEqual([3, 4, 5, 6]);
    expect(q.dropped).toBe(3);
  });

  it('refuses an item larger than the whole buffer and writes nothing of that append', async () => {
    q = make({ maxBytes: 100 });
    await q.append([item(0)]);
    await expect(q.append([item(1), item(2, 500)])).rejects.toBeInstanceOf(OverflowError);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([0]);
    expect(q.dropped).toBe(0);
  });

  it('wraps: many cycles of append and ack keep order and counters exact', async () => {
    q = make({ maxBytes: 50 * ITEM_BYTES });
    let next = 0;
    let last = -1;
    let seen = 0;
    for (let round = 0; round < 60; round++) {
      await q.append(Array.from({ length: 40 }, () => item(next++)));
      const got = q.peek(35);
      for (const g of got) {
        // FIFO: strictly increasing; a jump is exactly the oldest items dropped on overfill.
        expect(seqOf(g.payload)).toBeGreaterThan(last);
        last = seqOf(g.payload);
        seen++;
      }
      q.ack(got.map((g) => g.id));
      expect(seen + q.dropped).toBe(last + 1);
    }
    // 60 rounds x 40 in, 35 out: the queue holds what is left, bounded by maxBytes, nothing lost silently.
    const st = q.stats();
    expect(st.appended).toBe(2400);
    expect(st.acked + st.dropped + st.size).toBe(2400);
    expect(st.size * ITEM_BYTES).toBe(st.bytes);
    expect(st.bytes).toBeLessThanOrEqual(50 * ITEM_BYTES);
  });

  it('pages through a long queue while acknowledging and appending, and from the start again after a reset', async () => {
    q = make();
    await q.append(Array.from({ length: 700 }, (_, n) => item(n)));
    const seen: number[] = [];
    let after = 0;
    let next = 700;
    for (let round = 0; round < 200; round++) {
      const page = q.peek(7, after);
      if (!page.length) break;
      for (const i of page) seen.push(seqOf(i.payload));
      after = page[page.length - 1].id;
      q.ack(page.filter((i) => seqOf(i.payload) % 3 === 0).map((i) => i.id)); // some acknowledged
      if (round % 10 === 0) await q.append([item(next++)]); // new ones arrive behind
      await sleepMs(round % 25 === 0 ? 5 : 0);
    }
    expect(seen).toEqual(Array.from({ length: next }, (_, n) => n));
    // A reader that lost its window (a dropped connection) starts from the oldest unacknowledged.
    const again: number[] = [];
    after = 0;
    for (;;) {
      const page = q.peek(50, after);
      if (!page.length) break;
      for (const i of page) again.push(seqOf(i.payload));
      after = page[page.length - 1].id;
    }
    expect(again).toEqual(seen.filter((n) => n % 3 !== 0));
    expect(q.size).toBe(again.length);
  });

  it('drops items older than maxAge, oldest first, and counts them', async () => {
    let now = 10_000;
    q = make({ maxAgeMs: 1000, now: () => now });
    await q.append([item(0, 10, 9_000), item(1, 10, 9_500)]);
    now = 10_200;
    expect(q.pruneExpired()).toBe(1);
    now = 12_000;
    await q.append([item(2, 10, 11_900)]);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([2]);
    expect(q.stats()).toMatchObject({ droppedAge: 2, dropped: 2, size: 1 });
  });

  it('drops by age from the head only: an item young enough stops it, even with older ones behind', async () => {
    let now = 9_000;
    q = make({ maxAgeMs: 1000, now: () => now });
    await q.append([item(0, 10, 8_000)]);
    await q.append([item(1, 10, 9_800)]);
    await q.append([item(2, 10, 8_500)]); // stamped earlier than the one before it
    now = 10_300;
    expect(q.pruneExpired()).toBe(1);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([1, 2]);
  });

  it('clears everything and counts it', async () => {
    q = make();
    await q.append([item(0), item(1)]);
    expect(q.clear()).toBe(2);
    expect(q.peek(10)).toEqual([]);
    expect(q.stats()).toMatchObject({ size: 0, bytes: 0, cleared: 2, dropped: 2 });
    await q.append([item(2)]);
    expect(q.peek(10).map((i) => seqOf(i.payload))).toEqual([2]);
  });

  it('keeps ids increasing after running empty, so a reader never skips', async () => {
    q = make();
    await q.append([item(0)]);
    const [a] = q.peek(1);
    q.ack([a.id]);
    await sleepMs(10);
    await q.append([item(1)]);
    const got = q.peek(10, a.id);
    expect(got.map((i) => seqOf(i.payload))).toEqual([1]);
  });

  it('stores topic, qos, retain, properties and ts as given', async () => {
    q = make();
    const props = { userProperties: { line: '1' }, contentType: 'application/json', messageExpiryInterval: 60 };
    await q.append([{ topic: 'a/b', payload: Buffer.from([0, 255, 1]), qos: 2, retain: true, ts: 42, properties: props }]);
    const [got] = q.peek(1);
    expect(got).toMatchObject({ topic: 'a/b', qos: 2, retain: true, ts: 42, properties: props });
    expect([...got.payload]).toEqual([0, 255, 1]);
  });

  it.each([
    [{ topic: 1, payload: Buffer.alloc(1), qos: 1, retain: false, ts: 1 }],
    [{ topic: 't', payload: 'text', qos: 1, retain: false, ts: 1 }],
    [{ topic: 't', payload: Buffer.alloc(1), qos: 3, retain: false, ts: 1 }],
    [{ topic: 't', payload: Buffer.alloc(1), qos: 1, retain: false, ts: NaN }],
  ])('rejects a malformed item %#', async (bad) => {
    q = make();
    await expect(q.append([bad as unknown as QueueItem])).rejects.toThrow(/topic|payload|qos|ts/);
    expect(q.size).toBe(0);
  });

  it('rejects appends after close', async () => {
    q = make();
    await q.close();
    await expect(q.append([item(0)])).rejects.toThrow(/closed/);
  });
});

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Chunk rows in a queue file (read by a second connection). */
function rowsIn(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('SqliteQueue on disk', () => {
  it('keeps unacknowledged items and counters across close and reopen', async () => {
    const file = path.join(tmp, 'reopen.sqlite');
    const a = new SqliteQueue({ file, maxBytes: 3 * ITEM_BYTES });
    await a.append([0, 1, 2, 3].map((n) => item(n)));
    const [first] = a.peek(1);
    a.ack([first.id]);
    await a.close();
    const b = new SqliteQueue({ file, maxBytes: 3 * ITEM_BYTES });
    expect(b.peek(10).map((i) => seqOf(i.payload))).toEqual([2, 3]);
    expect(b.stats()).toMatchObject({ size: 2, bytes: 2 * ITEM_BYTES, appended: 4, acked: 1, droppedSize: 1 });
    await b.close();
  });

  it('group-commits appends made in the same tick into one transaction', async () => {
    const file = path.join(tmp, 'group.sqlite');
    const q = new SqliteQueue({ file, commitDelayMs: 5 });
    const resolved: number[] = [];
    const done = Promise.all(Array.from({ length: 200 }, (_, n) => q.append([item(n)]).then(() => resolved.push(n))));
    expect(q.size).toBe(0); // nothing committed before the group timer
    await done;
    expect(q.size).toBe(200);
    expect(resolved).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(q.commits).toBe(1);
    expect(q.peek(300).map((i) => seqOf(i.payload))).toEqual(Array.from({ length: 200 }, (_, n) => n));
    await q.close();
  });

  it('commits an append to an idle queue on the next turn, and then at most once per commitDelayMs', async () => {
    const q = new SqliteQueue({ file: path.join(tmp, 'pace.sqlite'), commitDelayMs: 300 });
    const first = q.append([item(0)]);
    await new Promise((r) => setImmediate(r));
    expect(q.commits).toBe(1); // no waiting for the delay when nothing was committed lately
    await first;
    // A trickle, one append per turn: they wait for the interval and share one transaction.
    const later: Array<Promise<void>> = [];
    for (let n = 1; n <= 20; n++) {
      later.push(q.append([item(n)]));
      await new Promise((r) => setImmediate(r));
    }
    expect(q.commits).toBe(1);
    await Promise.all(later);
    expect(q.commits).toBe(2);
    expect(q.peek(100).map((i) => seqOf(i.payload))).toEqual(Array.from({ length: 21 }, (_, n) => n));
    await q.close();
  });

  it('writes groups of any size (multi-row INSERTs) with consecutive ids, the same after reopening', async () => {
    const file = path.join(tmp, 'multirow.sqlite');
    const q = new SqliteQueue({ file, commitDelayMs: 5 });
    // Sizes that cross the statement sizes (64, 8, 1) and land in one transaction.
    let n = 0;
    const sizes = [1, 150, 73, 9, 64];
    await Promise.all(sizes.map((size) => q.append(Array.from({ length: size }, () => item(n++)))));
    expect(q.commits).toBe(1);
    const got = q.peek(1000);
    expect(got.map((i) => seqOf(i.payload))).toEqual(Array.from({ length: n }, (_, k) => k));
    expect(got.every((g, k) => k === 0 || g.id === got[k - 1].id + 1)).toBe(true);
    await q.close();
    const again = new SqliteQueue({ file });
    const disk = again.peek(1000);
    expect(disk.map((i) => [i.id, seqOf(i.payload), i.topic, i.qos, i.retain, i.ts])).toEqual(
      got.map((i) => [i.id, seqOf(i.payload), i.topic, i.qos, i.retain, i.ts]),
    );
    expect(again.stats()).toMatchObject({ size: n, bytes: n * ITEM_BYTES, appended: n });
    await again.close();
  });

  it('deletes acknowledged runs and single ids, out of order, leaving exactly the rest on disk', async () => {
    const file = path.join(tmp, 'ackruns.sqlite');
    const q = new SqliteQueue({ file, ackDelayMs: 1 });
    await q.append(Array.from({ length: 30 }, (_, n) => item(n)));
    const all = q.peek(30);
    const acked = [25, 3, 4, 12, 5, 6, 7, 8, 9, 10, 14, 20, 21, 22, 23, 24, 29];
    q.ack(acked.map((k) => all[k].id));
    await sleepMs(20); // the deletions are committed on their own
    const rest = Array.from({ length: 30 }, (_, k) => k).filter((k) => !acked.includes(k));
    expect(q.peek(100).map((i) => seqOf(i.payload))).toEqual(rest);
    await q.close();
    const again = new SqliteQueue({ file });
    expect(again.peek(100).map((i) => seqOf(i.payload))).toEqual(rest);
    expect(again.stats()).toMatchObject({ size: rest.length, bytes: rest.length * ITEM_BYTES, acked: acked.length });
    await again.close();
  });

  it('keeps what is appended to an empty file before the first peek in memory for the reader, in order', async () => {
    const q = new SqliteQueue({ file: path.join(tmp, 'fresh.sqlite') });
    await q.append(Array.from({ length: 300 }, (_, k) => item(k)));
    // No peek yet: the reader will start at the beginning of an empty table, so these are ahead of it.
    expect(q.aheadInMemory).toBe(300);
    expect(q.peek(1000).map((i) => seqOf(i.payload))).toEqual(Array.from({ length: 300 }, (_, k) => k));
    await q.close();
    // Reopened with a backlog: read from disk, the same items in the same order.
    const again = new SqliteQueue({ file: path.join(tmp, 'fresh.sqlite') });
    expect(again.aheadInMemory).toBe(0);
    expect(again.peek(1000).map((i) => seqOf(i.payload))).toEqual(Array.from({ length: 300 }, (_, k) => k));
    await again.close();
  });

  it('hands a caught-up reader new items from memory, but never holds the backlog in memory', async () => {
    const file = path.join(tmp, 'ahead.sqlite');
    const q = new SqliteQueue({ file });
    expect(q.peek(10)).toEqual([]); // the reader is at the end of the (empty) table
    let n = 0;
    // More than the memory bound arrives in groups while the reader stays where it is.
    const group = 5000;
    for (let g = 0; g < Math.ceil((AHEAD_MAX * 1.2) / group); g++) await q.append(Array.from({ length: group }, () => item(n++)));
    expect(q.aheadInMemory).toBeLessThanOrEqual(AHEAD_MAX);
    expect(q.aheadInMemory).toBeGreaterThan(0);
    // Large payloads: bounded by bytes as well.
    for (let g = 0; g < 3; g++) await q.append(Array.from({ length: Math.ceil(AHEAD_MAX_BYTES / 100_000 / 2) }, () => item(n++, 100_000)));
    expect(q.size).toBe(n);
    // Reading all of it gives every item once, in order, whether it came from memory or disk.
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = q.peek(500, after);
      if (!page.length) break;
      for (const i of page) seen.push(seqOf(i.payload));
      after = page[page.length - 1].id;
      q.ack(page.map((i) => i.id));
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, k) => k));
    // Once caught up, large items stay within the byte bound.
    const big = Math.ceil((AHEAD_MAX_BYTES / 100_000) * 1.5);
    await q.append(Array.from({ length: big }, () => item(n++, 100_000)));
    expect(q.aheadInMemory * 100_001).toBeLessThanOrEqual(AHEAD_MAX_BYTES);
    // Read back from disk they are bounded by bytes too: a page holds at most AHEAD_MAX_BYTES and
    // one chunk (of at most CHUNK_MAX_BYTES) past it, fewer than asked for; paging gets them all.
    const tail: number[] = [];
    for (;;) {
      const page = q.peek(1000, after);
      if (!page.length) break;
      expect(page.length * 100_001).toBeLessThanOrEqual(AHEAD_MAX_BYTES + CHUNK_MAX_BYTES);
      for (const i of page) tail.push(seqOf(i.payload));
      after = page[page.length - 1].id;
    }
    expect(tail).toEqual(Array.from({ length: big }, (_, k) => n - big + k));
    await q.close();
  });

  it('gives a reader that went back only what is still unacknowledged, after the deletions are committed', async () => {
    const q = new SqliteQueue({ file: path.join(tmp, 'reread.sqlite'), ackDelayMs: 1 });
    await q.append(Array.from({ length: 20 }, (_, n) => item(n)));
    const first = q.peek(20);
    q.ack(first.slice(0, 5).map((i) => i.id));
    expect(q.peek(3).map((i) => seqOf(i.payload))).toEqual([5, 6, 7]); // from the start again
    q.ack(first.slice(5, 8).map((i) => i.id));
    await sleepMs(20);
    expect(q.peek(3).map((i) => seqOf(i.payload))).toEqual([8, 9, 10]);
    await q.append([item(20)]);
    expect(q.peek(100, first[19].id).map((i) => seqOf(i.payload))).toEqual([20]);
    await q.close();
  });

  it('splits a large group into chunks and keeps their acknowledged items gone across reopen, deleting a chunk once all are', async () => {
    const file = path.join(tmp, 'chunks.sqlite');
    const q = new SqliteQueue({ file, ackDelayMs: 1 });
    const n = 2 * CHUNK_MAX_ITEMS + 500;
    await q.append(Array.from({ length: n }, (_, k) => item(k)));
    expect(rowsIn(file)).toBe(3); // 1,000 + 1,000 + 500 items, one row each
    const all = q.peek(n);
    // The whole first chunk, and every other item of the second.
    const acked = all.filter((_, k) => k < CHUNK_MAX_ITEMS || (k < 2 * CHUNK_MAX_ITEMS && k % 2 === 0));
    q.ack(acked.map((i) => i.id));
    await sleepMs(20);
    await q.close();
    expect(rowsIn(file)).toBe(2);
    const again = new SqliteQueue({ file });
    const left = Array.from({ length: n }, (_, k) => k).filter((k) => k >= 2 * CHUNK_MAX_ITEMS || (k >= CHUNK_MAX_ITEMS && k % 2 === 1));
    const got = again.peek(n);
    expect(got.map((i) => seqOf(i.payload))).toEqual(left);
    expect(again.stats()).toMatchObject({ size: left.length, bytes: left.length * ITEM_BYTES, acked: acked.length, appended: n });
    // The same ids as before: a reader's position means the same item after a restart.
    expect(got.map((i) => i.id)).toEqual(all.filter((i) => left.includes(seqOf(i.payload))).map((i) => i.id));
    await again.close();
  });

  it('drops by size whole chunks without reading them, and part of the next one, the same after reopen', async () => {
    const file = path.join(tmp, 'dropchunks.sqlite');
    const drops: DropInfo[] = [];
    const q = new SqliteQueue({ file, maxBytes: 300 * ITEM_BYTES, onDrop: (d) => drops.push(d) });
    for (let g = 0; g < 3; g++) await q.append(Array.from({ length: 100 }, (_, k) => item(g * 100 + k)));
    // 300 items in three chunks fill the bound; 150 more overfill it by 150: the first chunk goes whole, half the second.
    q.peek(1000);
    await q.append(Array.from({ length: 150 }, (_, k) => item(300 + k)));
    const kept = Array.from({ length: 300 }, (_, k) => 150 + k);
    expect(q.peek(1000).map((i) => seqOf(i.payload))).toEqual(kept);
    expect(q.stats()).toMatchObject({ size: 300, bytes: 300 * ITEM_BYTES, droppedSize: 150, droppedBytes: 150 * ITEM_BYTES, appended: 450 });
    expect(drops).toEqual([{ reason: 'size', count: 150, bytes: 150 * ITEM_BYTES }]);
    await q.close();
    expect(rowsIn(file)).toBe(3);
    const again = new SqliteQueue({ file, maxBytes: 300 * ITEM_BYTES });
    expect(again.peek(1000).map((i) => seqOf(i.payload))).toEqual(kept);
    expect(again.stats()).toMatchObject({ size: 300, droppedSize: 150 });
    await again.close();
  });

  it('drops by age whole chunks whose newest item is too old, and only the old head of a mixed one', async () => {
    let now = 100_000;
    const file = path.join(tmp, 'agechunks.sqlite');
    const q = new SqliteQueue({ file, maxAgeMs: 10_000, now: () => now });
    await q.append(Array.from({ length: 50 }, (_, k) => item(k, 10, 91_000 + k))); // 91.0 .. 91.049 s
    await q.append(Array.from({ length: 50 }, (_, k) => item(50 + k, 10, 95_000 + k * 100))); // 95 .. 99.9 s
    now = 107_000; // cutoff 97 s: all of the first chunk, 20 of the second
    expect(q.pruneExpired()).toBe(70);
    expect(q.peek(1000).map((i) => seqOf(i.payload))).toEqual(Array.from({ length: 30 }, (_, k) => 70 + k));
    expect(q.stats()).toMatchObject({ size: 30, droppedAge: 70 });
    expect(rowsIn(file)).toBe(1);
    await q.close();
  });

  it('opens a file written one row per item by an earlier version: same items, in order, ids after the old ones', async () => {
    const file = path.join(tmp, 'v1.sqlite');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(`
      CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
        qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT, bytes INTEGER NOT NULL);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
    const ins = old.prepare('INSERT INTO items (ts, topic, payload, qos, retain, props, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const props = JSON.stringify({ contentType: 'text/plain' });
    for (let k = 0; k < 1500; k++) {
      const payload = Buffer.from(`v${k}`);
      const topic = k % 2 ? 'plant/ä' : 't';
      ins.run(1000 + k, topic, payload, k % 3, k % 2, k === 7 ? props : null, payload.length + Buffer.byteLength(topic) + (k === 7 ? props.length : 0));
    }
    old.prepare('DELETE FROM items WHERE id IN (1, 2, 1500)').run(); // acknowledged ones, the last one too
    old.prepare("INSERT INTO meta (key, value) VALUES ('appended', 1500), ('acked', 3)").run();
    old.close();
    const q = new SqliteQueue({ file });
    const got: StoredItem[] = [];
    for (let after = 0; ; ) {
      const page = q.peek(400, after);
      if (!page.length) break;
      got.push(...page);
      after = page[page.length - 1].id;
    }
    const ks = Array.from({ length: 1500 }, (_, k) => k).filter((k) => k !== 0 && k !== 1 && k !== 1499);
    expect(got.map((i) => i.payload.toString())).toEqual(ks.map((k) => `v${k}`));
    expect(got.map((i) => [i.topic, i.qos, i.retain, i.ts])).toEqual(ks.map((k) => [k % 2 ? 'plant/ä' : 't', k % 3, k % 2 === 1, 1000 + k]));
    expect(got.find((i) => i.payload.toString() === 'v7')?.properties).toEqual({ contentType: 'text/plain' });
    expect(got[0].id).toBeGreaterThan(1500); // after every id the old table gave, the deleted last one too
    expect(got.every((g, k) => k === 0 || g.id > got[k - 1].id)).toBe(true);
    expect(q.stats()).toMatchObject({ size: ks.length, appended: 1500, acked: 3 });
    await q.append([item(9)]);
    await q.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'items'").get()).toEqual({ n: 0 });
    db.close();
    const again = new SqliteQueue({ file });
    expect(again.size).toBe(ks.length + 1);
    await again.close();
  });

  it('SqliteQueue and MemoryQueue agree on every random history of appends, acknowledgements, bounds and reopens', async () => {
    let run = 0;
    type Op = { kind: 'append'; sizes: number[] } | { kind: 'ack'; pick: number[] } | { kind: 'reopen' } | { kind: 'reread' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), sizes: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('ack' as const), pick: fc.array(fc.nat(200), { maxLength: 30 }) }),
      fc.record({ kind: fc.constant('reopen' as const) }),
      fc.record({ kind: fc.constant('reread' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.integer({ min: 200, max: 3000 }), async (ops, maxBytes) => {
        const file = path.join(tmp, `model${++run}.sqlite`);
        const open = () => new SqliteQueue({ file, maxBytes, ackDelayMs: 1, commitDelayMs: 1 });
        let disk = open();
        const model = new MemoryQueue({ maxBytes });
        let seq = 0;
        // Readers: ids handed out, in order; the same position in both queues means the same item.
        let diskSeen: StoredItem[] = [];
        let memSeen: StoredItem[] = [];
        const read = () => {
          diskSeen = disk.peek(10_000);
          memSeen = model.peek(10_000);
        };
        try {
          for (const o of ops) {
            if (o.kind === 'append') {
              const items = o.sizes.map((size) => ({ ...item(seq++, Math.max(size, 4)), topic: `t/${seq % 3}` }));
              await Promise.all([disk.append(items), model.append(items)]);
              read();
            } else if (o.kind === 'ack') {
              read();
              const picks = o.pick.filter((k) => k < diskSeen.length);
              disk.ack(picks.map((k) => diskSeen[k].id));
              model.ack(picks.map((k) => memSeen[k].id));
            } else if (o.kind === 'reopen') {
              await sleepMs(3); // acknowledgements not yet committed may come back: at least once
              await disk.close();
              disk = open();
            } else {
              read();
            }
            read();
            expect(diskSeen.map((i) => i.payload.toString())).toEqual(memSeen.map((i) => i.payload.toString()));
            expect(diskSeen.map((i) => i.topic)).toEqual(memSeen.map((i) => i.topic));
            expect([disk.size, disk.bytes, disk.dropped]).toEqual([model.size, model.bytes, model.dropped]);
          }
        } finally {
          await disk.close();
          await model.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('makes the folder under the user directory', () => {
    const f = queueFile(path.join(tmp, 'user'), 'node:1/x');
    expect(path.dirname(f)).toBe(path.join(tmp, 'user', 'plantwire'));
    expect(fs.existsSync(path.dirname(f))).toBe(true);
    expect(path.basename(f)).toBe('node_1_x.sqlite');
  });

  // 'normal' is what plantwire-mqtt-publish uses: no fsync, still nothing lost when the process dies.
  it.each(['full', 'normal'])('loses no resolved append when the writing process is SIGKILLed mid-write (synchronous %s)', async (sync) => {
    const dir = path.join(tmp, `crash-${sync}`);
    const lib = compileQueueForChild(dir);
    const file = path.join(dir, 'crash.sqlite');
    const childSrc = `
      const { SqliteQueue } = require(${JSON.stringify(lib)});
      const q = new SqliteQueue({ file: ${JSON.stringify(file)}, commitDelayMs: 1, synchronous: ${JSON.stringify(sync)} });
      let n = 0;
      function burst() {
        const batch = [];
        for (let i = 0; i < 50; i++) { const p = Buffer.alloc(64, 32); p.write(String(n)); batch.push({ topic: 't', payload: p, qos: 1, retain: false, ts: Date.now() }); n++; }
        const last = n - 1;
        q.append(batch).then(() => process.stdout.write(last + '\\n'));
        setImmediate(burst);
      }
      burst();`;
    const child = spawn(process.execPath, ['-e', childSrc], {
      env: { ...process.env, NODE_PATH: path.resolve(__dirname, '../../../node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let lastDurable = -1;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const lines = out.split('\n').filter(Boolean);
        lastDurable = Number(lines[lines.length - 1]);
        if (lastDurable >= 5000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
    }).catch((e) => {
      if (lastDurable < 5000) throw e;
    });
    await new Promise((r) => child.once('close', r));
    const q = new SqliteQueue({ file });
    const seqs: number[] = [];
    let after = 0;
    for (;;) {
      const page = q.peek(5000, after);
      if (!page.length) break;
      for (const i of page) seqs.push(seqOf(i.payload));
      after = page[page.length - 1].id;
    }
    await q.close();
    // Every append the child saw resolve is there; what is there is a gap-free prefix, in order.
    expect(seqs.length).toBeGreaterThan(lastDurable);
    expect(seqs.every((s, i) => s === i)).toBe(true);
  });
});

/** Transpiles queue.ts and its local imports for a plain `node` child process. */
function compileQueueForChild(dir: string): string {
  const root = path.resolve(__dirname, '../../../nodes');
  for (const rel of ['publish/queue.ts', 'publish/queue-chunk.ts', 'shared/errors.ts']) {
    const src = fs.readFileSync(path.join(root, rel), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const dest = path.join(dir, 'lib', rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
  return path.join(dir, 'lib', 'publish', 'queue.js');
}
