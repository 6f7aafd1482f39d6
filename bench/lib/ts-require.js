// Loads the palette's TypeScript sources straight from nodes/ (transpiled on require, no type
// check, no build): the benchmarks that run Node-RED in their own process measure the working tree.
'use strict';
const fs = require('fs');
const ts = require('typescript');

require.extensions['.ts'] = function (mod, filename) {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  mod._compile(out.outputText, filename);
};
