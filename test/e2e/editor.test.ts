/**
 * The palette in the Node-RED editor, as a plant engineer meets it, in Debian's Chromium driven by
 * playwright-core. Node-RED runs through `npm start`'s script (scripts/start.js) with its own user
 * folder and a free port. Checks the plantwire palette category and its nodes, then the Modbus
 * scenario: open a plantwire-modbus-read node's dialog, add a tag in its tag table, deploy, and
 * see the node's status turn green; then the stats dialog: a time window's size is checked as seconds
 * in the dialog (a size too small is marked), the statistics are chosen with check boxes, and the
 * deployed node shows its waiting status; then every analytics dialog, in English and in Chinese,
 * shows translated texts only (no catalogue key left). Screenshots go to test-results/.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ANALYTICS } from '../helpers/analytics-editor-cases';
import { editorDef, editorDefaults } from '../helpers/editor-def';
import { freePort, httpRequest, startProcess, type ProcessHandle } from '../interop/lib/procs';

const root = path.resolve(__dirname, '../..');
const results = path.join(root, 'test-results');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const declaredTypes: string[] = Object.keys(pkg['node-red'].nodes);

let red: ProcessHandle;
let context: BrowserContext;
let page: Page;
let base: string;
let devicePort: number;
const temps: string[] = [];

/** The Modbus scenario's flow: a simulated device (plantwire-modbus-server), a connection to it, and a read node with no tags yet. */
function scenarioFlow(port: number): Record<string, unknown>[] {
  return [
    { id: 'e2e-tab', type: 'tab', label: 'e2e plant' },
    {
      id: 'e2e-device', type: 'plantwire-modbus-server', z: 'e2e-tab', name: 'press 1', host: '127.0.0.1', port, x: 180, y: 80, wires: [[]],
      signals: [{ name: 'speed', area: 'holding', address: 0, type: 'uint16', signal: 'constant', value: '1500' }],
    },
    {
      id: 'e2e-conn', type: 'plantwire-modbus-connection', name: 'press 1', transport: 'tcp', host: '127.0.0.1', port, serialPort: '', baudRate: 9600,
      parity: 'none', dataBits: 8, stopBits: 1, timeout: 1000, maxRegisters: 125, maxBits: 2000, maxGap: 10, maxInFlight: 1,
    },
    { id: 'e2e-read', type: 'plantwire-modbus-read', z: 'e2e-tab', name: '', connection: 'e2e-conn', unitId: 1, interval: 500, output: 'batch', tags: [], x: 200, y: 180, wires: [['e2e-debug']] },
    { id: 'e2e-debug', type: 'debug', z: 'e2e-tab', name: '', active: true, complete: 'false', tosidebar: true, x: 420, y: 180, wires: [] },
    // An analytics node with the dialog's defaults, for the stats dialog scenario.
    { id: 'e2e-stats', type: 'plantwire-stats', z: 'e2e-tab', name: '', window: 'count', size: '10', emit: 'sample', stats: ['mean', 'min', 'max', 'count', 'stddev'], x: 200, y: 280, wires: [[]] },
    // The other analytics nodes, each with its dialog's defaults, for the translation check.
    ...ANALYTICS.filter((n) => n !== 'stats').map((n, i) => ({
      ...editorDefaults(editorDef(path.join(root, 'nodes/analytics', `${n}.html`), `plantwire-${n}`)),
      id: `e2e-${n}`, type: `plantwire-${n}`, z: 'e2e-tab', x: 200 + (i % 4) * 220, y: 380 + Math.floor(i / 4) * 80, wires: [[]],
    })),
  ];
}

