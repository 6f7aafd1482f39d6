import { SavedState, type StateContext } from '../../../nodes/shared/saved-state';

/** A context whose get answers when told (or at once), and which records every set. */
function fakeContext(answerAtOnce: boolean, saved: unknown = undefined) {
  const sets: unknown[] = [];
  let answer: (() => void) | undefined;
  let failSet: Error | undefined;
  const ctx: StateContext = {
    get: (_key, cb) => {
      if (answerAtOnce) cb(undefined, saved);
      else answer = () => cb(undefined, saved);
    },
    set: (_key, value, cb) => {
      sets.push(JSON.parse(JSON.stringify(value)));
      cb(failSet);
    },
  };
  return { ctx, sets, answer: () => answer!(), failNextSets: (e: Error) => (failSet = e) };
}

describe('SavedState', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function make(answerAtOnce: boolean, saved?: unknown, maxWaiting?: number) {
    const f = fakeContext(answerAtOnce, saved);
    let state = { n: 0 };
    const restored: unknown[] = [];
    const failures: Array<[string, string]> = [];
    const s = new SavedState(f.ctx, {
      key: 'k',
      restore: (v) => {
        restored.push(v);
        if (v) state = v as { n: number };
      },
      snapshot: () => state,
      failed: (what, err) => failures.push([what, err.message]),
      everyMs: 1000,
      maxWaiting,
    });
    return { s, f, restored, failures, bump: () => state.n++ };
  }

  it('with a synchronous store: restores in the constructor and runs input at once', () => {
    const { s, restored } = make(true, { n: 7 });
    expect(restored).toEqual([{ n: 7 }]);
    expect(s.ready).toBe(true);
    const ran: number[] = [];
    s.whenReady(() => ran.push(1));
    expect(ran).toEqual([1]);
  });

  it('with an asynchronous store: input waits, in order, until the state is back', () => {
    const { s, f, restored } = make(false, { n: 3 });
    const ran: string[] = [];
    s.whenReady(() => ran.push(`a after ${restored.length}`));
    s.whenReady(() => ran.push(`b after ${restored.length}`));
    expect(ran).toEqual([]);
    expect(s.ready).toBe(false);
    f.answer();
    expect(ran).toEqual(['a after 1', 'b after 1']);
    expect(s.ready).toBe(true);
  });

  it('refuses input beyond maxWaiting while loading, with a clear error', () => {
    const { s } = make(false, undefined, 2);
    s.whenReady(() => undefined);
    s.whenReady(() => undefined);
    expect(() => s.whenReady(() => undefined)).toThrow(/still loading and 2 messages are waiting/);
  });

  it('writes at once, then at most once a period with the newest state, and nothing when nothing changed', () => {
    const { s, f, bump } = make(true);
    bump();
    s.save();
    expect(f.sets).toEqual([{ n: 1 }]);
    bump();
    s.save();
    bump();
    s.save();
    expect(f.sets).toHaveLength(1);
    jest.advanceTimersByTime(1000);
    expect(f.sets).toEqual([{ n: 1 }, { n: 3 }]);
    jest.advanceTimersByTime(5000);
    expect(f.sets).toHaveLength(2);
    // A quiet period has passed: the next change is written at once again.
    bump();
    s.save();
    expect(f.sets).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
  });

  it('saveNow writes within a quiet period; close writes what is still unwritten, once', () => {
    const { s, f, bump } = make(true);
    s.save();
    bump();
    s.saveNow();
    expect(f.sets).toEqual([{ n: 0 }, { n: 1 }]);
    bump();
    s.save();
    s.close(new Error('closed'));
    expect(f.sets).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    s.close(new Error('closed'));
    s.save();
    jest.advanceTimersByTime(5000);
    expect(f.sets).toHaveLength(3);
  });

  it('close before the state is back: waiting input gets the error, a late answer is ignored, nothing is written (a save then would overwrite the saved state)', () => {
    const { s, f, restored } = make(false, { n: 9 });
    const got: Array<string | undefined> = [];
    s.whenReady((err) => got.push(err?.message));
    s.save();
    s.close(new Error('node closed'));
    expect(got).toEqual(['node closed']);
    f.answer();
    expect(restored).toEqual([]);
    expect(f.sets).toHaveLength(0);
  });

  it('reports a failed write without throwing', () => {
    const { s, f, failures } = make(true);
    f.failNextSets(new Error('disk full'));
    s.save();
    expect(failures).toEqual([['save', 'disk full']]);
  });
});
