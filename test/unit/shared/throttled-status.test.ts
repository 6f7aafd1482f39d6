import { StatusReporter, type NodeStatus } from '../../../nodes/shared/status';
import { ThrottledStatus } from '../../../nodes/shared/throttled-status';

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

  it('refresh works its view out only when it shows it: at once, then once per period', () => {
    const { s, shown } = make();
    let calls = 0;
    let active = 0;
    const view = () => {
      calls++;
      return active ? { health: 'busy' as const, text: `${active} active` } : { health: 'ok' as const, text: 'normal' };
    };
    s.refresh(view);
    for (active = 1; active <= 1000; active++) s.refresh(view);
    expect(calls).toBe(1);
    expect(shown.map((x) => [x.fill, x.text])).toEqual([['green', 'normal']]);
    active = 7;
    jest.advanceTimersByTime(250);
    expect(calls).toBe(2);
    expect(shown.map((x) => [x.fill, x.text])).toEqual([
      ['green', 'normal'],
      ['yellow', '7 active'],
    ]);
    // A set (an error, a reset) drops the waiting view; an update replaces it.
    s.refresh(view);
    s.set('error', 'refused');
    s.refresh(view);
    s.update('ok', () => 'figures');
    jest.advanceTimersByTime(1000);
    expect(calls).toBe(2);
    expect(shown.slice(2).map((x) => x.text)).toEqual(['refused', 'figures']);
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
