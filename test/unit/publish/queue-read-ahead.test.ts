/**
 * What SqliteQueue holds in memory ahead of its reader while a backlog on disk is replayed: bounded
 * by count for a reader that acknowledges from the head (the Sparkplug history replay, with or
 * without `afterId`), and by bytes for large payloads, whatever the caller asks for. Every item
 * still comes out exactly once, in order.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { heldArrayBytes } from '../../helpers/memory';
import { CHUNK_MAX_ITEMS } from '../../../nodes/publish/queue-chunk';
import { AHEAD_MAX_BYTES, MemoryQueue, SqliteQueue, type QueueItem } from '../../../nodes/publish/queue';
import { QueueHistoryBuffer } from '../../../nodes/publish/sparkplug-buffer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-read-ahead-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let fileNo = 0;
const newFile = () => path.join(tmp, `q${++fileNo}.sqlite`);
const open = (file: string) => new SqliteQueue({ file, synchronous: 'normal', maxBytes: 200 * 1024 * 1024 });

/** Items read ahead of a reader that has passed what it acknowledged: a few chunks, not the backlog. */
const FEW_CHUNKS = 5 * CHUNK_MAX_ITEMS;

describe('SqliteQueue read-ahead while a backlog is replayed', () => {
  it('replays a disk backlog through the Sparkplug history buffer exactly once, in order, without keeping what it read in memory', async () => {
    const file = newFile();
    const n = 30_000;
    let q = open(file);
    let buffer = new QueueHistoryBuffer(q);
    const appends: Array<Promise<void>> = [];
    for (let k = 0; k < n; k++) appends.push(buffer.append({ device: 'D', metrics: [{ name: 'v', value: k, quality: 'good', ts: k }] }));
    await Promise.all(appends);
    // A restart: the backlog is on disk, none of it in memory.
    await q.close();
    q = open(file);
    buffer = new QueueHistoryBuffer(q);
    expect(q.aheadInMemory).toBe(0);
    // What EdgeNodeSession.replay does: peek(50), send, drop what was sent. Now and then the
    // connection goes mid-batch and only part of it is dropped: the rest must come again, once.
    const replayed: unknown[] = [];
    let most = 0;
    for (let round = 0; buffer.size() > 0; round++) {
      const batch = await buffer.peek(50);
      expect(batch.length).toBeGreaterThan(0);
      const sent = round % 7 === 3 ? Math.ceil(batch.length / 2) : batch.length;
      for (const record of batch.slice(0, sent)) replayed.push(record.metrics[0].value);
      await buffer.drop(sent);
      most = Math.max(most, q.aheadInMemory);
    }
    expect(replayed).toEqual(Array.from({ length: n }, (_, k) => k));
    expect(buffer.skipped).toBe(0);
    expect(most).toBeLessThanOrEqual(FEW_CHUNKS);
    // Nothing comes again, and what was read is let go once the reader has looked past it.
    expect(await buffer.peek(50)).toEqual([]);
    expect(q.aheadInMemory).toBe(0);
    expect(q.stats()).toMatchObject({ size: 0, acked: n, dropped: 0 });
    await q.close();
  });

  it('has the history buffer read after the last record it dropped, the way the forwarder reads after the last id sent', async () => {
    const queue = new MemoryQueue();
    const buffer = new QueueHistoryBuffer(queue);
    for (let k = 1; k <= 5; k++) await buffer.append({ device: 'D', metrics: [{ name: 'v', value: k, quality: 'good', ts: k }] });
    const peek = jest.spyOn(queue, 'peek');
    const values = async (max: number) => (await buffer.peek(max)).map((r) => r.metrics[0].value);
    expect(await values(3)).toEqual([1, 2, 3]);
    expect(await values(3)).toEqual([1, 2, 3]); // peeking again without a drop: the same records
    const ids = queue.peek(5).map((i) => i.id);
    await buffer.drop(2);
    expect(await values(3)).toEqual([3, 4, 5]);
    expect(peek).toHaveBeenLastCalledWith(3, ids[1]);
    await buffer.drop(0); // nothing sent: nothing moves
    expect(await values(1)).toEqual([3]);
    await buffer.drop(1);
    expect(await values(3)).toEqual([4, 5]);
    expect(peek).toHaveBeenLastCalledWith(3, ids[2]);
    await buffer.drop(2);
    expect(await values(3)).toEqual([]);
    expect(buffer.size()).toBe(0);
    await queue.close();
  });

  it('moves its read position past acknowledged items at the head for a reader that never gives afterId', async () => {
    const file = newFile();
    const n = 20_000;
    let q = open(file);
    for (let k = 0; k < n; k += 2000) await q.append(Array.from({ length: 2000 }, (_, j) => small(k + j)));
    await q.close();
    q = open(file);
    const seen: number[] = [];
    let most = 0;
    while (q.size > 0) {
      const page = q.peek(50);
      expect(page.length).toBeGreaterThan(0);
      for (const i of page) seen.push(Number(i.payload.toString()));
      q.ack(page.map((i) => i.id));
      most = Math.max(most, q.aheadInMemory);
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, k) => k));
    expect(most).toBeLessThanOrEqual(FEW_CHUNKS);
    await q.close();
  });

  describe('large payloads', () => {
    const size = 256 * 1024;
    const count = 300;
    // One item per append, as a publish node buffers messages one by one: one row each.
    const row = size + 64;

    async function backlog(): Promise<string> {
      const file = newFile();
      const q = open(file);
      for (let k = 0; k < count; k++) await q.append([large(k, size)]);
      await q.close();
      return file;
    }

    it('reads ahead at most AHEAD_MAX_BYTES and one row on the first peek after a restart, and gives every item in order', async () => {
      const q = open(await backlog());
      let first: ReturnType<SqliteQueue['peek']> = [];
      const held = heldArrayBytes(() => (first = q.peek(100)));
      // Fewer than asked for (100 would be 25 MB), but never none while items are left.
      expect(first.length).toBeGreaterThan(0);
      expect(first.length).toBeLessThan(100);
      expect(held).toBeLessThanOrEqual(AHEAD_MAX_BYTES + row);
      expect(q.aheadInMemory * size).toBeLessThanOrEqual(AHEAD_MAX_BYTES + size);
      const seen = first.map((i) => i.payload.readUInt32LE(0));
      let after = first[first.length - 1].id;
      for (;;) {
        const page = q.peek(100, after);
        if (!page.length) break;
        expect(q.aheadInMemory * size).toBeLessThanOrEqual(AHEAD_MAX_BYTES + size);
        for (const i of page) seen.push(i.payload.readUInt32LE(0));
        after = page[page.length - 1].id;
      }
      expect(seen).toEqual(Array.from({ length: count }, (_, k) => k));
      expect(q.size).toBe(count); // peeking acknowledges nothing
      await q.close();
    });

    it('keeps no more than the byte bound of passed items either while a reader drains them', async () => {
      const file = await backlog();
      const seen: number[] = [];
      let after = 0;
      // The way the forwarder drains: peek after the last id sent, acknowledge what went out.
      const drain = (q: SqliteQueue, upTo: number) => {
        while (seen.length < upTo) {
          const page = q.peek(Math.min(100, upTo - seen.length), after);
          if (!page.length) break;
          for (const i of page) seen.push(i.payload.readUInt32LE(0));
          after = page[page.length - 1].id;
          q.ack(page.map((i) => i.id));
        }
      };
      let q: SqliteQueue | undefined;
      // What the queue holds once two thirds have gone out: items ahead of the reader (AHEAD_MAX_BYTES
      // and a row) and passed ones not yet forgotten (less than AHEAD_MAX_BYTES), not all it read.
      const held = heldArrayBytes(() => {
        q = open(file);
        drain(q, 200);
        return q;
      });
      expect(seen.length).toBe(200);
      expect(held).toBeLessThanOrEqual(2 * AHEAD_MAX_BYTES + row);
      drain(q!, Infinity);
      expect(seen).toEqual(Array.from({ length: count }, (_, k) => k));
      expect(q!.size).toBe(0);
      await q!.close();
    });
  });
});

function small(n: number): QueueItem {
  return { topic: 't', payload: Buffer.from(String(n)), qos: 1, retain: false, ts: 1000 };
}

function large(n: number, size: number): QueueItem {
  const payload = Buffer.alloc(size, n & 255);
  payload.writeUInt32LE(n, 0);
  return { topic: 'cam/1', payload, qos: 1, retain: false, ts: 1000 };
}
