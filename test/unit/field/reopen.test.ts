import { Backoff } from '../../../nodes/shared/backoff';
import { Reopener } from '../../../nodes/field/reopen';

describe('Reopener', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup(failTimes: number) {
    let calls = 0;
    const failed: { first: boolean; attempt: number; retryIn: number }[] = [];
    const opened: string[] = [];
    const r = new Reopener<string>(
      {
        open: () => {
          calls++;
          if (calls <= failTimes) throw new Error(`missing ${calls}`);
          return `line${calls}`;
        },
        opened: (x) => opened.push(x),
        failed: (_e, first, attempt, retryIn) => failed.push({ first, attempt, retryIn }),
      },
      new Backoff({ initial: 100, max: 400, jitter: 0 }),
    );
    return { r, failed, opened, calls: () => calls };
  }

  it('retries on a doubling delay, flags only the first failure, and opens when it can', async () => {
    const { r, failed, opened } = setup(4);
    await r.start();
    await jest.advanceTimersByTimeAsync(100 + 200 + 400 + 400);
    expect(failed).toEqual([
      { first: true, attempt: 1, retryIn: 100 },
      { first: false, attempt: 2, retryIn: 200 },
      { first: false, attempt: 3, retryIn: 400 },
      { first: false, attempt: 4, retryIn: 400 },
    ]);
    expect(opened).toEqual(['line5']);
    expect(r.current).toBe('line5');
  });

  it('starts a new episode after a loss, with its own first failure', async () => {
    const plan = [true, false, false, true]; // opens, then (after the loss) fails twice, then opens
    const failed: boolean[] = [];
    const opened: number[] = [];
    let i = 0;
    const r = new Reopener<number>(
      {
        open: () => {
          const ok = plan[i++];
          if (!ok) throw new Error('gone');
          return i;
        },
        opened: (n) => opened.push(n),
        failed: (_e, first) => failed.push(first),
      },
      new Backoff({ initial: 100, max: 400, jitter: 0 }),
    );
    await r.start();
    r.lost();
    await jest.advanceTimersByTimeAsync(100 + 200);
    expect(opened).toEqual([1, 4]);
    expect(failed).toEqual([true, false]);
  });

  it('reopens after a loss that follows an episode which ended in a retry (every loss, however it opened before)', async () => {
    // Fails once, opens on the retry; later lost twice, reopening at once each time.
    const { r, opened, calls } = setup(1);
    await r.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(opened).toEqual(['line2']);
    r.lost();
    await jest.advanceTimersByTimeAsync(0);
    expect(opened).toEqual(['line2', 'line3']);
    r.lost();
    await jest.advanceTimersByTimeAsync(0);
    expect(opened).toEqual(['line2', 'line3', 'line4']);
    expect(calls()).toBe(4);
  });

  it('stops retrying when stopped and hands back what is open', async () => {
    const { r, calls } = setup(100);
    await r.start();
    expect(r.stop()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls()).toBe(1);
    const ok = setup(0);
    await ok.r.start();
    expect(ok.r.stop()).toBe('line1');
  });

  it('closes a resource whose open() resolves after stop()', async () => {
    let closed = 0;
    let opened = 0;
    const r = new Reopener<{ close(): void }>({
      open: () => new Promise((res) => setTimeout(() => res({ close: () => void closed++ }), 20)),
      opened: () => opened++,
      failed: () => undefined,
    });
    void r.start();
    await jest.advanceTimersByTimeAsync(5);
    expect(r.stop()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(50);
    expect(closed).toBe(1);
    expect(opened).toBe(0);
    expect(r.current).toBeUndefined();
  });

  it('uses the close handler when one is given for a late open', async () => {
    const closedWith: string[] = [];
    const r = new Reopener<string>({
      open: () => new Promise((res) => setTimeout(() => res('line7'), 20)),
      opened: () => undefined,
      failed: () => undefined,
      close: (x) => void closedWith.push(x),
    });
    void r.start();
    await jest.advanceTimersByTimeAsync(5);
    r.stop();
    await jest.advanceTimersByTimeAsync(50);
    expect(closedWith).toEqual(['line7']);
  });
});
