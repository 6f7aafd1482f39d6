import { EventEmitter } from 'events';
import { onInput } from '../../../nodes/shared/input';
import { InputError } from '../../../nodes/shared/errors';
import { StatusReporter, REFUSED_FLASH_MS, type NodeStatus } from '../../../nodes/shared/status';

/** A stand-in for a Node-RED node: an emitter with status(). */
function fakeNode() {
  const node = new EventEmitter() as EventEmitter & { status: (s: NodeStatus) => void; shown: NodeStatus[] };
  node.shown = [];
  node.status = (s) => node.shown.push(s);
  return node;
}

describe('refused input shows on the node, then the steady status returns', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('flashes a red ring with the reason for InputError and restores the steady status', () => {
    const node = fakeNode();
    const status = new StatusReporter(node);
    status.set('ok', 'connected');
    const errors: unknown[] = [];
    onInput(node as never, () => {
      throw new InputError('msg.payload must be a number');
    });
    node.emit('input', {}, () => undefined, (e?: Error) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect(node.shown.at(-1)).toEqual({ fill: 'red', shape: 'ring', text: expect.stringMatching(/^refused: msg.payload/) });
    jest.advanceTimersByTime(REFUSED_FLASH_MS);
    expect(node.shown.at(-1)).toEqual({ fill: 'green', shape: 'dot', text: 'connected' });
  });

  it('holds the flash against the node\'s own updates; the next message that succeeds ends it', () => {
    const node = fakeNode();
    const status = new StatusReporter(node);
    status.set('ok', 'written');
    let refuse = true;
    onInput(node as never, (_m, _s, done) => {
      if (refuse) throw new InputError('unknown tag "x"');
      status.set('ok', 'written 2');
      done();
    });
    node.emit('input', {}, () => undefined, () => undefined);
    expect(node.shown.at(-1)?.fill).toBe('red');
    status.set('ok', 'connected');
    expect(node.shown.at(-1)?.fill).toBe('red');
    refuse = false;
    node.emit('input', {}, () => undefined, () => undefined);
    expect(node.shown.at(-1)).toEqual({ fill: 'green', shape: 'dot', text: 'written 2' });
    const before = node.shown.length;
    jest.advanceTimersByTime(REFUSED_FLASH_MS * 2);
    expect(node.shown.length).toBe(before);
  });

  it('says failed for errors a handler passes to done itself (a device error)', () => {
    const node = fakeNode();
    const status = new StatusReporter(node);
    status.set('ok', 'written');
    onInput(node as never, (_m, _s, done) => done(new Error('illegal data address')));
    node.emit('input', {}, () => undefined, () => undefined);
    expect(node.shown.at(-1)?.text).toBe('failed: illegal data address');
    jest.advanceTimersByTime(REFUSED_FLASH_MS);
    expect(node.shown.at(-1)?.text).toBe('written');
  });

  it('stops its timer when the node closes', async () => {
    const node = fakeNode();
    new StatusReporter(node).set('ok', 'x');
    onInput(node as never, () => Promise.reject(new InputError('bad')));
    node.emit('input', {}, () => undefined, () => undefined);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(node.shown.at(-1)?.text).toBe('refused: bad');
    node.emit('close');
    const before = node.shown.length;
    jest.advanceTimersByTime(REFUSED_FLASH_MS * 2);
    expect(node.shown.length).toBe(before);
  });
});
