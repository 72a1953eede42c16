// The page in a real browser (Debian's Chromium through playwright-core), against the built page
// and the built `convoy` CLI; CI runs it with the `e2e` targets when the shared CIFAR-10 is there.
module.exports = { ...require('../../jest.preset.js'), rootDir: __dirname, testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'], testTimeout: 300000 };
