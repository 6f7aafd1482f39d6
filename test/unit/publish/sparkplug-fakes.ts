/** Fakes for the Sparkplug engine tests: a recording publisher, a memory bdSeq store, a decoder. */
import { get } from 'sparkplug-payload';
import type { BdSeqStore, SparkplugTransport } from '../../../nodes/publish/sparkplug-session';

const codec = get('spBv1.0')!;

export interface DecodedMetric {
  name?: string;
  alias?: number;
  type: string;
  value: unknown;
  timestamp?: number;
  isHistorical?: boolean;
  properties?: Record<string, { type: string; value: unknown }>;
}

export interface Published {
  topic: string;
  qos: 0 | 1;
  type: string;
  device?: string;
  seq?: number;
  timestamp?: number;
  metrics: DecodedMetric[];
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

export function decode(topic: string, payload: Uint8Array, qos: 0 | 1 = 0): Published {
  const p = codec.decodePayload(payload);
  const parts = topic.split('/');
  const metrics = (p.metrics ?? []).map((m) => {
    const d: DecodedMetric = { type: m.type, value: num(m.value) ?? m.value };
    if (typeof m.value === 'boolean' || typeof m.value === 'string' || m.value === null) d.value = m.value;
    if (m.name) d.name = m.name;
    if (m.alias !== undefined && m.alias !== null) d.alias = num(m.alias);
    if (m.timestamp !== undefined && m.timestamp !== null) d.timestamp = num(m.timestamp);
    if (m.isHistorical) d.isHistorical = true;
    if (m.properties) d.properties = m.properties as DecodedMetric['properties'];
    return d;
  });
  const out: Published = { topic, qos, type: parts[2], metrics };
  if (parts[4] !== undefined) out.device = parts[4];
  if (p.seq !== undefined && p.seq !== null) out.seq = num(p.seq);
  if (p.timestamp !== undefined && p.timestamp !== null) out.timestamp = num(p.timestamp);
  return out;
}

export function encodeCommand(metrics: Array<{ name?: string; alias?: number; type: string; value: unknown }>): Buffer {
  return Buffer.from(codec.encodePayload({ timestamp: 1, metrics } as never));
}

export class FakeTransport implements SparkplugTransport {
  readonly sent: Published[] = [];
  readonly subscriptions: string[] = [];
  restarts = 0;
  failNext: Error | undefined;

  /**
   * A stalled connection (a dead link the keepalive has not noticed yet): QoS 0 publishes are taken
   * but do not leave, and their promises do not settle, until release() (they leave, in order) or
   * abandon() (the connection is lost: they never leave and never settle, as with mqtt.js).
   */
  stalled = false;
  readonly held: Array<{ published: Published; left: () => void }> = [];

  async publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (this.stalled && qos === 0) {
      const published = decode(topic, payload, qos);
      return new Promise<void>((left) => this.held.push({ published, left }));
    }
    this.sent.push(decode(topic, payload, qos));
  }

  /** The stall ends: what was held leaves, oldest first. */
  release(): void {
    this.stalled = false;
    for (const h of this.held.splice(0)) {
      this.sent.push(h.published);
      h.left();
    }
  }

  /** The stalled connection is lost: what it held is gone. */
  abandon(): void {
    this.stalled = false;
    this.held.length = 0;
  }

  async subscribe(topic: string): Promise<void> {
    this.subscriptions.push(topic);
  }

  restart(): void {
    this.restarts++;
  }

  types(): string[] {
    return this.sent.map((p) => (p.device ? `${p.type}:${p.device}` : p.type));
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export class MemoryBdSeqStore implements BdSeqStore {
  value: number | undefined;
  saves = 0;
  load(): number | undefined {
    return this.value;
  }
  save(n: number): void {
    this.value = n;
    this.saves++;
  }
}

export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

export const flush = () => new Promise((r) => setImmediate(r));