async function shot(name: string): Promise<string> {
  const file = path.join(results, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

beforeAll(async () => {
  if (!fs.existsSync('/usr/bin/chromium')) throw new Error("Debian's chromium is missing: apt-get install -y chromium (test/e2e/run.sh does it)");
  fs.mkdirSync(results, { recursive: true });
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-e2e-red-'));
  temps.push(userDir);
  devicePort = await freePort();
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(scenarioFlow(devicePort), null, 2));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  red = startProcess(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    name: 'node-red',
    cwd: root,
    env: { PLANTWIRE_USER_DIR: userDir, PORT: String(port), PLANTWIRE_HOST: '127.0.0.1' },
  });
  const started = await red.waitFor(/Started flows|Waiting for missing types to be registered:/, 120000);
  if (/Waiting/.test(started[0])) {
    await new Promise((r) => setTimeout(r, 1000)); // the list of types follows, one log line each
    const missing = [...red.output.matchAll(/ - (plantwire-[\w-]+)\s*$/gm)].map((m) => m[1]);
    throw new Error(`Node-RED cannot start the scenario's flow: missing node types ${missing.join(', ')} (not in package.json node-red.nodes, or failed to load)`);
  }

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'plantwire-e2e-chromium-'));
  temps.push(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1600, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60000);
  await page.goto(base);
  // The editor is ready when the workspace shows the flow's tab.
  await page.waitForSelector('#red-ui-workspace-chart svg', { state: 'attached' });
  await page.waitForFunction(() => {
    const w = window as unknown as { RED?: { nodes?: { node(id: string): unknown } } };
    return !!w.RED?.nodes?.node('e2e-read');
  });
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await red?.stop();
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the plantwire palette in the editor', () => {
  it('has a plantwire category holding every node of the package, labelled without the prefix', async () => {
    const category = page.locator('#red-ui-palette-plantwire');
    await category.waitFor({ state: 'attached' });
    // What the editor knows of each type the package declares: its category and palette label.
    const defs = await page.evaluate((types: string[]) => {
      const w = window as unknown as { RED: { nodes: { getType(t: string): { category?: string; paletteLabel?: unknown } | undefined } } };
      return types.map((t) => {
        const d = w.RED.nodes.getType(t);
        return { type: t, registered: !!d, category: d?.category };
      });
    }, declaredTypes);
    const paletteTypes = defs.filter((d) => d.category === 'plantwire').map((d) => d.type);
    expect(paletteTypes.length).toBeGreaterThan(0);
    const labels: Record<string, string> = {};
    for (const type of paletteTypes) {
      const entry = page.locator(`#red-ui-palette-plantwire .red-ui-palette-node[data-palette-type="${type}"]`);
      await expect(entry.count()).resolves.toBe(1);
      labels[type] = (await entry.locator(".red-ui-palette-label").innerText()).replace(/\s+/g, " ").trim();
    }
    const header = page.locator('#red-ui-palette-header-plantwire');
    await header.scrollIntoViewIfNeeded();
    await page.locator('#red-ui-palette-base-category-plantwire').screenshot({ path: path.join(results, 'e2e-palette-plantwire.png') });
    await shot('e2e-palette');
    console.log(`plantwire palette: ${Object.entries(labels).map(([t, l]) => `${t} "${l}"`).join(', ')}`);
    // Every palette label drops the prefix; every declared type loaded into the editor.
    expect(Object.entries(labels).filter(([, l]) => l.length === 0 || l.startsWith('plantwire')).map(([t, l]) => `${t}: "${l}"`)).toEqual([]);
    expect(defs.filter((d) => !d.registered).map((d) => d.type)).toEqual([]);
    expect(defs.filter((d) => d.category !== 'plantwire' && d.category !== 'config').map((d) => `${d.type}: ${d.category}`)).toEqual([]);
  });

  it('opens the Modbus read dialog, adds a tag, deploys, and shows a green status under the node', async () => {
    if (!declaredTypes.includes('plantwire-modbus-read')) throw new Error('plantwire-modbus-read is not in package.json node-red.nodes');
    const node = page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group[id="e2e-read"]');
    await node.waitFor();
    await node.locator('rect.red-ui-flow-node').dblclick();
    const tray = page.locator('.red-ui-tray');
    await tray.locator('#node-input-tags-container').waitFor({ state: 'attached' });
    const add = tray.locator('.red-ui-editableList-addButton').first();
    await add.waitFor();
    await shot('e2e-modbus-dialog-empty');

    await add.click();
    const row = tray.locator('#node-input-tags-container li').last();
    await row.locator('[data-field="name"]').fill('line1/press/speed');
    await row.locator('[data-field="area"]').selectOption('holding');
    await row.locator('[data-field="address"]').fill('0');
    await row.locator('[data-field="type"]').selectOption('uint16');
    await row.locator('[data-field="unit"]').fill('rpm');
    await shot('e2e-modbus-dialog-tag');
    await page.locator('#node-dialog-ok').click();
    await tray.waitFor({ state: 'detached' });

    await page.locator('#red-ui-header-button-deploy').click();
    // A deploy that Node-RED doubts (invalid or unknown nodes) asks first: that is a failure here.
    const doubt = page.locator('.red-ui-notification .ui-dialog-buttonset, #red-ui-notifications .red-ui-notification-buttons button').first();
    if (await doubt.isVisible().catch(() => false)) {
      await shot('e2e-modbus-deploy-doubt');
      throw new Error(`the deploy asked for confirmation: ${await page.locator('.red-ui-notification').first().innerText()}`);
    }
    // The status under the node: a green dot and a text, set by the running node.
    const status = node.locator('.red-ui-flow-node-status-group');
    await page
      .waitForFunction(() => {
        const g = document.querySelector('g.red-ui-flow-node-group[id="e2e-read"] .red-ui-flow-node-status');
        return !!g && /red-ui-flow-node-status-dot-green/.test(g.getAttribute('class') || '');
      }, undefined, { timeout: 60000 })
      .catch(async (err) => {
        await shot('e2e-modbus-not-green');
        throw err;
      });
    const text = (await status.locator('.red-ui-flow-node-status-label').textContent())?.trim() ?? '';
    expect(text.length).toBeGreaterThan(0);
    await shot('e2e-modbus-deployed');

    // What was deployed is what the dialog said, and the node reads the device's value.
    const flows = (await httpRequest(`${base}/flows`, { headers: { Accept: 'application/json' } })).body as Record<string, unknown>[];
    const read = flows.find((n) => n.id === 'e2e-read') as { tags: Record<string, unknown>[] };
    expect(read.tags).toHaveLength(1);
    expect(read.tags[0]).toMatchObject({ name: 'line1/press/speed', area: 'holding', type: 'uint16', unit: 'rpm' });
    expect(Number(read.tags[0].address)).toBe(0);
    // The debug sidebar shows the batch the node emits: the tag with the device's value.
    await page.evaluate(() => (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('debug'));
    await page.waitForFunction(
      () => [...document.querySelectorAll('.red-ui-debug-msg')].some((m) => /line1\/press\/speed/.test(m.textContent || '') && /1500/.test(m.textContent || '')),
      undefined,
      { timeout: 30000 },
    ).catch(async (err) => {
      await shot('e2e-modbus-debug-missing');
      throw err;
    });
    await shot('e2e-modbus-debug');
  });

  it('opens the stats dialog: a time window size is checked as seconds, statistics are chosen by check boxes, the node deploys', async () => {
    const node = page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group[id="e2e-stats"]');
    await node.waitFor();
    await node.locator('rect.red-ui-flow-node').dblclick();
    const tray = page.locator('.red-ui-tray');
    const boxes = tray.locator('#node-input-stats-list input[type="checkbox"]');
    await boxes.first().waitFor();
    // Twelve statistics, the node's five checked.
    await expect(boxes.count()).resolves.toBe(12);
    const checked = await tray.locator('#node-input-stats-list input:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(checked).toEqual(['mean', 'min', 'max', 'count', 'stddev']);
    await expect(tray.locator('#node-input-size-unit').innerText()).resolves.toBe('samples');

    // A time window: sizes are seconds, at least 0.001 s; a count window takes whole samples only.
    await tray.locator('#node-input-window').selectOption('time');
    await expect(tray.locator('#node-input-size-unit').innerText()).resolves.toBe('seconds');
    const size = tray.locator('#node-input-size');
    const marked = () => size.evaluate((e) => e.classList.contains('input-error'));
    await size.fill('0.0005');
    await size.dispatchEvent('change');
    await expect(marked()).resolves.toBe(true);
    await shot('e2e-stats-dialog-invalid-size');
    await size.fill('2.5');
    await size.dispatchEvent('change');
    await expect(marked()).resolves.toBe(false);
    await tray.locator('#node-input-window').selectOption('count');
    await expect(marked()).resolves.toBe(true);
    await tray.locator('#node-input-window').selectOption('time');
    await expect(marked()).resolves.toBe(false);

    await tray.locator('#node-input-stat-count').uncheck();
    await tray.locator('#node-input-stat-median').check();
    await shot('e2e-stats-dialog');
    await page.locator('#node-dialog-ok').click();
    await tray.waitFor({ state: 'detached' });
    const edited = await page.evaluate(() => {
      const w = window as unknown as { RED: { nodes: { node(id: string): { window: string; size: string; stats: string[]; valid: boolean } } } };
      const n = w.RED.nodes.node('e2e-stats');
      return { window: n.window, size: n.size, stats: n.stats, valid: n.valid };
    });
    expect(edited).toEqual({ window: 'time', size: '2.5', stats: ['mean', 'min', 'max', 'stddev', 'median'], valid: true });

    await page.locator('#red-ui-header-button-deploy').click();
    // The deploy is done when the runtime's flows carry the edit (the node showed "waiting" before
    // the deploy too, so its status alone cannot tell; a read right after the click can come first).
    const deployedStats = async () =>
      ((await httpRequest(`${base}/flows`, { headers: { Accept: 'application/json' } })).body as Record<string, unknown>[]).find((n) => n.id === 'e2e-stats');
    const until = Date.now() + 30000;
    let deployed = await deployedStats();
    while (deployed?.window !== 'time' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      deployed = await deployedStats();
    }
    expect(deployed).toMatchObject({ window: 'time', size: '2.5', stats: ['mean', 'min', 'max', 'stddev', 'median'] });
    await page
      .waitForFunction(() => /waiting/.test(document.querySelector('g.red-ui-flow-node-group[id="e2e-stats"] .red-ui-flow-node-status-label')?.textContent || ''), undefined, { timeout: 30000 })
      .catch(async (err) => {
        await shot('e2e-stats-not-waiting');
        throw err;
      });
    await shot('e2e-stats-deployed');
  });

  it('shows every analytics dialog translated, in English and in Chinese (no catalogue key left in a label, option or placeholder)', async () => {
    /** The texts of each analytics dialog, opened on `p`: labels, options, placeholders, titles. */
    const dialogTexts = async (p: Page): Promise<Record<string, string>> => {
      const texts: Record<string, string> = {};
      for (const n of ANALYTICS) {
        await p.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="e2e-${n}"] rect.red-ui-flow-node`).dblclick();
        const tray = p.locator('.red-ui-tray');
        await tray.locator('.red-ui-tray-body').waitFor();
        await p.waitForTimeout(300); // oneditprepare's own texts (units, placeholders)
        texts[n] = await tray.evaluate((t) =>
          [(t as HTMLElement).innerText, ...[...t.querySelectorAll('[placeholder], [title], option')].map((e) => e.getAttribute('placeholder') || e.getAttribute('title') || e.textContent || '')].join('\n'),
        );
        await p.locator('#node-dialog-cancel').click();
        await tray.waitFor({ state: 'detached' });
      }
      return texts;
    };
    // A catalogue key the editor could not translate shows as itself: `stats.label.size`, `oee.placeholder.hostZone`.
    const KEY = new RegExp(`\\b(?:${ANALYTICS.join('|')})\\.[a-z]+\\.[A-Za-z.]+`, 'g');
    const untranslated = (texts: Record<string, string>) => Object.entries(texts).flatMap(([n, t]) => (t.match(KEY) ?? []).map((k) => `${n}: ${k}`));

    const english = await dialogTexts(page);
    expect(untranslated(english)).toEqual([]);
    expect(english.stats).toMatch(/Statistics/);

    // Chinese: a second browser whose language is zh-CN (the editor follows the browser's).
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const zh = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1600, height: 1000 } })).newPage();
      zh.setDefaultTimeout(60000);
      await zh.goto(base);
      await zh.waitForFunction(() => !!(window as unknown as { RED?: { nodes?: { node(id: string): unknown } } }).RED?.nodes?.node('e2e-scale'));
      const chinese = await dialogTexts(zh);
      expect(untranslated(chinese)).toEqual([]);
      // The same dialogs, in Chinese: no English label of the dialogs left in them.
      for (const n of ANALYTICS) expect([n, /[\u4e00-\u9fff]/.test(chinese[n])]).toEqual([n, true]);
      expect(chinese.stats).not.toMatch(/Statistics/);
    } finally {
      await browser.close();
    }
  });
});
