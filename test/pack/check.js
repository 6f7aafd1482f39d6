#!/usr/bin/env node
// Checks the packed palette the way a user meets it: for each Node-RED given on the command line
// (`<version>=<path to node_modules/node-red>`), a clean user folder, `npm install <tarball>`,
// Node-RED started headless on a free loopback port, then through the admin API:
//   - every type in the tarball's package.json node-red.nodes is registered, with no load error;
//   - every icon a node's editor definition names is served by /icons;
//   - help in en-US and zh-CN for every type (zh-CN must be its own text, not the en-US fallback),
//     and the node's message catalogue in both languages;
//   - every file in the tarball's examples/ deploys (POST /flows) with no missing node types,
//     and the runtime is still up afterwards.
// Prints one summary table; exits 1 if any check failed.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { freePort, startProcess, httpRequest, sleep } = require('../interop/lib/procs');

const args = process.argv.slice(2);
let tarball = '';
let work = '';
const runtimes = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tarball') tarball = path.resolve(args[++i]);
  else if (args[i] === '--work') work = path.resolve(args[++i]);
  else {
    const [version, dir] = args[i].split('=');
    runtimes.push({ version, dir: path.resolve(dir) });
  }
}
if (!tarball || runtimes.length === 0) {
  console.error('usage: check.js --tarball <file.tgz> [--work <dir>] <version>=<node_modules/node-red> ...');
  process.exit(2);
}
if (!work) work = fs.mkdtempSync('/tmp/plantwire-pack-');

// Node types every flow may use without a palette providing them.
const STRUCTURAL = new Set(['tab', 'subflow', 'group', 'junction', 'comment']);

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The text of `<script type="text/html" data-help-name="type">` in an editor bundle, or null. */
function helpOf(html, type) {
  const re = new RegExp(`<script[^>]*data-help-name=["']${escapeRe(type)}["'][^>]*>([\\s\\S]*?)</script>`);
  const m = re.exec(html);
  return m ? m[1].trim() : null;
}

/**
 * The icon named in `RED.nodes.registerType('type', { ... icon: '...' })`: 'dynamic' if computed,
 * 'config' for a config node (no icon needed), null if none.
 */
function iconOf(html, type) {
  const at = html.search(new RegExp(`registerType\\(\\s*["']${escapeRe(type)}["']`));
  if (at < 0) return null;
  // The definition ends at the next registerType call (or the end of its <script>).
  let end = html.indexOf('registerType(', at + 13);
  const scriptEnd = html.indexOf('</script>', at);
  if (end < 0 || (scriptEnd >= 0 && scriptEnd < end)) end = scriptEnd < 0 ? html.length : scriptEnd;
  const def = html.slice(at, end);
  // Config nodes never show in the palette or the workspace: no icon needed.
  if (/\bcategory\s*:\s*["']config["']/.test(def)) return 'config';
  const m = /\bicon\s*:\s*(["'])([^"']+)\1/.exec(def);
  if (m) return m[2];
  return /\bicon\s*:/.test(def) ? 'dynamic' : null;
}

/** `npm install <tarball>` into a clean user folder, as a user does in ~/.node-red. */
function installTarball() {
  const dir = path.join(work, 'user-template');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, version: '0.0.1' }, null, 2));
  const t0 = Date.now();
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    return { ok: false, dir, error: err.message, seconds: 0 };
  }
  return { ok: true, dir, seconds: ((Date.now() - t0) / 1000).toFixed(0) };
}

let installed;

