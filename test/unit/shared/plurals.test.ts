/**
 * Status texts with a count go through Node-RED's own i18n (i18next): "1 tag ok", "2 tags ok" in
 * English, and the Chinese catalog answers with its own text (not the English plural merged in).
 */
import path from 'path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { i18n } = require('@node-red/util') as { i18n: { init(s: object): Promise<void>; registerMessageCatalog(ns: string, dir: string, file: string): Promise<void>; _(key: string, opts?: object): string; i: { changeLanguage(l: string): Promise<unknown> } } };

const catalogs: [string, string, string][] = [
  ['modbus-read', 'modbus', 'modbus-read.status.ok'],
  ['rate', 'analytics', 'rate.status.batch'],
  ['rate', 'analytics', 'rate.status.restored'],
  ['scale', 'analytics', 'scale.status.batch'],
  ['stats', 'analytics', 'stats.status.batch'],
];

describe('plural status texts', () => {
  beforeAll(async () => {
    await i18n.init({ lang: 'en-US' });
    for (const [name, family] of catalogs) await i18n.registerMessageCatalog(name, path.join(__dirname, '../../../nodes', family, 'locales'), `${name}.json`);
  });

  it.each(catalogs)('%s: %s', async (name, _family, key) => {
    await i18n.i.changeLanguage('en-US');
    const one = i18n._(`${name}:${key}`, { count: 1 });
    const many = i18n._(`${name}:${key}`, { count: 2 });
    expect(one).toMatch(/\b1 tag\b/);
    expect(many).toMatch(/\b2 tags\b/);
    await i18n.i.changeLanguage('zh-CN');
    const zh = i18n._(`${name}:${key}`, { count: 2 });
    expect(zh).toContain('2');
    expect(zh).not.toMatch(/tags?\b/);
  });
});
