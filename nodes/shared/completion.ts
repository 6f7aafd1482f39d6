/**
 * Whether anything in a Node-RED runtime observes that a message was handled without error: the
 * call `done()` makes. In Node-RED 4 (Node.prototype._complete) a successful `done()` does three
 * things and nothing else: a "done" metric for log handlers that take metrics, the `onComplete`
 * hook, and the Complete nodes that name the node. With none of them there, the call changes
 * nothing a user or a plugin can see, yet in a flow it costs an analytics node 7 to 25 % of its
 * throughput (a metric object, a clock read and a log event, the hook and Complete-node lookups,
 * and the garbage they leave: bench/analytics). The per-sample analytics nodes ask this watch and
 * call `done()` after a message handled without error only when something observes it;
 * `done(err)` is always called (Catch nodes and the log).
 *
 * What is looked at, and when:
 * - Complete nodes: any enabled `complete` node in the deployed flows (any tab, any subflow)
 *   turns the watch on for every node. Looked at when flows start, before the new flows' nodes
 *   start, so a Complete node added by any kind of deploy sees every message after it.
 * - `onComplete` hooks (RED.hooks) and metrics logging: looked at then and every second after
 *   (a plugin may add a hook at any time: it sees completions from at most a second later).
 * - `plantwireAlwaysDone: true` in settings.js: every message is marked done, observed or not.
 * Anything the watch cannot tell (a runtime without these APIs) counts as observed.
 */
import type { Node, NodeAPI } from './red';

/** How often hooks and metrics are looked at again while nodes use the watch, ms. */
const COMPLETION_LOOK_MS = 1000;

/** The parts of the runtime API the watch reads (all optional: older or test runtimes lack some). */
interface RuntimeParts {
  events?: { on(event: string, listener: () => void): unknown };
  hooks?: { has(id: string): boolean };
  log?: { metric?: () => boolean };
  nodes?: { eachNode?: (cb: (n: { type?: string; d?: boolean }) => void) => void };
  settings?: { plantwireAlwaysDone?: unknown };
}

interface Watch {
  /** Whether a successful completion would be observed now. */
  observed: boolean;
  completeNodes: boolean;
  users: number;
  timer: ReturnType<typeof setInterval> | undefined;
  red: RuntimeParts;
}

/** One watch per runtime (keyed by its event emitter, which every node API object of it shares). */
const watches = new WeakMap<object, Watch>();

function anyCompleteNode(red: RuntimeParts): boolean {
  const eachNode = red.nodes?.eachNode;
  if (typeof eachNode !== 'function') return true;
  let found = false;
  try {
    eachNode((n) => {
      if (n.type === 'complete' && n.d !== true) found = true;
    });
  } catch {
    return true;
  }
  return found;
}

/** An onComplete hook or metrics logging: what may change without a deploy. */
function hooksOrMetrics(red: RuntimeParts): boolean {
  try {
    const hooks = red.hooks;
    if (!hooks || typeof hooks.has !== 'function' || hooks.has('onComplete')) return true;
    const metric = red.log?.metric;
    return typeof metric !== 'function' || metric() === true;
  } catch {
    return true;
  }
}

function lookAgain(w: Watch): void {
  w.observed = w.completeNodes || hooksOrMetrics(w.red);
}

function lookAtFlows(w: Watch): void {
  w.completeNodes = anyCompleteNode(w.red);
  lookAgain(w);
}

function watchOf(red: RuntimeParts): Watch | undefined {
  const events = red.events;
  if (!events || typeof events.on !== 'function') return undefined;
  const known = watches.get(events);
  if (known) return known;
  const w: Watch = { observed: true, completeNodes: true, users: 0, timer: undefined, red };
  // flows:starting comes once a new configuration is active and before its nodes start (every
  // deploy, of any kind); the first node to ask belongs to the configuration starting now.
  events.on('flows:starting', () => lookAtFlows(w));
  lookAtFlows(w);
  watches.set(events, w);
  return w;
}

/**
 * For `node`: a function telling, for each message, whether a successful `done()` would be
 * observed. Reading it costs one property read; the looking is done on deploys and once a second.
 */
export function completionWatch(RED: NodeAPI, node: Node): () => boolean {
  const red = RED as unknown as RuntimeParts;
  if (red.settings?.plantwireAlwaysDone === true) return () => true;
  const w = watchOf(red);
  if (!w) return () => true;
  if (w.users++ === 0) {
    lookAgain(w);
    w.timer = setInterval(() => lookAgain(w), COMPLETION_LOOK_MS);
    w.timer.unref?.();
  }
  node.on('close', () => {
    if (--w.users === 0 && w.timer) {
      clearInterval(w.timer);
      w.timer = undefined;
    }
  });
  return () => w.observed;
}
