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
  /** Each tag's last good value, by its index in `tags` (null before the first good read). */
  private readonly last: SampleValue[];
  /** For each block, the indexes in `tags` of the tags it carries. */
  private readonly blockTags: readonly (readonly number[])[];
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
    const index = new Map<TagDef, number>(o.tags.map((t, i) => [t, i]));
    this.blockTags = this.blocks.map((b) => b.tags.map((t) => index.get(t)!));
    this.last = new Array<SampleValue>(o.tags.length).fill(null);
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
    this.tags.forEach((t, i) => (out[t.name] = this.last[i]));
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
    const tags = this.tags;
    // This poll's value of each tag, by index; undefined where its request failed. Each block is
    // decoded as its answer arrives, while the other requests are still on the wire.
    const fresh = new Array<SampleValue | undefined>(tags.length);
    // Errors per block, joined in block order afterwards (answers may arrive in any order).
    const blockErrors: (string[] | undefined)[] = new Array(this.blocks.length);
    let failed = 0;
    const reads = this.blocks.map((b, bi) => {
      let request: Promise<ArrayLike<number>>;
      try {
        request = this.session.read(this.unitId, b.area, b.start, b.count) as Promise<ArrayLike<number>>;
      } catch (err) {
        // A session that throws instead of rejecting still gives a result.
        request = Promise.reject(err);
      }
      return request.then(
        (words) => {
          for (const i of this.blockTags[bi]) {
            const tag = tags[i];
            try {
              const value = decodeTag(tag, words, tag.address - b.start);
              if (typeof value === 'number' && !Number.isFinite(value)) {
                (blockErrors[bi] ??= []).push(`tag "${tag.name}": the device sent ${value}`);
                continue;
              }
              fresh[i] = value;
            } catch (err) {
              (blockErrors[bi] ??= []).push(errorMessage(err));
            }
          }
        },
        (err: unknown) => {
          failed++;
          blockErrors[bi] = [`${b.area} ${b.start}+${b.count}: ${errorMessage(err)}`];
        },
      );
    });
    await Promise.all(reads);
    const errors: string[] = [];
    for (const e of blockErrors) if (e) errors.push(...e);
    const ts = this.now();
    this.pollCount++;
    const values = new Array<SampleValue>(tags.length);
    const good = new Array<boolean>(tags.length);
    let bad = 0;
    for (let i = 0; i < tags.length; i++) {
      const f = fresh[i];
      if (f !== undefined) {
        this.last[i] = f;
        values[i] = f;
        good[i] = true;
      } else {
        values[i] = this.last[i];
        good[i] = false;
        bad++;
      }
    }
    const result = { tags, values, good, bad, ts, requests: this.blocks.length, failedRequests: failed, durationMs: ts - started, errors } as Omit<PollResult, 'samples'>;
    // The sample objects only when asked for (the single form, Test read): a batch is built from
    // the arrays, and a thousand objects a poll were a tenth of the node's time (bench/modbus-poll).
    let samples: PollResult['samples'] | undefined;
    Object.defineProperty(result, 'samples', {
      enumerable: true,
      get: () =>
        (samples ??= tags.map((t, i) => {
          const s: PollResult['samples'][number] = { tag: t.name, value: values[i], quality: good[i] ? 'good' : 'bad' };
          if (t.unit) s.unit = t.unit;
          return s;
        })),
    });
    return result as PollResult;
  }
}
