/**
 * The Sparkplug edge node's store-and-forward buffer on top of the shared queue (queue.ts: memory
 * or SQLite on disk). One queue item is one DDATA that could not go out live; it is replayed with
 * is_historical=true after the next birth sequence. No node-red import.
 */
import type { StoreAndForwardQueue } from './queue';
import type { HistoryBuffer, HistoryRecord } from './sparkplug-session';

export class QueueHistoryBuffer implements HistoryBuffer {
  private peeked: number[] = [];
  /**
   * Id of the last record acknowledged by `drop`: the next peek reads after it, the way the
   * forwarder reads after the last id it sent. Without it every peek starts over at the head of
   * the queue, and the disk queue cannot let go of what it has read ahead of the reader.
   */
  private lastId = 0;
  private unreadable = 0;

  constructor(
    private readonly queue: StoreAndForwardQueue,
    private readonly now: () => number = Date.now,
  ) {}

  /** Items that could not be read back (a damaged store) and were skipped. */
  get skipped(): number {
    return this.unreadable;
  }

  append(record: HistoryRecord): Promise<void> {
    // The topic holds the device id; the age bound (bufferMaxAgeH) counts from the time of buffering.
    return this.queue.append([
      { topic: record.device, payload: Buffer.from(JSON.stringify(record.metrics)), qos: 0, retain: false, ts: this.now() },
    ]);
  }

  async peek(max: number): Promise<HistoryRecord[]> {
    const items = this.queue.peek(max, this.lastId);
    this.peeked = items.map((i) => i.id);
    const out: HistoryRecord[] = [];
    for (const item of items) {
      const metrics = readMetrics(item.payload);
      if (metrics) out.push({ device: item.topic, metrics });
      else {
        // Keep positions aligned with `peeked` so drop(n) acknowledges exactly what was handed out.
        this.unreadable++;
        out.push({ device: item.topic, metrics: [] });
      }
    }
    return out;
  }

  async drop(count: number): Promise<void> {
    const done = this.peeked.slice(0, count);
    this.queue.ack(done);
    this.peeked = this.peeked.slice(count);
    // Ids grow strictly and drop takes the oldest records handed out, so everything up to here is
    // gone; what was peeked but not dropped has larger ids and is handed out again.
    if (done.length) this.lastId = done[done.length - 1];
  }

  size(): number {
    return this.queue.size;
  }
}

function readMetrics(payload: Buffer): HistoryRecord['metrics'] | undefined {
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    if (!Array.isArray(parsed)) return undefined;
    return parsed.filter(
      (m): m is HistoryRecord['metrics'][number] =>
        !!m && typeof m === 'object' && typeof (m as { name?: unknown }).name === 'string' && typeof (m as { ts?: unknown }).ts === 'number',
    );
  } catch {
    return undefined;
  }
}
