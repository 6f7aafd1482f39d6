/** A TCP port that was free a moment ago (the OS picks it), for servers configured by port number. */
import * as net from 'net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `fn` returns true, polling every 10 ms; rejects with `what` after `ms`. */
export async function until(fn: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type NodeModule = (RED: any) => void;

/**
 * The test helper's RED._ returns the bare key, so status texts lose their numbers. This wraps a
 * node module so that `RED._('a.b.listening', { port: 1, clients: 2 })` reads "listening 1 2".
 */
export function withParams(mod: NodeModule): NodeModule {
  return (RED) => {
    const plain = RED._;
    RED._ = (key: string, params?: Record<string, unknown>) =>
      params ? `${key.split('.').pop()} ${Object.values(params).join(' ')}` : plain(key);
    mod(RED);
  };
}

export interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

/**
 * The statuses one node set. The test helper spies on the Node prototype, so `node.status.args`
 * holds every node's calls; this keeps the calls made on `node` itself.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function statusesOf(node: any): StatusCall[] {
  return node.status.getCalls().filter((c: { thisValue: unknown }) => c.thisValue === node).map((c: { args: unknown[] }) => c.args[0] as StatusCall);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function lastStatus(node: any): StatusCall | undefined {
  const all = statusesOf(node);
  return all[all.length - 1];
}
