import { StatusReporter, STATUS_TEXT_MAX, type NodeStatus } from '../../../nodes/shared/status';

describe('StatusReporter', () => {
  const reporter = () => {
    const calls: NodeStatus[] = [];
    return { calls, r: new StatusReporter({ status: (s) => calls.push(s as NodeStatus) }) };
  };

  it('sends a status when its colour, shape or text changes, and skips identical repeats', () => {
    const { calls, r } = reporter();
    r.set('ok', 'a');
    r.set('ok', 'a');
    r.set('busy', 'a');
    r.set('busy', 'a');
    r.set('busy', 'b');
    r.set('ok', 'b');
    expect(calls).toEqual([
      { fill: 'green', shape: 'dot', text: 'a' },
      { fill: 'yellow', shape: 'ring', text: 'a' },
      { fill: 'yellow', shape: 'ring', text: 'b' },
      { fill: 'green', shape: 'dot', text: 'b' },
    ]);
  });

  it('compares the text as shown: two long texts that differ only past the cut are one status', () => {
    const { calls, r } = reporter();
    const long = 'x'.repeat(STATUS_TEXT_MAX + 5);
    r.set('error', long + '1');
    r.set('error', long + '2');
    expect(calls).toHaveLength(1);
    expect(calls[0].text).toHaveLength(STATUS_TEXT_MAX);
    expect(calls[0].text!.endsWith('…')).toBe(true);
  });

  it('sends the same status again after clear()', () => {
    const { calls, r } = reporter();
    r.set('stopped', 'idle');
    r.clear();
    r.set('stopped', 'idle');
    expect(calls).toEqual([{ fill: 'grey', shape: 'ring', text: 'idle' }, {}, { fill: 'grey', shape: 'ring', text: 'idle' }]);
  });
});
