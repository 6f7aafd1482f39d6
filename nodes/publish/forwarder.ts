/**
 * Store-and-forward engine: drains a StoreAndForwardQueue to a transport (the shared MQTT
 * connection) in FIFO order, with a bounded in-flight window and an optional rate limit.
 * Engine module: no node-red import; clock and timers are injectable for fake-timer tests.
 *
 * - An item leaves the queue only when the transport resolves its publish (the broker's PUBACK
 *   for QoS 1/2, MQTT 5.0 section 4.3.2), so a crash or a lost connection never loses it.
 * - At most `maxInFlight` publishes and `maxInFlightBytes` of payload are outstanding (and never
 *   more than the broker's Receive Maximum, MQTT 5.0 section 3.2.2.3.3). Firing every queued
 *   publish at once at mqtt.js makes it collapse (MQTT.js #589): its outgoing store and the socket
 *   buffer grow without bound. The byte bound keeps a window of big payloads (images, files) from
 *   holding hundreds of megabytes.
 * - When the connection drops, every in-flight publish rejects with NotConnectedError; the engine
 *   forgets its window and, once connected again, starts from the oldest unacknowledged item, so
 *   order is kept (a message the broker got but did not acknowledge is sent again: at least once).
 * - A message the broker refuses (MQTT 5 reason code >= 0x80, or one mqtt.js cannot send) will
 *   never be taken: it is removed, counted as `rejected` and reported through the 'rejected' event,
 *   so one bad message cannot block the queue behind it.
 * - MQTT 5 Message Expiry Interval counts from when the item was accepted: at send time the
 *   remaining lifetime is sent, and an item whose lifetime has passed is dropped as `expired`
 *   (the broker would do the same, MQTT 5.0 section 3.3.2.3.3).
 *
 * - A message larger than the broker's Maximum Packet Size (MQTT 5 CONNACK) is never sent: the
 *   broker would drop the connection and the same message would go first again on every
 *   reconnect, for ever (mqtt.js does not check). It is removed and reported as `rejected`.
 * - MQTT 3.1.1 announces no limit, so nothing is dropped there; but when the connection is lost
 *   `stuckAfter` times in a row while the same item was the oldest one sent and unacknowledged,
 *   and nothing was acknowledged in between, the 'stuck' event reports it (most likely a message
 *   the broker refuses by its size). It stays queued; 'unstuck' follows once anything is taken.
 *
 * Events: 'progress' (after sends, acknowledgements and drops: read `stats()`), 'rejected'
 * (item, error), 'drained' (the queue ran empty while connected), 'stuck' (item, losses),
 * 'unstuck'.
 */
import { EventEmitter } from 'events';
import { NotConnectedError, packetTooLarge, type MqttMessageSpec, type PublishCallback } from './mqtt-connection';
import type { AppendCallback, QueueItem, StoreAndForwardQueue, StoredItem } from './queue';

/**
 * Publishes outstanding at once by default: a window of 1,000 measured no faster in bench/publish,
 * and AWS IoT Core, for one, takes at most 100 unacknowledged QoS 1 messages from a client.
 */
export const DEFAULT_MAX_IN_FLIGHT = 100;
/** Payload bytes outstanding at once by default (a hundred 100-byte samples are 10 kB; 4 MiB bounds big payloads). */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** Connection losses in a row with the same oldest unacknowledged item before 'stuck' is reported. */
export const DEFAULT_STUCK_AFTER = 3;

export interface ForwardTransport {
  readonly connected: boolean;
  /** Broker's Receive Maximum (MQTT 5), when known. */
  readonly receiveMaximum?: number;
  /** Broker's Maximum Packet Size (MQTT 5 CONNACK), when known. */
  readonly maximumPacketSize?: number;
  /** 4 (MQTT 3.1.1) or 5; a known maximumPacketSize means 5 unless this says 4. */
  readonly protocolVersion?: number;
  /**
   * Publishes; `cb` is called once, never before `deliver` returns: with no argument when the
   * broker acknowledged (QoS 1/2) or the message was written (QoS 0), with NotConnectedError when
   * the connection dropped first, with another error when the message will never be taken.
   */
  deliver(msg: MqttMessageSpec, cb: PublishCallback): void;
}

export interface ForwarderOptions {
  queue: StoreAndForwardQueue;
  transport: ForwardTransport;
  /** Publishes outstanding at once (100). */
  maxInFlight?: number;
  /** Payload bytes outstanding at once (4 MiB; one message always goes, whatever its size). */
  maxInFlightBytes?: number;
  /** Messages per second; 0 = as fast as the broker acknowledges. */
  rate?: number;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** Connection losses in a row with the same oldest item in flight before 'stuck' (3). */
  stuckAfter?: number;
  /** Runs the window refill after the PUBACKs of this event-loop turn (setImmediate). */
  defer?: (fn: () => void) => void;
}

export interface ForwarderStats {
  connected: boolean;
  queued: number;
  queuedBytes: number;
  inFlight: number;
  sent: number;
  rejected: number;
  expired: number;
  appended: number;
  dropped: number;
  droppedSize: number;
  droppedAge: number;
  cleared: number;
}

