#!/usr/bin/env node
// The `convoy` command. A committed shim (not dist/cli.js itself) so that npm can link the bin at
// install time, before the first build; it runs the built CLI.
try {
  require.resolve('../dist/cli.js');
} catch {
  process.stderr.write('convoy: the trainer is not built yet; run `npx nx run trainer:build` (or `npm run build`) first.\n');
  process.exit(1);
}
require('../dist/cli.js').main();
