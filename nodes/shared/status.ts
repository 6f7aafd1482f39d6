/**
 * The one status helper. Colours follow one rule across the palette: green dot = healthy,
 * yellow ring = connecting or buffering, red ring = failing, grey ring = stopped or idle.
 */
export type Health = 'ok' | 'busy' | 'error' | 'stopped';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface StatusTarget {
  status(status: NodeStatus | string): void;
}

const LOOK: Record<Health, Pick<NodeStatus, 'fill' | 'shape'>> = {
  ok: { fill: 'green', shape: 'dot' },
  busy: { fill: 'yellow', shape: 'ring' },
  error: { fill: 'red', shape: 'ring' },
  stopped: { fill: 'grey', shape: 'ring' },
};

/** Status text is kept short so that it fits under a node in the editor. */
export const STATUS_TEXT_MAX = 32;

export function statusOf(health: Health, text: string): NodeStatus {
  return { ...LOOK[health], text: fit(text) };
}

/** The reporter of each node, so that onInput can show a refused message on it. */
const reporters = new WeakMap<object, StatusReporter>();

export function statusReporterOf(node: object): StatusReporter | undefined {
  return reporters.get(node);
}

/** How long a refused input shows on the node before its steady status comes back, ms. */
export const REFUSED_FLASH_MS = 3000;

/** Sets the status, skipping identical repeats (each status call is a websocket message). */
export class StatusReporter {
  // The last status shown, field by field: comparing them costs no allocation, where building the
  // status object and a key string for every call did (analytics nodes call this per message).
  private shown = false;
  private lastHealth: Health = 'stopped';
  private lastText = '';
  // While a refusal flashes, the steady status is remembered here and shown again when it ends.
  private flashTimer: ReturnType<typeof setTimeout> | undefined;
  private steady: { health: Health; text: string } | undefined;

  constructor(private readonly node: StatusTarget) {
    reporters.set(node, this);
  }

  set(health: Health, text: string): void {
    if (this.flashTimer) {
      // While a refusal shows, the node's own updates (timers, connection events) wait for it to
      // end, so the refusal is seen; the next message that succeeds ends it (endFlash).
      this.steady = { health, text };
      return;
    }
    this.show(health, text);
  }

  /** Ends a flash now and shows the newest steady status (a message was handled successfully). */
  endFlash(): void {
    if (!this.flashTimer) return;
    clearTimeout(this.flashTimer);
    this.flashTimer = undefined;
    const back = this.steady;
    this.steady = undefined;
    if (back) this.show(back.health, back.text);
    else this.clear();
  }

  /**
   * Shows a transient status (a refused input) for `ms` or until a message succeeds, then the
   * steady status again: the node is still healthy, and its status keeps telling the truth once
   * the moment has passed.
   */
  flash(health: Health, text: string, ms = REFUSED_FLASH_MS): void {
    if (!this.flashTimer) {
      this.steady = this.shown ? { health: this.lastHealth, text: this.lastText } : undefined;
    } else {
      clearTimeout(this.flashTimer);
    }
    this.show(health, text);
    this.flashTimer = setTimeout(() => this.endFlash(), ms);
    this.flashTimer.unref?.();
  }

  /** Ends a flash without restoring (node close). */
  dispose(): void {
    if (this.flashTimer) clearTimeout(this.flashTimer);
    this.flashTimer = undefined;
    this.steady = undefined;
  }

  clear(): void {
    this.shown = false;
    this.node.status({});
  }

  private show(health: Health, text: string): void {
    const t = fit(text);
    if (this.shown && health === this.lastHealth && t === this.lastText) return;
    this.shown = true;
    this.lastHealth = health;
    this.lastText = t;
    this.node.status({ ...LOOK[health], text: t });
  }
}

function fit(text: string): string {
  return text.length > STATUS_TEXT_MAX ? text.slice(0, STATUS_TEXT_MAX - 1) + '…' : text;
}
