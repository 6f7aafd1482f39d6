import fc from 'fast-check';
import {
  decodeBits,
  decodeBuffer,
  decodeTag,
  encodeBuffer,
  encodeTag,
  ordersFor,
  registerCount,
  validateTag,
} from '../../../nodes/modbus/codec';
import type { ByteOrder, DataType, TagDef } from '../../../nodes/modbus/types';
import { ConfigError, DeviceError, InputError } from '../../../nodes/shared/errors';

const tag = (type: DataType, order?: ByteOrder, extra: Partial<TagDef> = {}): TagDef => ({
  name: 't',
  area: 'holding',
  address: 0,
  type,
  order,
  ...extra,
});

describe('codec known answers (worked by hand)', () => {
  // 123.456 as IEEE 754 single precision is 0x42F6E979: A=42 B=F6 C=E9 D=79.
  const float32Forms: [ByteOrder, number[]][] = [
    ['ABCD', [0x42f6, 0xe979]],
    ['CDAB', [0xe979, 0x42f6]],
    ['BADC', [0xf642, 0x79e9]],
    ['DCBA', [0x79e9, 0xf642]],
  ];
  it.each(float32Forms)('float32 123.456 in %s', (order, words) => {
    expect(decodeTag(tag('float32', order), words, 0)).toBe(Math.fround(123.456));
    expect(encodeTag(tag('float32', order), 123.456)).toEqual(words);
  });

  // -2 as int32 is 0xFFFFFFFE: A=FF B=FF C=FF D=FE.
  const int32Forms: [ByteOrder, number[]][] = [
    ['ABCD', [0xffff, 0xfffe]],
    ['CDAB', [0xfffe, 0xffff]],
    ['BADC', [0xffff, 0xfeff]],
    ['DCBA', [0xfeff, 0xffff]],
  ];
  it.each(int32Forms)('int32 -2 in %s', (order, words) => {
    expect(decodeTag(tag('int32', order), words, 0)).toBe(-2);
    expect(encodeTag(tag('int32', order), -2)).toEqual(words);
    // The same registers read unsigned are 2^32 - 2.
    expect(decodeTag(tag('uint32', order), words, 0)).toBe(4294967294);
  });

  it('uint32 0x12345678 in every order', () => {
    expect(decodeTag(tag('uint32', 'ABCD'), [0x1234, 0x5678], 0)).toBe(0x12345678);
    expect(decodeTag(tag('uint32', 'CDAB'), [0x5678, 0x1234], 0)).toBe(0x12345678);
    expect(decodeTag(tag('uint32', 'BADC'), [0x3412, 0x7856], 0)).toBe(0x12345678);
    expect(decodeTag(tag('uint32', 'DCBA'), [0x7856, 0x3412], 0)).toBe(0x12345678);
  });

  it('64-bit orders apply the same letters word-wise', () => {
    const v = 0x0102030405060708n;
    const forms: [ByteOrder, number[]][] = [
      ['ABCDEFGH', [0x0102, 0x0304, 0x0506, 0x0708]],
      ['GHEFCDAB', [0x0708, 0x0506, 0x0304, 0x0102]],
      ['BADCFEHG', [0x0201, 0x0403, 0x0605, 0x0807]],
      ['HGFEDCBA', [0x0807, 0x0605, 0x0403, 0x0201]],
    ];
    for (const [order, words] of forms) {
      expect(encodeTag(tag('uint64', order), v)).toEqual(words);
      expect(decodeTag(tag('uint64', order), words, 0)).toBe(Number(v));
    }
    expect(decodeTag(tag('int64'), [0xffff, 0xffff, 0xffff, 0xfffe], 0)).toBe(-2);
    expect(decodeTag(tag('int64', 'HGFEDCBA'), [0xfeff, 0xffff, 0xffff, 0xffff], 0)).toBe(-2);
    // 1.0 as a double is 0x3FF0000000000000.
    expect(decodeTag(tag('float64'), [0x3ff0, 0, 0, 0], 0)).toBe(1);
    expect(decodeTag(tag('float64', 'HGFEDCBA'), [0, 0, 0, 0xf03f], 0)).toBe(1);
    expect(encodeTag(tag('float64', 'GHEFCDAB'), 1)).toEqual([0, 0, 0, 0x3ff0]);
  });

  it('64-bit integers beyond 2^53 decode to the nearest double, and encode exactly from a bigint', () => {
    const big = 2n ** 53n + 1n;
    expect(encodeTag(tag('int64'), big)).toEqual([0x0020, 0, 0, 1]);
    expect(decodeTag(tag('int64'), [0x0020, 0, 0, 1], 0)).toBe(2 ** 53);
    expect(decodeTag(tag('uint64'), [0xffff, 0xffff, 0xffff, 0xffff], 0)).toBe(2 ** 64);
    expect(encodeTag(tag('uint64'), 2 ** 60)).toEqual([0x1000, 0, 0, 0]);
  });

  it('16-bit values and byte-swapped words', () => {
    expect(decodeTag(tag('int16'), [0xfffe], 0)).toBe(-2);
    expect(decodeTag(tag('int16', 'BA'), [0xfeff], 0)).toBe(-2);
    expect(decodeTag(tag('uint16', 'BA'), [0x3412], 0)).toBe(0x1234);
    expect(encodeTag(tag('uint16', 'BA'), 0x1234)).toEqual([0x3412]);
    expect(encodeTag(tag('int16'), -32768)).toEqual([0x8000]);
  });

  it('an order of another width means the same byte and word switches', () => {
    expect(decodeTag(tag('int16', 'DCBA'), [0xfeff], 0)).toBe(-2);
    expect(decodeTag(tag('int16', 'CDAB'), [0xfffe], 0)).toBe(-2);
    expect(decodeTag(tag('int32', 'HGFEDCBA'), [0xfeff, 0xffff], 0)).toBe(-2);
    expect(decodeTag(tag('int64', 'CDAB'), [0xfffe, 0xffff, 0xffff, 0xffff], 0)).toBe(-2);
  });

  it('strings: two characters a register, high byte first, trailing NULs dropped', () => {
    const t = tag('string', undefined, { length: 4 });
    expect(decodeTag(t, [0x4865, 0x6c6c, 0x6f00, 0x0000], 0)).toBe('Hello');
    expect(encodeTag(t, 'Hello')).toEqual([0x4865, 0x6c6c, 0x6f00, 0x0000]);
    const swapped = tag('string', 'BA', { length: 3 });
    expect(decodeTag(swapped, [0x6548, 0x6c6c, 0x006f], 0)).toBe('Hello');
    expect(encodeTag(swapped, 'Hello')).toEqual([0x6548, 0x6c6c, 0x006f]);
    expect(registerCount(t)).toBe(4);
  });

  it('bool on a register reads one bit, bit 0 least significant', () => {
    expect(decodeTag(tag('bool', undefined, { bit: 3 }), [0x0008], 0)).toBe(true);
    expect(decodeTag(tag('bool', undefined, { bit: 0 }), [0x0008], 0)).toBe(false);
    expect(decodeTag(tag('bool', undefined, { bit: 15 }), [0x8000], 0)).toBe(true);
    // read-modify-write keeps the other bits
    expect(encodeTag(tag('bool', undefined, { bit: 0 }), true, 0x8000)).toEqual([0x8001]);
    expect(encodeTag(tag('bool', undefined, { bit: 15 }), false, 0xffff)).toEqual([0x7fff]);
    expect(() => encodeTag(tag('bool', undefined, { bit: 1 }), true)).toThrow(InputError);
  });

  it('coils and discrete inputs', () => {
    const coil: TagDef = { name: 'c', area: 'coil', address: 5, type: 'bool' };
    expect(decodeBits(coil, [false, true], 1)).toBe(true);
    expect(decodeBits(coil, [1, 0], 1)).toBe(false);
    expect(decodeTag(coil, [0, 1], 1)).toBe(true);
    expect(encodeTag(coil, true)).toEqual([1]);
    expect(encodeTag(coil, 0)).toEqual([0]);
    expect(registerCount(coil)).toBe(1);
    expect(() => encodeTag(coil, 2)).toThrow(InputError);
    expect(() => encodeTag(coil, 'on')).toThrow(InputError);
  });

  it('applies value = raw * scale + offset, and removes it when encoding', () => {
    const t = tag('int16', undefined, { scale: 0.1, offset: -40 });
    expect(decodeTag(t, [635], 0)).toBeCloseTo(23.5, 10);
    expect(encodeTag(t, 23.5)).toEqual([635]);
    const f = tag('float32', 'CDAB', { scale: 2, offset: 1 });
    expect(decodeTag(f, encodeTag(f, 247.912), 0)).toBeCloseTo(247.912, 4);
  });

  it('decodes at an offset into a block', () => {
    expect(decodeTag(tag('int32'), [1, 2, 0xffff, 0xfffe, 9], 2)).toBe(-2);
  });
});

