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
  const t = text.length > STATUS_TEXT_MAX ? text.slice(0, STATUS_TEXT_MAX - 1) + '…' : text;
  return { ...LOOK[health], text: t };
}

/** Sets the status, skipping identical repeats (each status call is a websocket message). */
export class StatusReporter {
  private last = '';
  constructor(private readonly node: StatusTarget) {}

  set(health: Health, text: string): void {
    const s = statusOf(health, text);
    const key = `${s.fill}|${s.shape}|${s.text}`;
    if (key === this.last) return;
    this.last = key;
    this.node.status(s);
  }

  clear(): void {
    this.last = '';
    this.node.status({});
  }
}