export class Forwarder extends EventEmitter {
  private readonly queue: StoreAndForwardQueue;
  private readonly transport: ForwardTransport;
  private readonly maxInFlight: number;
  private readonly rate: number;
  private readonly now: () => number;
  private readonly setT: (fn: () => void, ms: number) => unknown;
  private readonly clearT: (h: unknown) => void;
  private readonly maxInFlightBytes: number;
  /** Outstanding publishes: id -> payload bytes. */
  private readonly inFlight = new Map<number, number>();
  private inFlightBytes = 0;
  /** Highest id handed to the transport in this window; the next peek starts after it. */
  private lastId = 0;
  /** Changes whenever the window is thrown away, so late answers from it are ignored. */
  private epoch = 0;
  private tokens: number;
  private lastRefill: number;
  private timer: unknown;
  private closed = false;
  private flushing = false;
  private sent = 0;
  private rejected = 0;
  private expired = 0;
  private wasConnected = false;
  private pumpQueued = false;
  private immediate: NodeJS.Immediate | undefined;
  private readonly defer: (fn: () => void) => void;
  private hadBacklog = false;
  private readonly stuckAfter: number;
  /** Oldest item in flight at the last connection loss, and losses in a row with it so. */
  private lossHead = 0;
  private lossStreak = 0;
  private stuckReported = false;

