#!/usr/bin/env node
// `npm start`: run Node-RED with settings.js, the palette from this working tree and, on first
// start, the demo plant from flows/demo-plant.json.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const userDir = process.env.PLANTWIRE_USER_DIR || path.join(root, '.node-red-data');
fs.mkdirSync(userDir, { recursive: true });

// Install the working tree into the user folder as a linked module, the way `npm link` would, so
// Node-RED loads the palette exactly as a user's installation does (from package.json "node-red").
const link = path.join(userDir, 'node_modules', '@plantwire', 'node-red-iiot');
fs.mkdirSync(path.dirname(link), { recursive: true });
try {
  if (fs.readlinkSync(link) !== root) throw new Error('stale');
} catch {
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(root, link, 'dir');
}
const userPkg = path.join(userDir, 'package.json');
if (!fs.existsSync(userPkg)) {
  fs.writeFileSync(userPkg, JSON.stringify({ name: 'plantwire-demo', private: true, dependencies: { '@plantwire/node-red-iiot': 'file:' + root } }, null, 2));
}
const flowFile = path.join(userDir, 'flows.json');
if (!fs.existsSync(flowFile)) fs.copyFileSync(path.join(root, 'flows', 'demo-plant.json'), flowFile);

const host = process.env.PLANTWIRE_HOST || '127.0.0.1';
const port = process.env.PORT || 1880;
console.log(`\nPlantwire demo plant: open http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/ in your browser.`);
console.log(`User data (flows, buffers): ${userDir}. Delete it to start again from the demo plant.\n`);

const redMain = require.resolve('node-red/red.js');
const child = spawn(process.execPath, [redMain, '--settings', path.join(root, 'settings.js'), '--userDir', userDir, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
const stop = (sig) => child.kill(sig);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code, signal) => process.exit(signal ? 0 : code ?? 0));
