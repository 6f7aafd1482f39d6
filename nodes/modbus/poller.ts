/**
 * One read node's polling loop (DESIGN.md section 4): plans the tags once, issues the blocks of a
 * poll through the shared session (which bounds transactions in flight), decodes every tag, and
 * keeps each tag's last value so that a tag whose request failed is reported with quality `bad`
 * and that value, never dropped. No node-red import.
 *
 * Timing: start(interval) polls at once, then every `interval` ms. A poll still running when the
 * next one is due is not queued behind it (that is how a slow device turns into a growing backlog
 * and stale data): the due poll is skipped and counted as an overrun. When the device comes back
 * the next poll simply succeeds; the session reconnects on its own.
 *
 * Events: 'poll' (PollResult) after each timed poll, 'overrun' (overruns: number).
 */
import { EventEmitter } from 'events';
import { ConfigError, errorMessage } from '../shared/errors';
import type { SampleValue } from '../shared/sample';
import { decodeTag } from './codec';
import { planReadBlocks } from './planner';
import type { ModbusSession, PlanLimits, PollResult, ReadBlock, TagDef } from './types';

export interface PollerOptions {
  /** Anything with the session's read(); a ModbusClientSession in production. */
  session: Pick<ModbusSession, 'read'>;
  unitId: number;
  tags: TagDef[];
  limits: PlanLimits;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

export class ModbusPoller extends EventEmitter {
  /** The requests of every poll, planned once. */
  readonly blocks: readonly ReadBlock[];
  private readonly session: Pick<ModbusSession, 'read'>;
  private readonly unitId: number;
  private readonly tags: readonly TagDef[];
  private readonly now: () => number;
  private readonly last = new Map<TagDef, SampleValue>();
  private running?: Promise<PollResult>;
  private timer?: unknown;
  private overrunCount = 0;
  private pollCount = 0;

  constructor(private readonly o: PollerOptions) {
    super();
    if (!o || typeof o.session?.read !== 'function') throw new ConfigError('the poller needs a Modbus session');
    if (!Number.isInteger(o.unitId) || o.unitId < 0 || o.unitId > 255) throw new ConfigError(`unit id must be an integer 0-255, not ${String(o.unitId)}`);
    if (!Array.isArray(o.tags) || o.tags.length === 0) throw new ConfigError('there are no tags to read');
    const names = new Set<string>();
    for (const t of o.tags) {
      // One poll is one batch keyed by tag name: two tags with one name would hide each other.
      if (names.has(t?.name)) throw new ConfigError(`two tags are named "${t.name}"; tag names must be unique`);
      names.add(t?.name);
    }
    this.blocks = planReadBlocks(o.tags, o.limits);
    this.session = o.session;
    this.unitId = o.unitId;
    this.tags = o.tags;
    this.now = o.now ?? Date.now;
  }

  /** Skipped polls since the poller was made. */
  get overruns(): number {
    return this.overrunCount;
  }

  get polls(): number {
    return this.pollCount;
  }

  get started(): boolean {
    return this.timer !== undefined;
  }

  /** The last value read for each tag (null before the first good read). */
  lastValues(): Record<string, SampleValue> {
    const out: Record<string, SampleValue> = {};
    for (const t of this.tags) out[t.name] = this.last.get(t) ?? null;
    return out;
  }

  /**
   * Reads every block once and resolves with every tag's sample; it never rejects (failures are
   * bad-quality samples plus `errors`). Called while a poll is running, it returns that poll.
   */
  pollOnce(): Promise<PollResult> {
    if (this.running) return this.running;
    const p = this.poll().finally(() => {
      this.running = undefined;
    });
    this.running = p;
    return p;
  }

  /** Polls now and every `intervalMs`; a poll due while one still runs is skipped (an overrun). */
  start(intervalMs: number): void {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new ConfigError(`interval must be a number of ms above 0, not ${String(intervalMs)}`);
    this.stop();
    const tick = () => {
      if (this.running) {
        this.overrunCount++;
        this.safeEmit('overrun', this.overrunCount);
        return;
      }
      void this.pollOnce().then((r) => {
        if (this.timer !== undefined) this.safeEmit('poll', r);
      });
    };
    const si = this.o.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms));
    this.timer = si(tick, intervalMs);
    tick();
  }

  stop(): void {
    if (this.timer === undefined) return;
    (this.o.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
  }

  private safeEmit(event: string, arg: unknown): void {
    try {
      this.emit(event, arg);
    } catch (err) {
      // A listener's bug must not stop the loop; pass it on to whoever listens for it.
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
  }

  private async poll(): Promise<PollResult> {
    const started = this.now();
    // Through a promise so that a session that throws instead of rejecting still gives a result.
    const results = await Promise.allSettled(this.blocks.map((b) => Promise.resolve().then(() => this.session.read(this.unitId, b.area, b.start, b.count))));
    const errors: string[] = [];
    const fresh = new Map<TagDef, { value: SampleValue; good: boolean }>();
    let failed = 0;
    results.forEach((r, i) => {
      const b = this.blocks[i];
      if (r.status === 'rejected') {
        failed++;
        errors.push(`${b.area} ${b.start}+${b.count}: ${errorMessage(r.reason)}`);
        return;
      }
      for (const tag of b.tags) {
        try {
          const value = decodeTag(tag, r.value as ArrayLike<number>, tag.address - b.start);
          if (typeof value === 'number' && !Number.isFinite(value)) {
            errors.push(`tag "${tag.name}": the device sent ${value}`);
            continue;
          }
          fresh.set(tag, { value, good: true });
        } catch (err) {
          errors.push(errorMessage(err));
        }
      }
    });
    for (const [tag, v] of fresh) this.last.set(tag, v.value);
    const ts = this.now();
    this.pollCount++;
    return {
      samples: this.tags.map((t) => {
        const f = fresh.get(t);
        const s: PollResult['samples'][number] = f ? { tag: t.name, value: f.value, quality: 'good' } : { tag: t.name, value: this.last.get(t) ?? null, quality: 'bad' };
        if (t.unit) s.unit = t.unit;
        return s;
      }),
      ts,
      requests: this.blocks.length,
      failedRequests: failed,
      durationMs: ts - started,
      errors,
    };
  }
}