  constructor(o: ForwarderOptions) {
    super();
    this.queue = o.queue;
    this.transport = o.transport;
    this.maxInFlight = Math.max(1, Math.floor(o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
    this.maxInFlightBytes = Math.max(1, o.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES);
    this.rate = o.rate && o.rate > 0 ? o.rate : 0;
    this.now = o.now ?? Date.now;
    this.setT = o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearT = o.clearTimeout ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.defer =
      o.defer ??
      ((fn) => {
        this.immediate = setImmediate(() => {
          this.immediate = undefined;
          fn();
        });
      });
    this.stuckAfter = Math.max(1, Math.floor(o.stuckAfter ?? DEFAULT_STUCK_AFTER));
    this.tokens = Math.max(1, this.rate);
    this.lastRefill = this.now();
    this.queue.onAppended = () => this.appended();
  }

  /** Appends to the queue (resolves once durable) and starts sending. */
  enqueue(items: readonly QueueItem[]): Promise<void> {
    return new Promise<void>((resolve, reject) => this.add(items, (err) => (err ? reject(err) : resolve())));
  }

  /** `enqueue` with a callback: `done` is called once the items are durable (or refused), never before `add` returns. */
  add(items: readonly QueueItem[], done: AppendCallback): void {
    if (this.closed) {
      process.nextTick(done, new Error('publisher is closed'));
      return;
    }
    this.queue.add(items, done);
  }

  /** New items are readable (once per commit, not per message): send, or show the grown backlog. */
  private appended(): void {
    this.pump();
    if (!this.transport.connected) this.emit('progress');
  }

  /** Tell the engine the transport's connection changed. */
  connectionChanged(connected: boolean): void {
    if (connected === this.wasConnected) {
      if (connected) this.pump();
      return;
    }
    this.wasConnected = connected;
    if (!connected) this.noteLoss();
    this.resetWindow();
    if (connected) this.pump();
    else this.emit('progress');
  }

  /** Send the backlog now, without the rate limit, until the queue is empty. */
  flush(): void {
    this.flushing = this.queue.size > 0;
    this.pump();
  }

  /** Drops every queued item (counted as cleared); returns how many. */
  clear(): number {
    const n = this.queue.clear();
    this.resetWindow();
    this.taken();
    this.emit('progress');
    return n;
  }

  stats(): ForwarderStats {
    const q = this.queue.stats();
    return {
      connected: this.transport.connected,
      queued: q.size,
      queuedBytes: q.bytes,
      inFlight: this.inFlight.size,
      sent: this.sent,
      rejected: this.rejected,
      expired: this.expired,
      appended: q.appended,
      dropped: q.dropped,
      droppedSize: q.droppedSize,
      droppedAge: q.droppedAge,
      cleared: q.cleared,
    };
  }

  /** Stops sending; answers still on their way are ignored. Does not close the queue. */
  close(): void {
    this.closed = true;
    this.queue.onAppended = undefined;
    this.resetWindow();
    if (this.timer !== undefined) this.clearT(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.removeAllListeners();
  }

  /** Sends as much as the window, the rate limit and the queue allow. */
  pump(): void {
    if (this.closed || !this.transport.connected) return;
    const window = this.window();
    pumping: while (this.inFlight.size < window && this.inFlightBytes < this.maxInFlightBytes) {
      let room = window - this.inFlight.size;
      if (this.rate > 0 && !this.flushing) {
        this.refill();
        if (this.tokens < 1) {
          this.wakeAfter(((1 - this.tokens) / this.rate) * 1000);
          break;
        }
        room = Math.min(room, Math.floor(this.tokens));
      }
      const batch = this.queue.peek(room, this.lastId);
      if (!batch.length) break;
      for (const item of batch) {
        // The byte bound: the rest of the batch waits (one message always goes when none is out).
        if (this.inFlight.size > 0 && this.inFlightBytes + item.payload.length > this.maxInFlightBytes) break pumping;
        this.lastId = item.id;
        if (this.rate > 0 && !this.flushing) this.tokens -= 1;
        this.send(item);
      }
    }
    if (this.queue.size === 0) {
      this.flushing = false;
      if (this.hadBacklog) this.emit('drained');
      this.hadBacklog = false;
    } else {
      this.hadBacklog = true;
    }
    this.emit('progress');
  }

  private send(item: StoredItem): void {
    // An item is a message spec already; only MQTT 5 properties need a copy (the expiry counts down).
    let spec: MqttMessageSpec = item as MqttMessageSpec;
    if (item.properties) {
      const props = { ...item.properties } as NonNullable<MqttMessageSpec['properties']> & Record<string, unknown>;
      const expiry = props.messageExpiryInterval;
      if (typeof expiry === 'number' && expiry > 0) {
        const left = expiry - Math.floor((this.now() - item.ts) / 1000);
        if (left <= 0) {
          this.expired++;
          this.queue.ackOne(item.id);
          this.taken();
          return;
        }
        props.messageExpiryInterval = left;
      }
      spec = { topic: item.topic, payload: item.payload, qos: item.qos, retain: item.retain, properties: props };
    }
    const limit = this.transport.maximumPacketSize;
    if (limit) {
      const tooLarge = packetTooLarge(spec, this.transport.protocolVersion !== 4, limit);
      if (tooLarge) {
        this.rejected++;
        this.queue.ackOne(item.id);
        this.taken();
        this.emit('rejected', item, tooLarge);
        return;
      }
    }
    const epoch = this.epoch;
    this.inFlight.set(item.id, item.payload.length);
    this.inFlightBytes += item.payload.length;
    // A callback, not a Promise: one closure a message (bench/publish).
    this.transport.deliver(spec, (err) => this.answered(item, epoch, err));
  }

  private answered(item: StoredItem, epoch: number, err: Error | undefined): void {
    if (!err) {
      // The broker has it, whatever happened to the window since: it leaves the disk.
      this.queue.ackOne(item.id);
      this.sent++;
      if (this.lossStreak) this.taken();
      if (epoch !== this.epoch || this.closed) return;
      this.settled(item.id);
      // Refill once per turn of the event loop, after every PUBACK that arrived in it: the sends
      // then leave in one socket write instead of one write per PUBACK (in bench/publish the
      // writes alone cost more CPU than the rest of the publish). The window is refilled before
      // anything else runs, so it never waits on a timer (waiting for a quarter of the window
      // to free up stalled on the broker's delayed TCP acknowledgements).
      this.pumpSoon();
      return;
    }
    if (epoch !== this.epoch || this.closed) return;
    this.settled(item.id);
    if (err instanceof NotConnectedError) {
      // The whole window is re-sent, in order, on the next connection.
      this.noteLoss(item.id);
      this.resetWindow();
      this.emit('progress');
      return;
    }
    this.rejected++;
    this.queue.ackOne(item.id);
    this.taken();
    this.emit('rejected', item, err);
    this.pumpSoon();
  }

  /**
   * The connection was lost with this window out (called before the window is thrown away;
   * `alsoId` is an item just settled, no longer in the window). Counts losses in a row with the
   * same oldest item sent and unacknowledged, and reports it once as 'stuck'.
   */
  private noteLoss(alsoId?: number): void {
    if (this.inFlight.size === 0 && alsoId === undefined) return;
    let head = alsoId ?? Infinity;
    for (const id of this.inFlight.keys()) if (id < head) head = id;
    // Only the oldest item in the queue counts: a younger one was not the one blocking it.
    const oldest = this.queue.peek(1, 0)[0];
    if (!oldest || oldest.id !== head) {
      this.lossHead = 0;
      this.lossStreak = 0;
      return;
    }
    this.lossStreak = head === this.lossHead ? this.lossStreak + 1 : 1;
    this.lossHead = head;
    if (this.lossStreak >= this.stuckAfter && !this.stuckReported) {
      this.stuckReported = true;
      this.emit('stuck', oldest, this.lossStreak);
    }
  }

  /** Something left the queue (acknowledged, rejected, expired, cleared): the loss streak ends. */
  private taken(): void {
    this.lossHead = 0;
    this.lossStreak = 0;
    if (this.stuckReported) {
      this.stuckReported = false;
      this.emit('unstuck');
    }
  }

  private settled(id: number): void {
    this.inFlightBytes -= this.inFlight.get(id) ?? 0;
    this.inFlight.delete(id);
  }

  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    this.defer(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private window(): number {
    return Math.min(this.maxInFlight, this.transport.receiveMaximum || Infinity);
  }

  private resetWindow(): void {
    this.epoch++;
    this.inFlight.clear();
    this.inFlightBytes = 0;
    this.lastId = 0;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(Math.max(1, this.rate), this.tokens + ((t - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = t;
  }

  private wakeAfter(ms: number): void {
    if (this.timer !== undefined) return;
    this.timer = this.setT(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, Math.ceil(ms)));
  }
}
