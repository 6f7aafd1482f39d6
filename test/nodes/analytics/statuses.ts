/** Reading the statuses an analytics node set, in the node tests. */
import type { TestNode } from '../../helpers/red';

export interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

/**
 * The statuses `node` set, oldest first. The test helper spies on the Node prototype, so
 * `node.status` holds every node's calls; this keeps those made on `node` itself.
 */
export function statusesOf(node: TestNode): StatusCall[] {
  return node.status
    .getCalls()
    .filter((c: { thisValue: unknown }) => c.thisValue === node)
    .map((c: { args: unknown[] }) => c.args[0] as StatusCall);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type NodeModule = (RED: any) => void;

/**
 * The test helper's RED._ returns the bare key, so status texts lose their figures: this wraps a
 * node module so that `RED._('deadband.status.passed', { passed: 1, seen: 2 })` reads "passed 1 2".
 */
export function withFigures(mod: NodeModule): NodeModule {
  return (RED) => {
    const plain = RED._;
    RED._ = (key: string, params?: Record<string, unknown>) => (params ? `${key.split('.').pop()} ${Object.values(params).join(' ')}` : plain(key));
    mod(RED);
  };
}
