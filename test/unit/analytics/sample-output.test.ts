import { resetTarget, resultMessages, tickMs, type Result } from '../../../nodes/analytics/sample-output';

const r = (tag: string, value: unknown, ts: number, extra: Partial<Result> = {}): Result => ({ tag, value, quality: 'good', ts, ...extra });

describe('resultMessages', () => {
  it('reuses the input for the first single message, keeps user properties, drops stale ones', () => {
    const input = { topic: 'p', payload: 1, unit: 'bar', reset: false, heartbeat: true, _msgid: 'm1', user: 'kept' };
    const [m] = resultMessages([r('p', 2, 10, { unit: 'kPa' })], false, input);
    expect(m).toBe(input);
    expect(m).toEqual({ topic: 'p', payload: 2, quality: 'good', timestamp: 10, unit: 'kPa', _msgid: 'm1', user: 'kept' });
  });

  it('groups batch results by timestamp, in time order, copying the input as it arrived', () => {
    const input = { payload: { a: 1, b: 2 }, _msgid: 'm2' };
    const msgs = resultMessages([r('a', 5, 20), r('b', 6, 10), r('c', 7, 20)], true, input);
    expect(msgs.map((m) => [m.timestamp, m.payload])).toEqual([
      [10, { b: 6 }],
      [20, { a: 5, c: 7 }],
    ]);
    expect(msgs[0]).toBe(input);
    expect(msgs[1]._msgid).toBe('m2');
    expect(msgs[1]).not.toBe(input);
  });

  it('sets a flag on a batch only when every result in it has it', () => {
    const [all] = resultMessages([r('a', 1, 5, { heartbeat: true }), r('b', 1, 5, { heartbeat: true })], true);
    const [some] = resultMessages([r('a', 1, 5, { heartbeat: true }), r('b', 1, 5)], true);
    expect(all.heartbeat).toBe(true);
    expect(some.heartbeat).toBeUndefined();
  });

  it('returns nothing for no results', () => {
    expect(resultMessages([], true, { payload: {} })).toEqual([]);
  });
});

describe('resetTarget and tickMs', () => {
  it('reads msg.reset with or without a topic', () => {
    expect(resetTarget({ reset: true, topic: 'a' })).toEqual({ reset: true, tag: 'a' });
    expect(resetTarget({ reset: true, topic: '' })).toEqual({ reset: true });
    expect(resetTarget({ reset: 'yes' })).toEqual({ reset: false });
  });

  it('keeps timer periods between 50 ms and 1 s', () => {
    expect(tickMs(100)).toBe(50);
    expect(tickMs(2000)).toBe(500);
    expect(tickMs(3_600_000)).toBe(1000);
  });
});
