#!/usr/bin/env node
// Build: compile nodes/**/*.ts to dist/, then copy what Node-RED reads beside each compiled node:
// the editor .html files, the locales/ catalogues and the icons/ folder (Node-RED looks for a
// node's icon in an `icons` folder next to its .js file).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'nodes');
const dist = path.join(root, 'dist');
// Build beside dist/ and swap it in at the end, so a Node-RED or a test that is reading dist/
// while a build runs never sees it half-written or missing, and no stale file survives a rename.
const out = path.join(root, `.dist-build-${process.pid}`);

fs.rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json'), '--outDir', out], {
  stdio: 'inherit',
});

function copyTree(from, to, filter) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(a, b, filter);
    else if (filter(a)) {
      fs.mkdirSync(path.dirname(b), { recursive: true });
      fs.copyFileSync(a, b);
    }
  }
}

copyTree(src, out, (f) => f.endsWith('.html') || f.split(path.sep).includes('locales'));
const icons = path.join(root, 'icons');
for (const family of fs.readdirSync(out, { withFileTypes: true })) {
  if (!family.isDirectory() || family.name === 'shared') continue;
  copyTree(icons, path.join(out, family.name, 'icons'), () => true);
}
const old = path.join(root, `.dist-old-${process.pid}`);
if (fs.existsSync(dist)) fs.renameSync(dist, old);
fs.renameSync(out, dist);
fs.rmSync(old, { recursive: true, force: true });
console.log('build: dist/ ready');