describe('codec refuses bad values and bad definitions', () => {
  it('never wraps: out-of-range integers are an InputError', () => {
    expect(() => encodeTag(tag('int16'), 70000)).toThrow(InputError);
    expect(() => encodeTag(tag('int16'), 70000)).toThrow(/outside the range of int16/);
    expect(() => encodeTag(tag('int16'), 32768)).toThrow(InputError);
    expect(() => encodeTag(tag('uint16'), -1)).toThrow(InputError);
    expect(() => encodeTag(tag('uint32'), 2 ** 32)).toThrow(InputError);
    expect(() => encodeTag(tag('int32'), -(2 ** 31) - 1)).toThrow(InputError);
    expect(() => encodeTag(tag('int64'), 2n ** 63n)).toThrow(InputError);
    expect(() => encodeTag(tag('uint64'), -1)).toThrow(InputError);
    expect(() => encodeTag(tag('float32'), 1e39)).toThrow(InputError);
    // scaled out of range: 4000 with scale 0.1 is raw 40000
    expect(() => encodeTag(tag('int16', undefined, { scale: 0.1 }), 4000)).toThrow(InputError);
  });

  it('refuses NaN, Infinity and wrong types', () => {
    for (const type of ['int16', 'uint32', 'float32', 'float64', 'int64'] as DataType[]) {
      expect(() => encodeTag(tag(type), NaN)).toThrow(InputError);
      expect(() => encodeTag(tag(type), Infinity)).toThrow(InputError);
      expect(() => encodeTag(tag(type), '12')).toThrow(/needs a number, not a string/);
      expect(() => encodeTag(tag(type), null)).toThrow(/not null/);
      expect(() => encodeTag(tag(type), true)).toThrow(InputError);
    }
    expect(() => encodeTag(tag('string', undefined, { length: 2 }), 12)).toThrow(InputError);
  });

  it('refuses strings longer than the tag and characters beyond one byte', () => {
    const t = tag('string', undefined, { length: 2 });
    expect(encodeTag(t, 'abcd')).toEqual([0x6162, 0x6364]);
    expect(() => encodeTag(t, 'abcde')).toThrow(/holds 4/);
    expect(() => encodeTag(t, '温度')).toThrow(/Latin-1/);
  });

  it('reports a short response as a device error', () => {
    expect(() => decodeTag(tag('float32'), [1], 0)).toThrow(DeviceError);
    expect(() => decodeBits({ name: 'c', area: 'coil', address: 0, type: 'bool' }, [], 0)).toThrow(DeviceError);
  });

  it('rejects definitions that cannot work', () => {
    expect(() => validateTag(tag('int16', 'XYZ' as ByteOrder))).toThrow(ConfigError);
    expect(() => validateTag({ name: 'c', area: 'coil', address: 0, type: 'int16' })).toThrow(/must be bool/);
    expect(() => validateTag(tag('string'))).toThrow(/length/);
    expect(() => validateTag(tag('int16', undefined, { scale: 0 }))).toThrow(/scale/);
    expect(() => validateTag(tag('int16', undefined, { address: 70000 }))).toThrow(/address/);
    expect(() => validateTag(tag('float64', undefined, { address: 65533 }))).toThrow(/past address 65535/);
    expect(() => validateTag(tag('bool', undefined, { bit: 16 }))).toThrow(/bit/);
    expect(() => validateTag({ ...tag('int16'), area: 'memory' as never })).toThrow(/area/);
    expect(() => validateTag({ ...tag('int16'), name: '' })).toThrow(/name/);
    expect(() => validateTag(null as unknown as TagDef)).toThrow(ConfigError);
    expect(() => validateTag(tag('float64', 'DCBA'))).not.toThrow();
  });
});

