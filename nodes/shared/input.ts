/**
 * Wires a node's input handler so that every failure reaches `done(err)`, the one path that both
 * logs it and triggers Catch nodes (calling node.error as well would fire Catch twice), and the
 * flow keeps running whatever the handler throws.
 */
import type { Done, Node, NodeMessageInFlow, Send } from './red';

export type InputHandler = (msg: NodeMessageInFlow, send: Send, done: Done) => void | Promise<void>;

export function onInput(node: Node, handler: InputHandler): void {
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    const fail = (err: unknown) => done(err instanceof Error ? err : new Error(String(err)));
    try {
      const r = handler(msg, send, done);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
