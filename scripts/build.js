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
const out = path.join(root, 'dist');

fs.rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
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
console.log('build: dist/ ready');
