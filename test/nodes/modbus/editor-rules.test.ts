/**
 * The editor's tag rules (window.PlantwireModbus in modbus-connection.html) run in the browser; here
 * they run in a VM and are checked against the runtime's (tag-settings.ts), so the dialog refuses
 * exactly what the node would refuse when it starts.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { readTags } from '../../../nodes/modbus/tag-settings';

interface Problem {
  index: number;
  field: string;
  code: string;
}
interface EditorRules {
  tagsProblem(tags: unknown[], opts?: { writable?: boolean }): Problem | null;
  fromCsv(text: string): { tags: Record<string, unknown>[]; error: string | null };
  toCsv(tags: unknown[]): string;
  ordersFor(type: string, area: string): string[];
}

function loadRules(): EditorRules {
  const html = fs.readFileSync(path.join(__dirname, '../../../nodes/modbus/modbus-connection.html'), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (!script) throw new Error('no editor script');
  const registered: string[] = [];
  const sandbox: Record<string, unknown> = { RED: { nodes: { registerType: (t: string) => registered.push(t) } }, $: () => ({}) };
  sandbox.window = sandbox;
  vm.runInNewContext(script, sandbox);
  expect(registered).toEqual(['plantwire-modbus-connection']);
  return sandbox.PlantwireModbus as EditorRules;
}

const rules = loadRules();

const cases: [string, unknown[], { writable?: boolean }][] = [
  ['good', [{ name: 'a', area: 'holding', address: 0, type: 'float32', order: 'CDAB' }, { name: 'b', area: 'coil', address: 3, type: 'bool' }], {}],
  ['strings as numbers', [{ name: 'a', area: 'input', address: '7', type: 'int16', scale: '0.1', offset: '' }], {}],
  ['duplicate', [{ name: 'a', area: 'holding', address: 0, type: 'int16' }, { name: 'a', area: 'holding', address: 1, type: 'int16' }], {}],
  ['address high', [{ name: 'a', area: 'holding', address: 65536, type: 'int16' }], {}],
  ['address fraction', [{ name: 'a', area: 'holding', address: 1.5, type: 'int16' }], {}],
  ['runs past the end', [{ name: 'a', area: 'holding', address: 65535, type: 'int32' }], {}],
  ['type on a coil', [{ name: 'a', area: 'coil', address: 0, type: 'uint16' }], {}],
  ['string without length', [{ name: 'a', area: 'holding', address: 0, type: 'string' }], {}],
  ['string with length', [{ name: 'a', area: 'holding', address: 0, type: 'string', length: 10 }], {}],
  ['order too wide', [{ name: 'a', area: 'holding', address: 0, type: 'int16', order: 'CDAB' }], {}],
  ['order too narrow', [{ name: 'a', area: 'holding', address: 0, type: 'float64', order: 'BADC' }], {}],
  ['bit 16', [{ name: 'a', area: 'holding', address: 0, type: 'bool', bit: 16 }], {}],
  ['bit 15', [{ name: 'a', area: 'holding', address: 0, type: 'bool', bit: 15 }], {}],
  ['scale 0', [{ name: 'a', area: 'holding', address: 0, type: 'int16', scale: 0 }], {}],
  ['no name', [{ name: ' ', area: 'holding', address: 0, type: 'int16' }], {}],
  ['unknown area', [{ name: 'a', area: 'eeprom', address: 0, type: 'int16' }], {}],
  ['empty', [], {}],
  ['writable input', [{ name: 'a', area: 'input', address: 0, type: 'int16' }], { writable: true }],
  ['writable discrete', [{ name: 'a', area: 'discrete', address: 0, type: 'bool' }], { writable: true }],
  ['writable holding', [{ name: 'a', area: 'holding', address: 0, type: 'int16' }], { writable: true }],
];

const VALID = new Set(['good', 'strings as numbers', 'string with length', 'bit 15', 'writable holding']);

describe('editor tag rules', () => {
  it.each(cases)('agree with the runtime: %s', (label, tags, opts) => {
    // Flow JSON crosses into the runtime as plain JSON (the VM's objects have another prototype).
    tags = JSON.parse(JSON.stringify(tags));
    const editorOk = rules.tagsProblem(tags, opts) === null;
    let runtimeOk = true;
    try {
      readTags(tags, opts);
    } catch {
      runtimeOk = false;
    }
    expect(editorOk).toBe(runtimeOk);
    expect(runtimeOk).toBe(VALID.has(label));
  });

  it('points at the field and row that is wrong', () => {
    expect(rules.tagsProblem([{ name: 'a', area: 'holding', address: 0, type: 'int16' }, { name: 'a', area: 'holding', address: 1, type: 'int16' }])).toEqual({
      index: 1,
      field: 'name',
      code: 'duplicate',
    });
    expect(rules.tagsProblem([{ name: 'a', area: 'holding', address: 0, type: 'bool', bit: 20 }])).toMatchObject({ field: 'bit', code: 'bit' });
  });

  it('offers only byte orders that fit the type', () => {
    expect(rules.ordersFor('int16', 'holding')).toEqual(['AB', 'BA']);
    expect(rules.ordersFor('uint32', 'holding')).toEqual(['ABCD', 'CDAB', 'BADC', 'DCBA']);
    expect(rules.ordersFor('float64', 'input')).toEqual(['ABCDEFGH', 'GHEFCDAB', 'BADCFEHG', 'HGFEDCBA']);
    expect(rules.ordersFor('bool', 'coil')).toEqual([]);
  });

  it('round-trips a tag table through CSV, quoting what needs it', () => {
    const tags = [
      { name: 'temp, zone "A"', area: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: '°C' },
      { name: 'flag', area: 'holding', address: 5, type: 'bool', bit: 3 },
      { name: 'serial', area: 'input', address: 10, type: 'string', length: 8 },
      { name: 'p', area: 'input', address: 20, type: 'int16', scale: 0.1, offset: -5, unit: 'bar' },
    ];
    const csv = rules.toCsv(tags);
    expect(csv.split('\n')[0]).toBe('name,area,address,type,order,bit,length,scale,offset,unit');
    expect(csv).toContain('"temp, zone ""A"""');
    const back = rules.fromCsv(csv);
    expect(back.error).toBeNull();
    expect(JSON.parse(JSON.stringify(back.tags))).toEqual(tags);
    expect(readTags(JSON.parse(JSON.stringify(back.tags)))).toHaveLength(4);
  });

  it('imports CSV with columns in any order, CRLF lines and blank lines', () => {
    const r = rules.fromCsv('address;name;type;area\r\n\r\n3;speed;uint16;input\r\n');
    expect(r.error).toBeNull();
    expect(JSON.parse(JSON.stringify(r.tags))).toEqual([{ name: 'speed', area: 'input', address: 3, type: 'uint16' }]);
  });

  it('refuses CSV without a header', () => {
    expect(rules.fromCsv('a,holding,0,int16').error).toBe('header');
    expect(rules.fromCsv('   ').error).toBe('empty');
  });
});
