import { StatusReporter, type NodeStatus } from '../../../nodes/shared/status';
import { ThrottledStatus } from '../../../nodes/analytics/throttled-status';

describe('ThrottledStatus', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function make() {
    const shown: NodeStatus[] = [];
    const s = new ThrottledStatus(new StatusReporter({ status: (x) => shown.push(x as NodeStatus) }), 250);
    return { s, shown };
  }

  it('shows the first update at once, then the newest one when the period ends', () => {
    const { s, shown } = make();
    let n = 0;
    s.update('ok', () => `n ${++n}`);
    s.update('ok', () => `n ${++n}`);
    s.update('ok', () => `n ${++n}`);
    expect(shown.map((x) => x.text)).toEqual(['n 1']);
    jest.advanceTimersByTime(250);
    // Only the newest text is computed and shown.
    expect(shown.map((x) => x.text)).toEqual(['n 1', 'n 2']);
    expect(n).toBe(2);
  });

  it('shows errors and explicit states at once and drops a waiting update', () => {
    const { s, shown } = make();
    s.update('ok', () => 'a');
    s.update('ok', () => 'b');
    s.update('error', () => 'input rejected');
    s.update('ok', () => 'c');
    s.set('stopped', 'reset');
    jest.advanceTimersByTime(1000);
    expect(shown.map((x) => [x.fill, x.text])).toEqual([
      ['green', 'a'],
      ['red', 'input rejected'],
      ['grey', 'reset'],
    ]);
  });

  it('leaves no timer behind after dispose', () => {
    const { s, shown } = make();
    s.update('ok', () => 'a');
    s.update('ok', () => 'b');
    s.dispose();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(shown).toHaveLength(1);
  });
});
