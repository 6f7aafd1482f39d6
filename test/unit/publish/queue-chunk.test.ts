import fc from 'fast-check';
import { decodeChunk, encodeChunk, packedSize } from '../../../nodes/publish/queue-chunk';
import type { QoS, QueueItem } from '../../../nodes/publish/queue';

const itemArb: fc.Arbitrary<{ item: QueueItem; props: string | undefined }> = fc.record({
  item: fc.record({
    topic: fc.string({ unit: 'grapheme', maxLength: 40 }),
    payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    qos: fc.constantFrom<QoS>(0, 1, 2),
    retain: fc.boolean(),
    ts: fc.double({ noNaN: true, noDefaultInfinity: true }),
  }),
  props: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 10 })).map((d) => JSON.stringify(d)), {
    nil: undefined,
  }),
});

describe('queue chunks', () => {
  it('give back every item as packed (UTF-8 topics, empty payloads, properties, qos, retain, ts), with ids from the first', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 2 ** 40 }), (list, first) => {
        const items = list.map((l) => l.item);
        const props = list.map((l) => l.props);
        const size = list.reduce((s, l) => s + packedSize(l.item, l.props), 0);
        const data = encodeChunk(items, props, 0, items.length, size);
        expect(data.length).toBe(size);
        const got: Array<{ id: number; bytes: number; item: QueueItem }> = [];
        decodeChunk(data, first, () => false, (u) => got.push({ id: u.item.id, bytes: u.bytes, item: u.item }));
        expect(got.map((g) => g.id)).toEqual(items.map((_, k) => first + k));
        got.forEach((g, k) => {
          const { item } = list[k];
          expect([g.item.topic, g.item.qos, g.item.retain, Object.is(g.item.ts, item.ts) || g.item.ts === item.ts]).toEqual([item.topic, item.qos, item.retain, true]);
          expect(Buffer.compare(g.item.payload, item.payload)).toBe(0);
          expect(g.item.properties).toEqual(list[k].props === undefined ? undefined : JSON.parse(list[k].props as string));
          // The bytes an item counts against the bound, as the queue counts them on append.
          expect(g.bytes).toBe(item.payload.length + Buffer.byteLength(item.topic) + (list[k].props ? Buffer.byteLength(list[k].props as string) : 0));
        });
      }),
    );
  });

  it('skip the items asked for, and unpack a range of a larger list alone', () => {
    const items: QueueItem[] = Array.from({ length: 6 }, (_, k) => ({ topic: `t${k}`, payload: Buffer.from([k]), qos: 1, retain: false, ts: k }));
    const props = items.map(() => undefined);
    const size = items.slice(2, 5).reduce((s, it) => s + packedSize(it, undefined), 0);
    const data = encodeChunk(items, props, 2, 5, size);
    const ids: number[] = [];
    decodeChunk(data, 100, (k) => k === 1, (u) => ids.push(u.item.id));
    expect(ids).toEqual([100, 102]);
    expect(() => encodeChunk(items, props, 0, 2, size)).toThrow(/packing/);
  });
});
