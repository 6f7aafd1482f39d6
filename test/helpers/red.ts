/**
 * Thin promise wrappers over node-red-node-test-helper, shared by the node suites.
 * Nodes are loaded from their TypeScript sources (ts-jest compiles them), so a test runs what
 * `npm run build` ships.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
import helper = require('node-red-node-test-helper');

helper.init(require.resolve('node-red'));

export { helper };

export type FlowNode = Record<string, unknown> & { id: string; type: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestNode = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

export function load(nodes: unknown | unknown[], flow: FlowNode[], credentials: Record<string, unknown> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      helper.load(nodes as never, flow as never, credentials as never, () => resolve());
    } catch (err) {
      reject(err);
    }
  });
}

export function startServer(): Promise<void> {
  return new Promise((resolve) => helper.startServer(() => resolve()));
}

export async function stop(): Promise<void> {
  await helper.unload();
  await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
}

/** Collects the messages a helper node receives. */
export function collect(node: TestNode): Msg[] {
  const got: Msg[] = [];
  node.on('input', (msg: Msg) => got.push(msg));
  return got;
}

/** Resolves with the next `count` messages that reach `node` (a helper node), or rejects after `ms`. */
export function nextMessages(node: TestNode, count = 1, ms = 5000): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const got: Msg[] = [];
    // The listener goes on timeout too: a stale one would make later waits on this node miss messages.
    const onMsg = (msg: Msg) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        node.removeListener('input', onMsg);
        resolve(got);
      }
    };
    const timer = setTimeout(() => {
      node.removeListener('input', onMsg);
      reject(new Error(`expected ${count} message(s), got ${got.length}`));
    }, ms);
    node.on('input', onMsg);
  });
}

/** Resolves with the error a node reports through done(err) (seen by Catch nodes). */
export function nextError(node: TestNode, ms = 5000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('expected an error')), ms);
    const orig = node.error.bind(node);
    node.error = (err: unknown, msg?: Msg) => {
      clearTimeout(timer);
      node.error = orig;
      resolve({ error: err, msg });
      return orig(err, msg);
    };
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
