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
  // The last status shown, field by field: comparing them costs no allocation, where building the
  // status object and a key string for every call did (analytics nodes call this per message).
  private shown = false;
  private lastFill: NodeStatus['fill'];
  private lastShape: NodeStatus['shape'];
  private lastText = '';
  constructor(private readonly node: StatusTarget) {}

  set(health: Health, text: string): void {
    const t = text.length > STATUS_TEXT_MAX ? text.slice(0, STATUS_TEXT_MAX - 1) + '…' : text;
    const look = LOOK[health];
    const fill = look?.fill;
    const shape = look?.shape;
    if (this.shown && fill === this.lastFill && shape === this.lastShape && t === this.lastText) return;
    this.shown = true;
    this.lastFill = fill;
    this.lastShape = shape;
    this.lastText = t;
    this.node.status({ ...look, text: t });
  }

  clear(): void {
    this.shown = false;
    this.node.status({});
  }
}
