import { batchMessage, isBatchMessage, samplesFromMessage, singleMessage, worstQuality, writeSamples } from '../../../nodes/shared/sample';
import { InputError } from '../../../nodes/shared/errors';

const now = () => 1_700_000_000_000;

describe('samplesFromMessage', () => {
  it('reads the single form', () => {
    expect(samplesFromMessage({ topic: 'line1/t', payload: 21.5, quality: 'uncertain', timestamp: 5, unit: '°C' }, { now })).toEqual([
      { tag: 'line1/t', value: 21.5, quality: 'uncertain', ts: 5, unit: '°C' },
    ]);
  });

  it('fills missing quality with good and missing timestamp with now', () => {
    expect(samplesFromMessage({ topic: 'a', payload: true }, { now })).toEqual([{ tag: 'a', value: true, quality: 'good', ts: now() }]);
  });

  it('uses the default tag when topic is missing', () => {
    expect(samplesFromMessage({ payload: 1 }, { now, defaultTag: 'flow' })[0].tag).toBe('flow');
  });

  it('reads the batch form with per-tag quality and units', () => {
    const s = samplesFromMessage(
      { payload: { a: 1, b: null }, quality: { b: 'bad' }, timestamp: '2024-01-01T00:00:00Z', units: { a: 'bar' } },
      { now },
    );
    expect(s).toEqual([
      { tag: 'a', value: 1, quality: 'good', ts: Date.parse('2024-01-01T00:00:00Z'), unit: 'bar' },
      { tag: 'b', value: null, quality: 'bad', ts: Date.parse('2024-01-01T00:00:00Z') },
    ]);
  });

  it('treats an object payload with a string quality as a single sample, not a batch', () => {
    expect(isBatchMessage({ topic: 't', payload: { mean: 1 }, quality: 'good' })).toBe(false);
    expect(() => samplesFromMessage({ topic: 't', payload: { mean: 1 }, quality: 'good' })).toThrow(InputError);
    expect(samplesFromMessage({ topic: 't', payload: { mean: 1 }, quality: 'good' }, { allowObjectValues: true })[0].value).toEqual({ mean: 1 });
  });

  it.each([
    [{ payload: NaN }, /finite/],
    [{ payload: Infinity }, /finite/],
    [{ payload: [1, 2] }, /an array/],
    [{ payload: undefined }, /undefined/],
    [{ payload: 1, quality: 'fine' }, /quality/],
    [{ payload: 1, timestamp: 'yesterday' }, /not a date/],
    [{ payload: 1, timestamp: NaN }, /finite/],
    [{ payload: 1, timestamp: 1e300 }, /range of dates/],
    [{ payload: 1, timestamp: {} }, /epoch/],
    [{ payload: { a: 'x', b: NaN } }, /payload\["b"\]/],
  ])('refuses %p with a clear InputError', (msg, re) => {
    expect(() => samplesFromMessage(msg as never, { now })).toThrow(re);
    expect(() => samplesFromMessage(msg as never, { now })).toThrow(InputError);
  });

  it('reads a batch built in another realm (a function node sandbox)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vm = require('vm') as typeof import('vm');
    const msg = vm.runInNewContext('({ payload: { a: 1, b: 2 }, quality: { b: "bad" } })');
    expect(isBatchMessage(msg)).toBe(true);
    expect(samplesFromMessage(msg, { now }).map((x) => [x.tag, x.value, x.quality])).toEqual([
      ['a', 1, 'good'],
      ['b', 2, 'bad'],
    ]);
    expect(isBatchMessage({ payload: new Date(0) })).toBe(false);
    expect(isBatchMessage({ payload: Buffer.from('x') })).toBe(false);
  });

  it('reads ISO timestamps right when the same and different texts alternate', () => {
    const a = '2024-01-01T00:00:00Z';
    const b = '2024-06-01T12:30:00.250Z';
    for (const t of [a, a, b, a, b, b, '2024-01-01T00:00:00+02:00', a]) {
      expect(samplesFromMessage({ payload: 1, timestamp: t }, { now })[0].ts).toBe(Date.parse(t));
    }
    expect(() => samplesFromMessage({ payload: 1, timestamp: '2024-13-45T99:00:00Z' }, { now })).toThrow(/not a date/);
  });

  it('returns no samples for an empty batch', () => {
    expect(samplesFromMessage({ payload: {} }, { now })).toEqual([]);
  });
});

describe('message forms', () => {
  const samples = [
    { tag: 'a', value: 1, quality: 'good' as const, ts: 10, unit: 'bar' },
    { tag: 'b', value: 'x', quality: 'bad' as const, ts: 12 },
  ];

  it('round-trips a batch', () => {
    const msg = batchMessage(samples);
    expect(msg).toEqual({ payload: { a: 1, b: 'x' }, quality: { a: 'good', b: 'bad' }, timestamp: 12, units: { a: 'bar' } });
    expect(samplesFromMessage(msg, { now })).toEqual(samples.map((s) => ({ ...s, ts: 12 })));
  });

  it('round-trips a single sample', () => {
    expect(samplesFromMessage(singleMessage(samples[0]), { now })).toEqual([samples[0]]);
  });

  it('writes samples back in the form they came, keeping other properties', () => {
    const msg = { _msgid: 'm1', topic: 'a', payload: 1, extra: 7 };
    expect(writeSamples(msg, [{ tag: 'a', value: 2, quality: 'uncertain', ts: 3 }], false)).toEqual({
      _msgid: 'm1', topic: 'a', payload: 2, quality: 'uncertain', timestamp: 3, extra: 7,
    });
  });

  it('writes a single sample over the old unit and units, and its own unit when it has one', () => {
    const msg: Record<string, unknown> = { _msgid: 'm2', topic: 'a', payload: 1, unit: 'mA', units: { a: 'mA' } };
    expect(writeSamples(msg, [{ tag: 'a', value: 2, quality: 'good', ts: 3 }], false)).toEqual({ _msgid: 'm2', topic: 'a', payload: 2, quality: 'good', timestamp: 3 });
    expect(Object.keys(msg)).toEqual(['_msgid', 'topic', 'payload', 'quality', 'timestamp']);
    expect(writeSamples({ payload: 1 }, [{ tag: 'b', value: 4, quality: 'bad', ts: 5, unit: 'bar' }], false)).toEqual({ topic: 'b', payload: 4, quality: 'bad', timestamp: 5, unit: 'bar' });
    const untouched = { payload: 1 };
    expect(writeSamples(untouched, [], false)).toBe(untouched);
    expect(untouched).toEqual({ payload: 1 });
  });

  it('writes a batch without a topic unless the message had one', () => {
    const batch = [{ tag: 'a', value: 1, quality: 'good' as const, ts: 9 }];
    expect(writeSamples({ payload: {}, unit: 'x' }, batch, true)).toEqual({ payload: { a: 1 }, quality: { a: 'good' }, timestamp: 9 });
    expect(writeSamples({ topic: 'poll', payload: {} }, batch, true)).toEqual({ topic: 'poll', payload: { a: 1 }, quality: { a: 'good' }, timestamp: 9 });
  });

  it('ranks qualities', () => {
    expect(worstQuality('good', 'bad')).toBe('bad');
    expect(worstQuality('uncertain', 'good')).toBe('uncertain');
  });
});
