/**
 * The on-disk form of SqliteQueue's items: the items of one group commit packed into one blob
 * ("chunk"), one SQLite row per chunk instead of one per message. A row per message cost more CPU
 * than the MQTT publish itself (bench/publish: binding seven columns, a B-tree insert and a later
 * delete per message); a chunk is one insert and, once every item in it is acknowledged, one delete.
 * Engine module: no node-red import.
 *
 * An item, in order (little endian):
 *   ts float64 | flags uint8 (bits 0-1 qos, bit 2 retain, bit 3 has properties)
 *   | topic length uint32 | topic UTF-8 | [properties length uint32 | properties JSON UTF-8]
 *   | payload length uint32 | payload
 * Item k of a chunk has the id `chunk id + k`. Which items are gone (acknowledged or dropped) is a
 * bitmap kept beside the blob (`gone`): bit k set means item k is gone.
 */
import type { QoS, QueueItem, StoredItem } from './queue';

/** A chunk holds at most this many items... */
export const CHUNK_MAX_ITEMS = 1000;
/** ...and at most this many bytes of items (a larger single item gets a chunk of its own). */
export const CHUNK_MAX_BYTES = 1024 * 1024;

const FIXED = 8 + 1 + 4 + 4;

/** The packed size of one item (`props`: its properties as JSON, if any). */
export function packedSize(item: QueueItem, props: string | undefined): number {
  return FIXED + Buffer.byteLength(item.topic) + (props === undefined ? 0 : 4 + Buffer.byteLength(props)) + item.payload.length;
}

/** Packs items[from..to) into one blob (see the module comment); `size`: their packed size. */
export function encodeChunk(items: readonly QueueItem[], props: readonly (string | undefined)[], from: number, to: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  for (let i = from; i < to; i++) {
    const item = items[i];
    const json = props[i];
    b.writeDoubleLE(item.ts, o);
    o += 8;
    b[o++] = item.qos | (item.retain ? 4 : 0) | (json === undefined ? 0 : 8);
    const topicLen = b.write(item.topic, o + 4);
    b.writeUInt32LE(topicLen, o);
    o += 4 + topicLen;
    if (json !== undefined) {
      const propsLen = b.write(json, o + 4);
      b.writeUInt32LE(propsLen, o);
      o += 4 + propsLen;
    }
    b.writeUInt32LE(item.payload.length, o);
    o += 4;
    o += item.payload.copy(b, o);
  }
  if (o !== size) throw new Error(`chunk packing error: ${o} of ${size} bytes`);
  return b;
}

/** One unpacked item and the bytes it counts against the queue's bound. */
export interface Unpacked {
  item: StoredItem;
  bytes: number;
}

/**
 * Unpacks the items of a chunk whose first id is `firstId`, calling `take` for each one that `skip`
 * does not refuse (by its index). Payloads are copies: a payload that stays in flight must not keep
 * the whole chunk's blob in memory.
 */
export function decodeChunk(data: Buffer, firstId: number, skip: (k: number) => boolean, take: (u: Unpacked) => void): void {
  let o = 0;
  for (let k = 0; o < data.length; k++) {
    const ts = data.readDoubleLE(o);
    const flags = data[o + 8];
    o += 9;
    const topicLen = data.readUInt32LE(o);
    o += 4;
    const topicAt = o;
    o += topicLen;
    let propsAt = -1;
    let propsLen = 0;
    if (flags & 8) {
      propsLen = data.readUInt32LE(o);
      propsAt = o + 4;
      o = propsAt + propsLen;
    }
    const payloadLen = data.readUInt32LE(o);
    o += 4;
    const payloadAt = o;
    o += payloadLen;
    if (skip(k)) continue;
    const item: StoredItem = {
      id: firstId + k,
      topic: data.toString('utf8', topicAt, topicAt + topicLen),
      payload: Buffer.from(data.subarray(payloadAt, payloadAt + payloadLen)),
      qos: (flags & 3) as QoS,
      retain: (flags & 4) !== 0,
      ts,
    };
    if (propsAt >= 0) item.properties = JSON.parse(data.toString('utf8', propsAt, propsAt + propsLen)) as Record<string, unknown>;
    take({ item, bytes: topicLen + propsLen + payloadLen });
  }
}
