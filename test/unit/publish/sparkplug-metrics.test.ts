import { InputError } from '../../../nodes/shared/errors';
import { coerceValue, decodeCommandPayload, encodeSparkplugPayload, inferDatatype, isMetricDatatype } from '../../../nodes/publish/sparkplug-metrics';
import { decode } from './sparkplug-fakes';

describe('Sparkplug metric values', () => {
  it('infers Double for numbers and null, Boolean and String otherwise', () => {
    expect([inferDatatype(1), inferDatatype(null), inferDatatype(true), inferDatatype('x')]).toEqual(['Double', 'Double', 'Boolean', 'String']);
    expect(isMetricDatatype('UInt16')).toBe(true);
    expect(isMetricDatatype('Template')).toBe(false);
  });

  it.each([
    ['Int8', -128, 127, -129, 128],
    ['UInt8', 0, 255, -1, 256],
    ['Int16', -32768, 32767, -32769, 32768],
    ['UInt16', 0, 65535, -1, 65536],
    ['Int32', -2147483648, 2147483647, -2147483649, 2147483648],
    ['UInt32', 0, 4294967295, -1, 4294967296],
  ] as const)('keeps %s inside its range', (type, lo, hi, below, above) => {
    expect(coerceValue('m', type, lo)).toBe(lo);
    expect(coerceValue('m', type, hi)).toBe(hi);
    expect(() => coerceValue('m', type, below)).toThrow(/outside/);
    expect(() => coerceValue('m', type, above)).toThrow(/outside/);
  });

  it('converts what is unambiguous and refuses the rest with the metric name', () => {
    expect(coerceValue('b', 'Boolean', 1)).toBe(true);
    expect(coerceValue('b', 'Boolean', 'false')).toBe(false);
    expect(() => coerceValue('b', 'Boolean', 2)).toThrow(/metric "b" is Boolean: 2 is not a boolean/);
    expect(coerceValue('s', 'String', 12)).toBe('12');
    expect(coerceValue('d', 'Double', ' 7.5 ')).toBe(7.5);
    expect(() => coerceValue('d', 'Double', '')).toThrow(InputError);
    expect(() => coerceValue('f', 'Float', 1e39)).toThrow(/32-bit float/);
    expect(() => coerceValue('i', 'Int64', 2 ** 60)).toThrow(/outside/);
    expect(coerceValue('x', 'Int32', null)).toBeNull();
  });

  it('encodes 64-bit, float and null metrics that decode to the same values', () => {
    const bytes = encodeSparkplugPayload({
      timestamp: 5,
      seq: 3,
      metrics: [
        { name: 'a', alias: 10, datatype: 'Int64', value: -42, ts: 5 },
        { name: 'b', alias: 11, datatype: 'UInt64', value: 2 ** 40, ts: 5 },
        { name: 'c', alias: 12, datatype: 'Float', value: 1.5, ts: 5 },
        { name: 'd', alias: 13, datatype: 'Double', value: null, quality: 'bad', ts: 5, historical: true },
      ],
    });
    const p = decode('spBv1.0/G/DBIRTH/E/D', bytes);
    expect(p.seq).toBe(3);
    expect(p.metrics.map((m) => [m.name, m.alias, m.type, m.value])).toEqual([
      ['a', 10, 'Int64', -42],
      ['b', 11, 'UInt64', 2 ** 40],
      ['c', 12, 'Float', 1.5],
      ['d', 13, 'Double', null],
    ]);
    expect(p.metrics[3].isHistorical).toBe(true);
    const cmd = decodeCommandPayload(bytes);
    expect(cmd.metrics[1]).toMatchObject({ name: 'b', alias: 11, datatype: 'UInt64', value: 2 ** 40, ts: 5 });
  });

  it('refuses bytes that are not a Sparkplug payload', () => {
    expect(() => decodeCommandPayload(Buffer.from([0x0a, 0xff, 0xff]))).toThrow(/not a Sparkplug B payload/);
  });
});
