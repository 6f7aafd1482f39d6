import { Backoff } from '../../../nodes/shared/backoff';
import { StatusReporter, statusOf } from '../../../nodes/shared/status';
import { numberSetting, choiceSetting } from '../../../nodes/shared/config';

describe('Backoff', () => {
  it('doubles up to the maximum, without jitter', () => {
    const b = new Backoff({ initial: 100, max: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('keeps jittered delays within [base*(1-jitter), base]', () => {
    const lo = new Backoff({ initial: 1000, jitter: 0.5, random: () => 0 });
    const hi = new Backoff({ initial: 1000, jitter: 0.5, random: () => 0.999999 });
    expect(lo.next()).toBe(500);
    expect(hi.next()).toBe(1000);
  });
});

describe('status', () => {
  it('maps health to the palette-wide colours', () => {
    expect(statusOf('ok', 'x')).toEqual({ fill: 'green', shape: 'dot', text: 'x' });
    expect(statusOf('error', 'x').fill).toBe('red');
    expect(statusOf('busy', 'x')).toMatchObject({ fill: 'yellow', shape: 'ring' });
    expect(statusOf('stopped', 'x').fill).toBe('grey');
  });

  it('does not resend an identical status', () => {
    const calls: unknown[] = [];
    const r = new StatusReporter({ status: (s) => calls.push(s) });
    r.set('ok', 'a');
    r.set('ok', 'a');
    r.set('ok', 'b');
    expect(calls).toHaveLength(2);
  });
});

describe('settings', () => {
  it('reads editor strings as numbers and refuses garbage', () => {
    expect(numberSetting('12.5', 'x')).toBe(12.5);
    expect(numberSetting('', 'x', 3)).toBe(3);
    expect(() => numberSetting('abc', 'x')).toThrow(/x must be a number/);
    expect(() => choiceSetting('z', 'mode', ['a', 'b'] as const, 'a')).toThrow(/one of a, b/);
  });
});
