// Shared jest settings: tests run TypeScript through SWC (fast, no type check: `typecheck` does
// that) and import sibling packages from source, so `test` never needs a stale dist/.
const path = require('path');
const root = __dirname;
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': [require.resolve('@swc/jest'), { jsc: { target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
  moduleNameMapper: {
    '^@convoy/(tensor|kernels|nn|data|worker|cluster|run|native)$': path.join(root, 'packages/$1/src/index.ts'),
  },
  testTimeout: 60000,
};
