import fc from 'fast-check';
import { FrameParser, convertText, unescapeDelimiter } from '../../../nodes/field/frame-parser';

const weigh = new FrameParser({
  format: 'regex',
  pattern: '^(?<status>ST|US),(?<mode>GS|NT),(?<weight>[-+]?\\d+(?:\\.\\d+)?)\\s*(?<weight_unit>[a-z]+)$',
});

describe('FrameParser regex', () => {
  it('parses a weighing-indicator frame: groups are tags, numbers converted, unit groups give units', () => {
    const r = weigh.parse('ST,GS,+0012.34 kg\r\n');
    expect(r).toEqual({
      ok: true,
      values: [
        { tag: 'status', value: 'ST' },
        { tag: 'mode', value: 'GS' },
        { tag: 'weight', value: 12.34, unit: 'kg' },
      ],
    });
    expect(weigh.tags).toEqual(['status', 'mode', 'weight']);
  });

  it('decodes Buffer frames as text', () => {
    const r = weigh.parse(Buffer.from('US,NT,-0000.50 kg\r\n'));
    expect(r.ok && r.values.find((v) => v.tag === 'weight')?.value).toBe(-0.5);
  });

  it('reports a frame that does not match as malformed with every tag', () => {
    expect(weigh.parse('OL,GS,+99999 kg')).toEqual({ ok: false, reason: 'the frame does not match the pattern', tags: ['status', 'mode', 'weight'] });
    expect(weigh.parse('\r\n')).toMatchObject({ ok: false, reason: 'empty frame' });
  });

  it('skips optional groups that did not take part', () => {
    const p = new FrameParser({ format: 'regex', pattern: 'T=(?<t>[\\d.]+)(?:;H=(?<h>[\\d.]+))?' });
    expect(p.parse('T=21.5')).toEqual({ ok: true, values: [{ tag: 't', value: 21.5 }] });
  });

  it('refuses patterns that cannot work', () => {
    expect(() => new FrameParser({ format: 'regex', pattern: '(' })).toThrow(/does not compile/);
    expect(() => new FrameParser({ format: 'regex', pattern: '\\d+' })).toThrow(/named group/);
    expect(() => new FrameParser({ format: 'regex' })).toThrow(/pattern is required/);
  });

  it('ignores the global flag: every frame is matched from its start', () => {
    const p = new FrameParser({ format: 'regex', pattern: '(?<v>\\d+)', flags: 'g' });
    expect(p.parse('12')).toMatchObject({ ok: true });
    expect(p.parse('34')).toEqual({ ok: true, values: [{ tag: 'v', value: 34 }] });
  });
});

describe('FrameParser delimited', () => {
  const p = new FrameParser({
    format: 'delimited',
    delimiter: ';',
    fields: [
      { name: 'flow', index: 1, unit: 'm3/h' },
      { name: 'state', index: 3 },
    ],
  });

  it('picks fields by index and converts numbers', () => {
    expect(p.parse('F1; 12.5 ;x;RUN\n')).toEqual({
      ok: true,
      values: [
        { tag: 'flow', value: 12.5, unit: 'm3/h' },
        { tag: 'state', value: 'RUN' },
      ],
    });
  });

  it('never passes a half-parsed frame: a missing or empty field makes the whole frame malformed', () => {
    expect(p.parse('F1;12.5;x')).toMatchObject({ ok: false, reason: expect.stringMatching(/"state" \(index 3\) is missing/), tags: ['flow', 'state'] });
    expect(p.parse('F1;;x;RUN')).toMatchObject({ ok: false, reason: expect.stringMatching(/"flow" \(index 1\) is empty/) });
  });

  it('understands \\t and \\xHH delimiters', () => {
    expect(unescapeDelimiter('\\t')).toBe('\t');
    expect(unescapeDelimiter('\\x1f')).toBe('\x1f');
    const tab = new FrameParser({ format: 'delimited', delimiter: '\\t', fields: [{ name: 'a', index: 0 }] });
    expect(tab.parse('7\t8')).toEqual({ ok: true, values: [{ tag: 'a', value: 7 }] });
  });

  it('refuses bad field lists', () => {
    expect(() => new FrameParser({ format: 'delimited', fields: [] })).toThrow(/at least one field/);
    expect(() => new FrameParser({ format: 'delimited', fields: [{ name: 'a', index: -1 }] })).toThrow(/index/);
    expect(() => new FrameParser({ format: 'delimited', fields: [{ name: 'a', index: 0 }, { name: 'a', index: 1 }] })).toThrow(/twice/);
    expect(() => new FrameParser({ format: 'delimited', delimiter: '', fields: [{ name: 'a', index: 0 }] })).toThrow(/delimiter is empty/);
  });
});

