/**
 * The editor side of the nine analytics nodes: every text the dialog and the status use exists in
 * both catalogues, help exists in both languages, and the dialog validators accept the defaults
 * and refuse what the runtime would refuse (test/nodes/analytics/dialog-runtime.test.ts deploys
 * the same refused values and sees the node stop with a configuration error).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ANALYTICS, REFUSED } from '../../helpers/analytics-editor-cases';
import { dialogAccepts, editorDef, editorDefaults } from '../../helpers/editor-def';

const root = path.join(__dirname, '../../..');
const dir = path.join(root, 'nodes/analytics');
const LANGS = ['en-US', 'zh-CN'] as const;

function lookup(catalogue: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), catalogue);
}

describe.each(ANALYTICS)('editor of plantwire-%s', (name) => {
  const def = editorDef(path.join(dir, `${name}.html`), `plantwire-${name}`);
  const defaults = editorDefaults(def);
  const valid = (field: string, value: unknown, node: Record<string, unknown> = defaults) => dialogAccepts(def, field, value, node);

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
      ...[...html.matchAll(/(?:RED|this|node)\._\('([^']+)'/g)].map((m) => m[1]),
      ...[...source.matchAll(/RED\._\('([^']+)'/g)].map((m) => m[1]),
    ];
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect([key, typeof lookup(catalogue, key)]).toEqual([key, 'string']);
    const help = fs.readFileSync(path.join(dir, 'locales', lang, `${name}.html`), 'utf8');
    expect(help).toContain(`data-help-name="plantwire-${name}"`);
    expect(help).toMatch(/<dl class="message-properties">/);
  });

  // A rest parameter: jest would take a declared third parameter for a `done` callback when a case has two values.
  it.each(REFUSED[name])('refuses %s = %p', (...[field, value, others]: [string, unknown, Record<string, unknown>?]) => {
    const node = { ...defaults, ...others };
    expect(valid(field, value, node)).toBe(false);
    // The same node with the field at its default is accepted: the refusal is the value's.
    expect(valid(field, defaults[field], { ...node, [field]: defaults[field] })).toBe(true);
  });
});
