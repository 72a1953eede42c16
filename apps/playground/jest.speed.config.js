// images/s of the page in Chromium next to the `convoy` CLI on the same machine (the `speed` target;
// not a test: it prints the figures RESULTS.md records). Needs CIFAR10_DIR, the built page and CLI.
module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testMatch: ['<rootDir>/e2e/**/*.speed.ts'], testTimeout: 900000 };
