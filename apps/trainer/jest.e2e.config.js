// Real-data end-to-end checks of the BUILT `convoy` command (CI: `nx run-many -t e2e` when the
// shared CIFAR-10 copy exists). Needs CIFAR10_DIR; kept out of the default `test` target.
module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'], testTimeout: 300000 };
