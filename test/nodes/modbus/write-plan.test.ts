import { InputError } from '../../../nodes/shared/errors';
import { planWrites, writeRequests } from '../../../nodes/modbus/write-plan';
import type { TagDef } from '../../../nodes/modbus/types';

const tags: TagDef[] = [
  { name: 'sp', area: 'holding', address: 100, type: 'float32' },
  { name: 'mode', area: 'holding', address: 102, type: 'uint16' },
  { name: 'far', area: 'holding', address: 300, type: 'int16' },
  { name: 'c1', area: 'coil', address: 0, type: 'bool' },
  { name: 'c2', area: 'coil', address: 1, type: 'bool' },
  { name: 'c9', area: 'coil', address: 9, type: 'bool' },
  { name: 'bit3', area: 'holding', address: 200, type: 'bool', bit: 3 },
  { name: 'scaled', area: 'holding', address: 400, type: 'int16', scale: 0.1, offset: -50 },
];

const plan = (payload: unknown, topic?: string, limits = {}) => planWrites(writeRequests(tags, topic, payload), limits);

describe('write planning', () => {
  it('joins adjacent registers into one FC16 and keeps a lone register FC6-sized', () => {
    expect(plan({ sp: 1.5, mode: 7, far: -2 })).toEqual([
      { kind: 'registers', address: 100, words: [0x3fc0, 0x0000, 7], tags: ['sp', 'mode'] },
      { kind: 'registers', address: 300, words: [0xfffe], tags: ['far'] },
    ]);
  });

  it('joins adjacent coils into one FC15 and leaves a distant one alone (FC5)', () => {
    expect(plan({ c2: false, c1: true, c9: 1 })).toEqual([
      { kind: 'coils', address: 0, bits: [true, false], tags: ['c1', 'c2'] },
      { kind: 'coils', address: 9, bits: [true], tags: ['c9'] },
    ]);
  });

  it('splits a join at the request limit', () => {
    const steps = plan({ sp: 1, mode: 2 }, undefined, { maxRegisters: 2 });
    expect(steps.map((s) => (s.kind === 'registers' ? s.tags : []))).toEqual([['sp'], ['mode']]);
  });

  it('plans a bool in a register as a read-modify-write after the plain writes', () => {
    expect(plan({ bit3: true, far: 1 })).toEqual([
      { kind: 'registers', address: 300, words: [1], tags: ['far'] },
      { kind: 'bit', tag: tags[6], value: true },
    ]);
  });

  it('removes scale and offset (the inverse of a read)', () => {
    expect(plan(20, 'scaled')).toEqual([{ kind: 'registers', address: 400, words: [700], tags: ['scaled'] }]);
  });

  it.each([
    [{ far: 70000 }, /outside the range of int16/],
    [{ scaled: 3300 }, /outside the range of int16/],
    [{ sp: NaN }, /finite number/],
    [{ sp: {} }, /not an object/],
    [{ bit3: 'yes' }, /true, false, 1 or 0/],
    [{}, /empty object/],
    [{ nope: 1, also: 2 }, /unknown tag "nope", "also"/],
  ])('refuses %# before planning anything', (payload, pattern) => {
    expect(() => plan(payload)).toThrow(InputError);
    expect(() => plan(payload)).toThrow(pattern);
  });

  it('refuses overlapping tags in one message', () => {
    const overlapping: TagDef[] = [
      { name: 'whole', area: 'holding', address: 10, type: 'uint32' },
      { name: 'low', area: 'holding', address: 11, type: 'uint16' },
      { name: 'flag', area: 'holding', address: 10, type: 'bool', bit: 1 },
    ];
    expect(() => planWrites(writeRequests(overlapping, undefined, { whole: 1, low: 2 }))).toThrow(/"whole" and "low" overlap/);
    expect(() => planWrites(writeRequests(overlapping, undefined, { whole: 1, flag: true }))).toThrow(/"flag" and "whole" overlap/);
  });

  it('reads the single form from topic and payload', () => {
    expect(writeRequests(tags, 'mode', 3)).toEqual([{ tag: tags[1], value: 3 }]);
    expect(() => writeRequests(tags, undefined, 3)).toThrow(/msg.topic must name the tag/);
    expect(() => writeRequests(tags, 'mode', undefined)).toThrow(/payload is missing/);
  });
});
