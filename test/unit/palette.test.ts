/**
 * The palette as a user meets it: every registered node has its editor file, an icon, labels and
 * help in English and Chinese with the same keys, and is used in at least one shipped example;
 * every example uses only types the package registers.
 */
import fs from 'fs';
import path from 'path';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const nodes: Record<string, string> = pkg['node-red'].nodes;
const entries = Object.entries(nodes).map(([type, dist]) => {
  const rel = dist.replace(/^dist\//, '').replace(/\.js$/, '');
  const [family, name] = rel.split('/');
  return { type, family, name, dir: path.join(root, 'nodes', family) };
});
const read = (p: string) => fs.readFileSync(p, 'utf8');
const exampleDir = path.join(root, 'examples');
const examples = fs.readdirSync(exampleDir).filter((f) => f.endsWith('.json'));
const exampleFlows = examples.map((f) => ({ file: f, flow: JSON.parse(read(path.join(exampleDir, f))) as { type: string }[] }));

function keyPaths(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('package.json', () => {
  it('ships dist and examples and declares the Node-RED and Node.js it supports', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/', 'examples/']));
    expect(pkg['node-red'].version).toMatch(/^>=\d/);
    expect(pkg.engines.node).toMatch(/^>=\d/);
    expect(pkg.keywords).toContain('node-red');
  });

  it('registers every node type of DESIGN.md with the plantwire- prefix', () => {
    for (const t of Object.keys(nodes)) expect(t).toMatch(/^plantwire-[a-z0-9-]+$/);
    expect(Object.keys(nodes).length).toBeGreaterThanOrEqual(22);
  });
});

describe.each(entries)('$type', ({ type, family, name, dir }) => {
  it('has its TypeScript source and editor file registering the type in the plantwire category', () => {
    expect(fs.existsSync(path.join(dir, `${name}.ts`))).toBe(true);
    const html = read(path.join(dir, `${name}.html`));
    expect(html).toContain(`registerType('${type}'`);
    expect(html).toMatch(/category:\s*'(plantwire|config)'/);
    expect(html).toContain(`data-template-name="${type}"`);
  });

  it('translates dialog texts with its own catalogue (this._ or data-i18n), never RED._, which looks in the editor\'s', () => {
    const html = read(path.join(dir, `${name}.html`));
    expect(html.match(/RED\._\(/g) ?? []).toEqual([]);
  });

  it('has an icon that exists (config nodes excepted)', () => {
    const html = read(path.join(dir, `${name}.html`));
    if (/category:\s*'config'/.test(html)) return;
    const icon = /icon:\s*'([^']+)'/.exec(html);
    expect(icon).not.toBeNull();
    expect(fs.existsSync(path.join(root, 'icons', icon![1]))).toBe(true);
    const label = type.replace(/^plantwire-/, '').replace(/-/g, '[- ]');
    expect(html).toMatch(new RegExp(`paletteLabel:\\s*['"]${label}['"]`));
  });

  it.each(['en-US', 'zh-CN'])('has %s labels and help', (lang) => {
    const base = path.join(dir, 'locales', lang, name);
    expect(read(`${base}.html`)).toContain(`data-help-name="${type}"`);
    expect(() => JSON.parse(read(`${base}.json`))).not.toThrow();
  });

  it('has a Chinese catalogue with exactly the English keys', () => {
    // Plural forms follow each language's rules (i18next: English has _one and _other, Chinese
    // only _other): compared as English's keys with `_one` left out.
    const en = keyPaths(JSON.parse(read(path.join(dir, 'locales', 'en-US', `${name}.json`))))
      .filter((k) => !k.endsWith('_one'))
      .sort();
    const zh = keyPaths(JSON.parse(read(path.join(dir, 'locales', 'zh-CN', `${name}.json`)))).sort();
    expect(zh).toEqual(en);
  });

  it('appears in at least one shipped example', () => {
    const users = exampleFlows.filter((e) => e.flow.some((n) => n.type === type)).map((e) => e.file);
    expect({ type, family, users: users.length > 0 }).toEqual({ type, family, users: true });
  });
});

describe.each(exampleFlows)('example $file', ({ flow }) => {
  it('is an importable flow that uses only registered Plantwire types', () => {
    expect(Array.isArray(flow)).toBe(true);
    expect(flow.length).toBeGreaterThan(0);
    const unknown = flow.map((n) => n.type).filter((t) => t.startsWith('plantwire-') && !(t in nodes));
    expect(unknown).toEqual([]);
  });
});