describe('raw byte frames', () => {
  it('decodes with the same byte-order rules', () => {
    expect(decodeBuffer(Buffer.from([0x42, 0xf6, 0xe9, 0x79]), 0, 'float32', 'ABCD')).toBe(Math.fround(123.456));
    expect(decodeBuffer(Buffer.from([0x79, 0xe9, 0xf6, 0x42]), 0, 'float32', 'DCBA')).toBe(Math.fround(123.456));
    // bytes FF FE FF FF arrive as C D A B of 0xFFFFFFFE
    expect(decodeBuffer(Buffer.from([0, 0xff, 0xfe, 0xff, 0xff]), 1, 'int32', 'CDAB')).toBe(-2);
    expect(decodeBuffer(Buffer.from([0xfe, 0xff]), 0, 'int16', 'BA')).toBe(-2);
    expect(decodeBuffer(Buffer.from('Hi\0\0'), 0, 'string')).toBe('Hi');
    expect(decodeBuffer(Buffer.from('iH!'), 0, 'string', 'BA', 3)).toBe('Hi!');
    expect(decodeBuffer(Buffer.from([0, 2]), 1, 'bool')).toBe(true);
  });

  it('refuses a frame too short for the field', () => {
    expect(() => decodeBuffer(Buffer.from([1, 2, 3]), 0, 'float32')).toThrow(InputError);
    expect(() => decodeBuffer(Buffer.from([1, 2, 3, 4]), 2, 'int32')).toThrow(/needs 4 byte/);
  });

  it('encodeBuffer is the inverse of decodeBuffer', () => {
    expect(encodeBuffer(-2, 'int32', 'BADC')).toEqual(Buffer.from([0xff, 0xff, 0xfe, 0xff]));
    expect(encodeBuffer('Hi!', 'string', 'BA', 3)).toEqual(Buffer.from('iH!'));
    expect(() => encodeBuffer(70000, 'int16')).toThrow(InputError);
  });
});