async function checkRuntime({ version, dir }, results) {
  const row = { version, install: '', types: '', icons: '', helpEn: '', helpZh: '', catalogs: '', examples: '', failures: [] };
  results.push(row);
  const fail = (msg) => row.failures.push(msg);
  const userDir = path.join(work, `user-${version}`);
  fs.rmSync(userDir, { recursive: true, force: true });
  if (!installed.ok) {
    row.install = 'FAILED';
    fail(`npm install of the tarball failed: ${installed.error}`);
    return;
  }
  // A copy of the clean folder the tarball was installed into: the same files for every runtime,
  // and better-sqlite3's native build (minutes on two CPUs) happens once per run.
  execFileSync('cp', ['-a', installed.dir, userDir]);
  row.install = `ok ${installed.seconds} s`;

  const pkgDir = path.join(userDir, 'node_modules', '@plantwire', 'node-red-iiot');
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const moduleName = pkg.name;
  const types = Object.keys((pkg['node-red'] && pkg['node-red'].nodes) || {});
  if (types.length === 0) fail('the tarball declares no node-red.nodes');

  const port = await freePort();
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify({
      uiHost: '127.0.0.1',
      uiPort: port,
      flowFile: 'flows.json',
      credentialSecret: 'plantwire-pack-check',
      logging: { console: { level: 'info', metrics: false, audit: false } },
      editorTheme: { tours: false, projects: { enabled: false } },
      externalModules: { autoInstall: false },
      diagnostics: { enabled: false },
      telemetry: { enabled: false },
    }, null, 2)};\n`,
  );
  const red = startProcess(process.execPath, [path.join(dir, 'red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    name: `node-red-${version}`,
    cwd: userDir,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    // Node-RED starts its flows first and opens the HTTP port after: "Started flows" alone does
    // not mean the admin API answers yet (a request then is refused).
    await red.waitFor(/Server now running at/, 90000);
    await red.waitFor(/Started flows|Flows file/, 30000);

    // 1. types registered, no load error
    const list = (await httpRequest(`${base}/nodes`, { headers: { Accept: 'application/json' } })).body;
    const allTypes = new Set(list.flatMap((s) => (s.enabled === false ? [] : s.types)));
    let ok = 0;
    for (const type of types) {
      const set = list.find((s) => s.types.includes(type));
      if (!set) fail(`${type}: not registered`);
      else if (set.err) fail(`${type}: load error: ${set.err}`);
      else if (set.enabled === false) fail(`${type}: registered but disabled`);
      else if (set.module !== moduleName) fail(`${type}: registered by ${set.module}, not ${moduleName}`);
      else ok++;
    }
    for (const set of list.filter((s) => s.module === moduleName && s.err)) {
      if (!set.types.some((t) => types.includes(t))) fail(`node set ${set.id}: load error: ${set.err}`);
    }
    const loadErrors = red.output.split('\n').filter((l) => /\[(error|warn)\]/.test(l) && /plantwire/i.test(l));
    for (const l of loadErrors) fail(`runtime log: ${l.trim()}`);
    row.types = `${ok}/${types.length}`;

    // 2. editor definitions and help, en-US and zh-CN
    const htmlEn = (await httpRequest(`${base}/nodes`, { headers: { Accept: 'text/html', 'Accept-Language': 'en-US' } })).body;
    const htmlZh = (await httpRequest(`${base}/nodes`, { headers: { Accept: 'text/html', 'Accept-Language': 'zh-CN' } })).body;
    const iconList = (await httpRequest(`${base}/icons`, { headers: { Accept: 'application/json' } })).body;
    const ourIcons = new Set(iconList[moduleName] || []);
    let iconsOk = 0;
    let iconsNeeded = 0;
    let enOk = 0;
    let zhOk = 0;
    for (const type of types) {
      if (!new RegExp(`data-template-name=["']${escapeRe(type)}["']`).test(htmlEn)) fail(`${type}: no edit dialog template`);
      const en = helpOf(htmlEn, type);
      const zh = helpOf(htmlZh, type);
      if (!en || en.replace(/<[^>]+>/g, '').trim().length < 20) fail(`${type}: no en-US help`);
      else enOk++;
      if (!zh || zh.replace(/<[^>]+>/g, '').trim().length < 10) fail(`${type}: no zh-CN help`);
      else if (zh === en || !/[\u4e00-\u9fff]/.test(zh)) fail(`${type}: zh-CN help is missing (Node-RED served the en-US fallback)`);
      else zhOk++;

      const icon = iconOf(htmlEn, type);
      if (icon === null) { fail(`${type}: registerType names no icon`); continue; }
      if (icon === 'dynamic' || icon === 'config') continue;
      if (/^(font-awesome|fa-)/.test(icon) || icon.startsWith('node-red/')) continue;
      iconsNeeded++;
      const file = icon.includes('/') ? icon.slice(icon.lastIndexOf('/') + 1) : icon;
      if (!ourIcons.has(file)) { fail(`${type}: icon ${icon} is not in /icons for ${moduleName}`); continue; }
      const res = await httpRequest(`${base}/icons/${moduleName}/${encodeURIComponent(file)}`);
      if (res.status !== 200 || res.raw.length === 0 || !/image\//.test(res.headers['content-type'] || '')) {
        fail(`${type}: icon ${file} served as ${res.status} ${res.headers['content-type']} (${res.raw.length} bytes)`);
      } else if (/Node-RED/.test(res.raw.toString()) && /default/i.test(res.raw.toString().slice(0, 200))) {
        fail(`${type}: icon ${file} answered with Node-RED's default icon`);
      } else iconsOk++;
    }
    row.icons = `${iconsOk}/${iconsNeeded}`;
    row.helpEn = `${enOk}/${types.length}`;
    row.helpZh = `${zhOk}/${types.length}`;

    // 3. message catalogues: every node set of ours has one in each language, and zh-CN is its own
    const sets = list.filter((s) => s.module === moduleName);
    const catEn = (await httpRequest(`${base}/nodes/messages?lng=en-US`, { headers: { Accept: 'application/json' } })).body;
    const catZh = (await httpRequest(`${base}/nodes/messages?lng=zh-CN`, { headers: { Accept: 'application/json' } })).body;
    let catOk = 0;
    for (const set of sets) {
      const ns = set.id;
      const en = catEn[ns];
      const zh = catZh[ns];
      if (!en || Object.keys(en).length === 0) fail(`${ns}: no en-US message catalogue`);
      else if (!zh || JSON.stringify(zh) === JSON.stringify(en)) fail(`${ns}: no zh-CN message catalogue of its own`);
      else catOk++;
    }
    row.catalogs = `${catOk}/${sets.length}`;

    // 4. examples: each deploys with no missing types, and the runtime stays up
    const exDir = path.join(pkgDir, 'examples');
    const examples = fs.existsSync(exDir) ? fs.readdirSync(exDir).filter((f) => f.endsWith('.json')).sort() : [];
    let exOk = 0;
    for (const file of examples) {
      let flow;
      try {
        flow = JSON.parse(fs.readFileSync(path.join(exDir, file), 'utf8'));
      } catch (err) {
        fail(`examples/${file}: not JSON: ${err.message}`);
        continue;
      }
      if (!Array.isArray(flow)) { fail(`examples/${file}: not a flow array`); continue; }
      const subflows = new Set(flow.filter((n) => n.type === 'subflow').map((n) => `subflow:${n.id}`));
      const missing = [...new Set(flow.map((n) => n.type).filter((t) => !STRUCTURAL.has(t) && !subflows.has(t) && !allTypes.has(t)))];
      if (missing.length) { fail(`examples/${file}: missing node types: ${missing.join(', ')}`); continue; }
      const from = red.output.length;
      const res = await httpRequest(`${base}/flows`, { method: 'POST', headers: { 'Node-RED-Deployment-Type': 'full' }, body: flow });
      if (res.status >= 300) { fail(`examples/${file}: POST /flows answered ${res.status} ${JSON.stringify(res.body)}`); continue; }
      try {
        await red.waitFor(/Started flows|Waiting for missing types|missing node types/i, 20000, from);
      } catch (err) {
        fail(`examples/${file}: flows did not start: ${err.message.split('\n')[0]}`);
        continue;
      }
      await sleep(1500); // let the nodes run a moment: a crash on start shows here
      const after = red.output.slice(from);
      if (/Waiting for missing types|missing node types/i.test(after)) { fail(`examples/${file}: runtime reports missing node types`); continue; }
      if (red.exited) { fail(`examples/${file}: Node-RED exited after the deploy: ${JSON.stringify(red.exited)}`); break; }
      const alive = await httpRequest(`${base}/settings`, { headers: { Accept: 'application/json' } }).catch((e) => ({ status: 0, body: e.message }));
      if (alive.status !== 200) { fail(`examples/${file}: runtime not answering after the deploy (${alive.status})`); continue; }
      const deployed = (await httpRequest(`${base}/flows`, { headers: { Accept: 'application/json' } })).body;
      const count = Array.isArray(deployed) ? deployed.length : (deployed.flows || []).length;
      if (count !== flow.length) { fail(`examples/${file}: ${flow.length} nodes posted, ${count} deployed`); continue; }
      exOk++;
    }
    row.examples = `${exOk}/${examples.length}`;
  } catch (err) {
    fail(`Node-RED ${version}: ${err.message}`);
  } finally {
    await red.stop();
  }
}

function printTable(results) {
  const cols = [
    ['Node-RED', 'version'], ['install', 'install'], ['types registered', 'types'], ['icons served', 'icons'],
    ['help en-US', 'helpEn'], ['help zh-CN', 'helpZh'], ['catalogues', 'catalogs'], ['examples deployed', 'examples'], ['result', 'result'],
  ];
  const rows = results.map((r) => ({ ...r, result: r.failures.length ? `FAIL (${r.failures.length})` : 'pass' }));
  const widths = cols.map(([h, k]) => Math.max(h.length, ...rows.map((r) => String(r[k] || '-').length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
  console.log('\n' + line(cols.map(([h]) => h)));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(cols.map(([, k]) => r[k] || '-')));
  for (const r of rows) for (const f of r.failures) console.log(`FAIL node-red@${r.version}: ${f}`);
}

(async () => {
  const results = [];
  console.log(`== clean user folder: npm install ${path.basename(tarball)}`);
  installed = installTarball();
  for (const rt of runtimes) {
    console.log(`== node-red@${rt.version}`);
    await checkRuntime(rt, results);
  }
  printTable(results);
  const failed = results.filter((r) => r.failures.length).length;
  const passed = results.length - failed;
  console.log(`\npack: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
