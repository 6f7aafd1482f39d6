/**
 * The editor side of plantwire-alarm, -anomaly, -vibration and -oee: every text the dialog and the
 * status use exists in both catalogues, help exists in both languages, and the dialog validators
 * accept the defaults and refuse what the runtime would refuse.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';

const root = path.join(__dirname, '../../..');
const dir = path.join(root, 'nodes/analytics');
const NODES = ['alarm', 'anomaly', 'vibration', 'oee'] as const;
const LANGS = ['en-US', 'zh-CN'] as const;

interface Def {
  category: string;
  color: string;
  icon: string;
  paletteLabel: string;
  defaults: Record<string, { value: unknown; validate?: (this: Record<string, unknown>, v: unknown) => boolean }>;
}

/** Runs the editor script with a minimal RED and a jQuery that finds no open dialog (validators fall back to the node's values). */
function editorDef(name: string): Def {
  const html = fs.readFileSync(path.join(dir, `${name}.html`), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
  let def: Def | undefined;
  const RED = { nodes: { registerType: (type: string, d: Def) => { if (type === `plantwire-${name}`) def = d; } }, _: (k: string) => k };
  const $ = () => ({ length: 0, val: () => undefined });
  vm.runInNewContext(script, { RED, $, Intl, JSON, Number, String, Array, isFinite });
  if (!def) throw new Error(`${name}.html does not register plantwire-${name}`);
  return def;
}

function lookup(catalogue: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), catalogue);
}

describe.each(NODES)('editor of plantwire-%s', (name) => {
  const def = editorDef(name);
  const defaults = Object.fromEntries(Object.entries(def.defaults).map(([k, v]) => [k, v.value])) as Record<string, unknown>;
  const valid = (field: string, value: unknown, node: Record<string, unknown> = defaults) =>
    def.defaults[field].validate ? def.defaults[field].validate!.call({ ...node, [field]: value }, value) : true;

  it('sits in the plantwire palette as an analyse node with its own icon', () => {
    expect(def).toMatchObject({ category: 'plantwire', color: '#A6D8A8', icon: `plantwire-${name}.svg`, paletteLabel: name });
    expect(fs.readFileSync(path.join(root, 'icons', def.icon), 'utf8')).toMatch(/<svg[^>]*viewBox="0 0 40 60"/);
  });

  it('accepts its own defaults', () => {
    for (const field of Object.keys(def.defaults)) expect([field, valid(field, defaults[field])]).toEqual([field, true]);
  });

  it.each(LANGS)('has every dialog and status text, and help, in %s', (lang) => {
    const catalogue = JSON.parse(fs.readFileSync(path.join(dir, 'locales', lang, `${name}.json`), 'utf8'));
    const html = fs.readFileSync(path.join(dir, `${name}.html`), 'utf8');
    const source = fs.readFileSync(path.join(dir, `${name}.ts`), 'utf8');
    const keys = [
      ...[...html.matchAll(/data-i18n="(?:\[[a-z]+\])?([^"]+)"/g)].map((m) => m[1]),
      ...[...html.matchAll(/RED\._\('([^']+)'/g)].map((m) => m[1]),
      ...[...source.matchAll(/RED\._\('([^']+)'/g)].map((m) => m[1]),
    ];
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect([key, typeof lookup(catalogue, key)]).toEqual([key, 'string']);
    const help = fs.readFileSync(path.join(dir, 'locales', lang, `${name}.html`), 'utf8');
    expect(help).toContain(`data-help-name="plantwire-${name}"`);
    expect(help).toMatch(/<dl class="message-properties">/);
  });

  const refused: Record<(typeof NODES)[number], Array<[string, unknown, Record<string, unknown>?]>> = {
    alarm: [
      ['high', 'abc'],
      ['high', '95', { ...defaults, highHigh: '90' }],
      ['high', '', { ...defaults, highHigh: '', low: '', lowLow: '' }],
      ['hysteresis', '-1'],
      ['onDelay', 'soon'],
    ],
    anomaly: [
      ['window', '1'],
      ['window', '2', { ...defaults, method: 'mad' }],
      ['window', '2.5'],
      ['threshold', '0'],
      ['warmup', '-3'],
    ],
    vibration: [
      ['sampleRate', '0'],
      ['bands', '[[10,100]'],
      ['bands', '[[100,10]]'],
      ['bands', '[[10,600]]'],
      ['bands', '{"a":1}'],
    ],
    oee: [
      ['idealCycleTime', '0'],
      ['period', '0.5'],
      ['resetAt', '6 o\'clock'],
      ['resetAt', '24:00'],
      ['timeZone', 'Mars/Olympus'],
      ['rollover', '-1'],
    ],
  };

  // A rest parameter: jest would take a declared third parameter for a `done` callback when a case has two values.
  it.each(refused[name])('refuses %s = %p', (...[field, value, node]: [string, unknown, Record<string, unknown>?]) => {
    expect(valid(field, value, node ?? defaults)).toBe(false);
  });
});