// ---- properties ------------------------------------------------------------------------------

const ALL_ORDERS: ByteOrder[] = ['AB', 'BA', 'ABCD', 'CDAB', 'BADC', 'DCBA', 'ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA'];

const valueOf: Record<Exclude<DataType, 'string' | 'bool'>, fc.Arbitrary<number | bigint>> = {
  int16: fc.integer({ min: -32768, max: 32767 }),
  uint16: fc.integer({ min: 0, max: 65535 }),
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  uint32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  float32: fc.float({ noNaN: true, noDefaultInfinity: true }),
  float64: fc.double({ noNaN: true, noDefaultInfinity: true }),
  int64: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.maxSafeInteger().map((n) => n)),
  uint64: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.maxSafeNat()),
};

describe('codec round trips (encode then decode gives the value back)', () => {
  for (const type of Object.keys(valueOf) as (keyof typeof valueOf)[]) {
    it(`${type} in every order the editor offers, and every other order`, () => {
      fc.assert(
        fc.property(valueOf[type], fc.constantFrom(...ordersFor(type), ...ALL_ORDERS), fc.integer({ min: 0, max: 3 }), (v, order, at) => {
          const t = tag(type, order);
          const words = [...Array(at).fill(0xabcd), ...encodeTag(t, v)];
          expect(words).toHaveLength(at + registerCount(t));
          words.forEach((w) => expect(w >= 0 && w <= 0xffff && Number.isInteger(w)).toBe(true));
          expect(decodeTag(t, words, at)).toBe(Number(v));
          const bytes = encodeBuffer(v, type, order);
          expect(decodeBuffer(bytes, 0, type, order)).toBe(Number(v));
          // the byte frame and the registers agree
          expect(bytes).toEqual(Buffer.from(words.slice(at).flatMap((w) => [w >> 8, w & 0xff])));
        }),
      );
    });
  }

  it('integer types with scale and offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -32768, max: 32767 }),
        fc.constantFrom(0.1, 0.01, 2, 10, -1),
        fc.integer({ min: -100, max: 100 }),
        (raw, scale, offset) => {
          const t = tag('int16', 'BA', { scale, offset });
          const value = raw * scale + offset;
          const words = encodeTag(t, value);
          expect(words).toEqual(encodeTag(tag('int16', 'BA'), raw));
          expect(decodeTag(t, words, 0)).toBeCloseTo(value, 6);
        },
      ),
    );
  });

  it('strings of Latin-1 characters', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }).chain((length) =>
          fc.tuple(fc.constant(length), fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 2 * length }), fc.constantFrom<ByteOrder>('AB', 'BA')),
        ),
        ([length, codes, order]) => {
          const s = String.fromCharCode(...codes);
          const t = tag('string', order, { length });
          expect(decodeTag(t, encodeTag(t, s), 0)).toBe(s);
          expect(decodeBuffer(encodeBuffer(s, 'string', order, 2 * length), 0, 'string', order, 2 * length)).toBe(s);
        },
      ),
    );
  });

  it('bools on a register keep the other fifteen bits', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom<ByteOrder>('AB', 'BA'), (b, bit, current, order) => {
        const t = tag('bool', order, { bit });
        const [w] = encodeTag(t, b, current);
        expect(decodeTag(t, [w], 0)).toBe(b);
        for (let other = 0; other < 16; other++) {
          if (other !== bit) expect(decodeTag(tag('bool', order, { bit: other }), [w], 0)).toBe(decodeTag(tag('bool', order, { bit: other }), [current], 0));
        }
      }),
    );
  });
});