describe('FrameParser binary (Modbus codec byte orders)', () => {
  const p = new FrameParser({
    format: 'binary',
    fields: [
      { name: 'temp', offset: 0, type: 'int16', scale: 0.1, unit: '°C' },
      { name: 'flow', offset: 2, type: 'float32', order: 'CDAB' },
      { name: 'count', offset: 6, type: 'uint32', order: 'DCBA' },
      { name: 'id', offset: 10, type: 'string', length: 4 },
    ],
  });
  const frame = Buffer.alloc(14);
  frame.writeInt16BE(-123, 0);
  const f = Buffer.alloc(4);
  f.writeFloatBE(3.5, 0);
  Buffer.from([f[2], f[3], f[0], f[1]]).copy(frame, 2); // word swap
  frame.writeUInt32LE(70000, 6); // DCBA = little-endian
  frame.write('PW01', 10, 'latin1');

  it('decodes each field with its type, order and scale', () => {
    expect(p.parse(frame)).toEqual({
      ok: true,
      values: [
        { tag: 'temp', value: -12.3, unit: '°C' },
        { tag: 'flow', value: 3.5 },
        { tag: 'count', value: 70000 },
        { tag: 'id', value: 'PW01' },
      ],
    });
    expect(p.parse([...frame])).toMatchObject({ ok: true });
  });

  it('a short frame is malformed, not partly decoded', () => {
    expect(p.parse(frame.subarray(0, 9))).toMatchObject({ ok: false, tags: ['temp', 'flow', 'count', 'id'] });
  });

  it('a NaN float in the frame is malformed', () => {
    const nan = Buffer.from(frame);
    nan.writeUInt32BE(0x00007fc0, 2); // 0x7FC00000 (a quiet NaN) with its words swapped (CDAB)
    expect(p.parse(nan)).toMatchObject({ ok: false, reason: expect.stringMatching(/"flow" decodes to NaN/) });
  });

  it('64-bit integers past 2^53 are malformed rather than rounded', () => {
    const big = new FrameParser({ format: 'binary', fields: [{ name: 'e', offset: 0, type: 'uint64' }] });
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(2n ** 60n + 1n);
    expect(big.parse(b)).toMatchObject({ ok: false });
    b.writeBigUInt64BE(123456789n);
    expect(big.parse(b)).toEqual({ ok: true, values: [{ tag: 'e', value: 123456789 }] });
  });

  it('needs a Buffer and refuses impossible fields', () => {
    expect(() => p.parse('abc')).toThrow(/needs a Buffer/);
    expect(() => new FrameParser({ format: 'binary', fields: [{ name: 'x', offset: 0, type: 'float32', order: 'AB' }] })).toThrow(/takes byte order/);
    expect(() => new FrameParser({ format: 'binary', fields: [{ name: 'x', offset: 0, type: 'int128' as never }] })).toThrow(/type "int128"/);
    expect(() => new FrameParser({ format: 'binary', fields: [{ name: 'x', offset: 0, type: 'string' }] })).toThrow(/length/);
  });
});

