/**
 * Wires a node's input handler so that every failure reaches `done(err)`, the one path that both
 * logs it and triggers Catch nodes (calling node.error as well would fire Catch twice), and the
 * flow keeps running whatever the handler throws.
 */
import { errorMessage, InputError } from './errors';
import type { Done, Node, NodeMessageInFlow, Send } from './red';
import { statusReporterOf, type StatusReporter } from './status';

export type InputHandler = (msg: NodeMessageInFlow, send: Send, done: Done) => void | Promise<void>;

/**
 * A refused or failed message also shows on the node for a few seconds (red ring, the reason),
 * then the node's own status comes back: the editor shows what Catch and the log were told.
 */
export function onInput(node: Node, handler: InputHandler): void {
  // The node makes its StatusReporter before or after wiring its input: look it up on first use.
  let reporter: StatusReporter | undefined;
  const status = () => (reporter ??= statusReporterOf(node));
  node.on('close', () => status()?.dispose());
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    const settle: Done = (err?: Error) => {
      if (err) status()?.flash('error', `${err instanceof InputError ? 'refused' : 'failed'}: ${errorMessage(err)}`);
      else status()?.endFlash();
      done(err);
    };
    const fail = (err: unknown) => settle(err instanceof Error ? err : new Error(String(err)));
    try {
      const r = handler(msg, send, settle);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
