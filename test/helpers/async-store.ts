/**
 * A context store that answers only asynchronously, as database-backed stores and Node-RED's file
 * store without cache do (a synchronous get throws), for the node tests of state kept in the node
 * context. What is set is kept per scope and key (a JSON copy), and read back after `delayMs`.
 */
import { helper, load, type FlowNode } from './red';

export interface AsyncStore {
  /** The module to configure as a context store. */
  module: () => unknown;
  /** Every value set, in order: [scope, key, value]. */
  written: Array<[string, string, unknown]>;
}

export function asyncStore(delayMs = 100): AsyncStore {
  const data = new Map<string, unknown>();
  const written: Array<[string, string, unknown]> = [];
  const module = () => ({
    open: () => Promise.resolve(),
    close: () => Promise.resolve(),
    get: (scope: string, key: string, cb: (err: unknown, v?: unknown) => void) => {
      if (typeof cb !== 'function') throw new Error('this store is asynchronous only');
      const value = data.get(`${scope}/${key}`);
      setTimeout(() => cb(null, value === undefined ? undefined : JSON.parse(JSON.stringify(value))), delayMs);
    },
    set: (scope: string, key: string, value: unknown, cb?: (err?: unknown) => void) => {
      const copy = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
      written.push([scope, key, copy]);
      data.set(`${scope}/${key}`, copy);
      if (cb) setTimeout(() => cb(), 5);
    },
    keys: (_scope: string, cb: (err: unknown, k?: string[]) => void) => cb(null, []),
    delete: () => Promise.resolve(),
    clean: () => Promise.resolve(),
  });
  return { module, written };
}

/** Loads `flow` with `store` as the default context store (the node then starts again with it). */
export async function loadWithAsyncStore(nodes: unknown, flow: FlowNode[], store: AsyncStore): Promise<void> {
  helper.settings({ contextStorage: { default: { module: store.module as unknown as string } } }); // the typings allow only built-in names
  await load(nodes, flow);
  await (helper as unknown as { _context: { load(): Promise<void> } })._context.load();
  // The nodes started before the store was open: a full deploy starts them with it.
  await helper.setFlows(flow as never, 'full');
}