describe('FrameParser input checks', () => {
  it.each([[42], [null], [undefined], [{ a: 1 }], [NaN], [[1, 2, 300]]])('refuses %p as a frame', (bad) => {
    expect(() => weigh.parse(bad)).toThrow(/must be a frame/);
  });

  it('refuses huge frames', () => {
    expect(() => weigh.parse('x'.repeat(70000))).toThrow(/larger than 65536/);
  });

  it('never throws anything but InputError on arbitrary text, and a match is always complete', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = weigh.parse(s);
        if (r.ok) expect(r.values.map((v) => v.tag)).toEqual(['status', 'mode', 'weight']);
        else expect(r.tags).toEqual(['status', 'mode', 'weight']);
      }),
    );
  });

  it('converts only whole numbers of text', () => {
    expect(convertText('+0012.34')).toBe(12.34);
    expect(convertText('1e3')).toBe(1000);
    expect(convertText('12abc')).toBe('12abc');
    expect(convertText('0x10')).toBe('0x10');
    expect(convertText(' -.5 ')).toBe(-0.5);
  });
});

describe('FrameParser malformed edge cases', () => {
  const two = new FrameParser({ format: 'delimited', delimiter: ',', fields: [{ name: 'a', index: 0 }, { name: 'b', index: 1 }] });

  it('a CR or LF inside a delimited frame (two frames joined) is malformed', () => {
    expect(two.parse('1,2\r\n3,4\r\n')).toMatchObject({ ok: false, tags: ['a', 'b'] });
    expect(two.parse('1,2\r\n3,')).toMatchObject({ ok: false, tags: ['a', 'b'] });
    expect(two.parse('1,2\n3')).toMatchObject({ ok: false });
    expect(two.parse(Buffer.from('1,2\r3,4'))).toMatchObject({ ok: false });
    // Terminators at the ends are still stripped.
    expect(two.parse('\r\n1,2\r\n')).toEqual({ ok: true, values: [{ tag: 'a', value: 1 }, { tag: 'b', value: 2 }] });
  });

  it('a CR or LF inside a regex frame is malformed too', () => {
    const r = new FrameParser({ format: 'regex', pattern: 'T=(?<t>\\d+)' });
    expect(r.parse('T=1\r\nT=2')).toMatchObject({ ok: false, tags: ['t'] });
    expect(r.parse('T=1\r\n')).toEqual({ ok: true, values: [{ tag: 't', value: 1 }] });
  });

  it('number text that overflows to Infinity makes the frame malformed', () => {
    const d = new FrameParser({ format: 'delimited', delimiter: ',', fields: [{ name: 't', index: 0 }] });
    expect(d.parse('1e400')).toMatchObject({ ok: false, tags: ['t'] });
    expect(d.parse('-9e999')).toMatchObject({ ok: false });
    const r = new FrameParser({ format: 'regex', pattern: 'T=(?<t>\\S+)' });
    expect(r.parse('T=1e999')).toMatchObject({ ok: false, tags: ['t'] });
    expect(r.parse('T=1e300')).toEqual({ ok: true, values: [{ tag: 't', value: 1e300 }] });
  });

  it('an empty regex group is malformed, like an empty delimited field', () => {
    const r = new FrameParser({ format: 'regex', pattern: 'A=(?<a>\\d*),B=(?<b>\\w*)' });
    expect(r.parse('A=,B=x')).toMatchObject({ ok: false, tags: ['a', 'b'] });
    expect(r.parse('A=1,B=')).toMatchObject({ ok: false });
    expect(r.parse('A=1,B=x')).toEqual({ ok: true, values: [{ tag: 'a', value: 1 }, { tag: 'b', value: 'x' }] });
  });

  it('a match where no group took part is malformed', () => {
    const r = new FrameParser({ format: 'regex', pattern: '(?:T=(?<t>\\d+))?' });
    expect(r.parse('garbage')).toMatchObject({ ok: false, tags: ['t'] });
    expect(r.parse('T=5')).toEqual({ ok: true, values: [{ tag: 't', value: 5 }] });
  });
});
