/**
 * Wires a node's input handler so that every failure reaches `done(err)`, the one path that both
 * logs it and triggers Catch nodes (calling node.error as well would fire Catch twice), and the
 * flow keeps running whatever the handler throws.
 */
import { errorMessage, InputError } from './errors';
import type { Done, Node, NodeMessageInFlow, Send } from './red';
import { statusReporterOf, type StatusReporter } from './status';

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Shows a refused (InputError) or failed message on the node, as Catch and the log are told. */
function flashFailure(status: StatusReporter | undefined, err: Error): void {
  status?.flash('error', `${err instanceof InputError ? 'refused' : 'failed'}: ${errorMessage(err)}`);
}

export type InputHandler = (msg: NodeMessageInFlow, send: Send, done: Done) => void | Promise<void>;

/**
 * A refused or failed message also shows on the node for a few seconds (red ring, the reason),
 * then the node's own status comes back: the editor shows what Catch and the log were told.
 */
export function onInput(node: Node, handler: InputHandler): void {
  node.on('close', () => statusReporterOf(node)?.dispose());
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    const settle = settleLater(node, done);
    try {
      const r = handler(msg, send, settle);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch((err: unknown) => settle(asError(err)));
    } catch (err) {
      settle(asError(err));
    }
  });
}

/** Returned by a SyncInputHandler that keeps `done` to call it later (a message held in a queue). */
export const HELD = Symbol('held');

/**
 * A synchronous input handler: returns when the message is handled, throws when it is refused,
 * or returns HELD when it has kept `done` (wrapped by settleLater) to call once it is handled.
 */
export type SyncInputHandler = (msg: NodeMessageInFlow, send: Send, done: Done) => void | typeof HELD;

/** `done` for a message handled later: a failure then shows on the node as onInput shows it. */
export function settleLater(node: Node, done: Done): Done {
  return (err?: Error) => {
    const status = statusReporterOf(node);
    if (err) flashFailure(status, err);
    else status?.endFlash();
    done(err);
  };
}

/**
 * onInput for handlers that finish before they return (the analytics nodes): the same errors,
 * Catch and status flash, without the two closures per message that onInput makes to watch a
 * `done` called later. At tens of thousands of samples a second those closures cost more than a
 * statistic (bench/analytics). With `watched` (completionWatch), a message handled without error
 * is marked done only when something observes it (a Complete node, an onComplete hook, metrics).
 */
export function onSyncInput(node: Node, handler: SyncInputHandler, watched?: () => boolean): void {
  let reporter: StatusReporter | undefined;
  let looked = false;
  const status = (): StatusReporter | undefined => {
    if (!looked) {
      reporter = statusReporterOf(node);
      looked = reporter !== undefined;
    }
    return reporter;
  };
  node.on('close', () => status()?.dispose());
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    try {
      if (handler(msg, send, done) === HELD) return;
    } catch (thrown) {
      const err = asError(thrown);
      flashFailure(status(), err);
      done(err);
      return;
    }
    status()?.endFlash();
    // A successful done() that nothing observes is skipped (see completion.ts); errors always go to done(err).
    if (watched === undefined || watched()) done();
  });
}
