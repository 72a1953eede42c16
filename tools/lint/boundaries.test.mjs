// node --test tools/lint/
// The layering rule of eslint.config.mjs, proven on a throwaway copy of the workspace's manifests
// (never in the tree): an upward import and an import between side-by-side floors fail lint with
// the rule's message, a downward one passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A temporary workspace: the lint config, the root tsconfig and every project's manifests. */
function temporaryWorkspace() {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-lint-'));
  for (const file of ['eslint.config.mjs', 'tsconfig.base.json', 'package.json']) cpSync(join(repo, file), join(dir, file));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const projects = ['benchmarks'];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(repo, group))) projects.push(`${group}/${entry}`);
  }
  for (const project of projects) {
    if (!existsSync(join(repo, project, 'package.json'))) continue;
    mkdirSync(join(dir, project, 'src'), { recursive: true });
    for (const file of ['package.json', 'tsconfig.json']) {
      if (existsSync(join(repo, project, file))) cpSync(join(repo, project, file), join(dir, project, file));
    }
  }
  return dir;
}

function lint(dir, files) {
  const result = spawnSync(process.execPath, [join(repo, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', ...files], {
    cwd: dir,
    encoding: 'utf8',
  });
  const reports = result.stdout ? JSON.parse(result.stdout) : [];
  const messages = (file) =>
    reports
      .filter((report) => report.filePath.endsWith(file))
      .flatMap((report) => report.messages)
      .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .map((m) => m.message);
  return { status: result.status, stderr: result.stderr, messages };
}

test('an upward import fails lint with the boundary rule; a downward one passes', () => {
  const dir = temporaryWorkspace();
  try {
    const upward = 'packages/tensor/src/upward.ts';
    writeFileSync(
      join(dir, upward),
      "import { createProgram } from '@convoy/trainer';\nimport { Linear } from '@convoy/nn';\nexport const both = [createProgram, Linear];\n",
    );
    const sideways = 'packages/kernels/src/sideways.ts';
    writeFileSync(join(dir, sideways), "import { readCifar10 } from '@convoy/data';\nexport const reader = readCifar10;\n");
    const downward = 'packages/nn/src/downward.ts';
    writeFileSync(join(dir, downward), "import { Tensor } from '@convoy/tensor';\nexport const tensor = Tensor;\n");

    const result = lint(dir, [upward, sideways, downward]);
    assert.notEqual(result.status, 0, `eslint exited ${result.status}: ${result.stderr}`);

    const up = result.messages(upward);
    assert.equal(up.length, 2, JSON.stringify(up));
    assert.match(up[0], /'@convoy\/trainer' import is restricted/);
    assert.match(up[1], /'@convoy\/nn' import is restricted/);
    for (const message of up) assert.match(message, /packages\/tensor is on floor:tensor\. Imports run down the floors of docs\/ARCHITECTURE\.md/);

    const side = result.messages(sideways);
    assert.equal(side.length, 1, JSON.stringify(side));
    assert.match(side[0], /'@convoy\/data' import is restricted.*packages\/kernels is on floor:foundation/);

    assert.deepEqual(result.messages(downward), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
