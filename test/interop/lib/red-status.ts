/** Node statuses as the test helper records them (it spies on Node.prototype.status). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyNode = any;

export interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

export function statusesOf(node: AnyNode): StatusCall[] {
  return node.status.getCalls().filter((c: { thisValue: unknown }) => c.thisValue === node).map((c: { args: unknown[] }) => c.args[0] as StatusCall);
}

export function lastStatus(node: AnyNode): StatusCall | undefined {
  const all = statusesOf(node);
  return all[all.length - 1];
}

/** Resolves when `fn` returns true (polled every 20 ms); rejects naming `what` after `ms`. */
export async function until(fn: () => boolean, what: string, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
