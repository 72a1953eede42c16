// Runs a TypeScript entry file of this repo in a plain child `node` process (no build): compiles
// .ts on require with @swc/core and maps @convoy/* to packages/*/src, as jest.preset.js does.
// Used by tests that must kill a real process mid-download.
const fs = require('fs');
const path = require('path');
const Module = require('module');
const swc = require('@swc/core');

const repo = path.resolve(__dirname, '../../../..');
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@convoy\/(tensor|kernels|nn|data|worker)$/.exec(request);
  if (m) return path.join(repo, 'packages', m[1], 'src', 'index.ts');
  return originalResolve.call(this, request, ...rest);
};
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
require(path.resolve(process.argv[2]));