describe('decimal scales read as an engineer writes them', () => {
  it('gives 3.9 for raw 39 with scale 0.1, not 3.9000000000000004', () => {
    const tag = { name: 'p', area: 'holding' as const, address: 0, type: 'int16' as const, scale: 0.1 };
    expect(decodeTag(tag, [39], 0)).toBe(3.9);
    expect(decodeTag({ ...tag, scale: 0.01 }, [12345], 0)).toBe(123.45);
    expect(decodeTag({ ...tag, scale: 0.1, offset: -40 }, [655], 0)).toBe(25.5);
    expect(decodeTag({ ...tag, scale: 2.5 }, [4], 0)).toBe(10);
    expect(encodeTag(tag, 3.9)).toEqual([39]);
  });

  it('an offset of whole steps keeps the figure exact: raw 439 x 0.1 - 40 is 3.9, not 3.8999999999999986', () => {
    const tag = { name: 't', area: 'holding' as const, address: 0, type: 'int16' as const, scale: 0.1, offset: -40 };
    expect(decodeTag(tag, [439], 0)).toBe(3.9);
    // Against the decimal written out by integer arithmetic (parseFloat rounds it correctly).
    const decimal = (n: number, places: number) => {
      const sign = n < 0 ? '-' : '';
      const digits = String(Math.abs(n)).padStart(places + 1, '0');
      return parseFloat(`${sign}${digits.slice(0, -places)}.${digits.slice(-places)}`);
    };
    fc.assert(
      fc.property(fc.integer({ min: -32768, max: 32767 }), fc.constantFrom(1, 2, 3), fc.integer({ min: -5000, max: 5000 }), (raw, places, steps) => {
        const offset = decimal(steps, places);
        const t = { ...tag, type: 'int16' as const, scale: decimal(1, places), offset };
        const words = encodeTag({ ...t, scale: 1, offset: 0 }, raw);
        expect(decodeTag(t, words, 0)).toBe(decimal(raw + steps, places));
      }),
      { numRuns: 500 },
    );
  });
});
