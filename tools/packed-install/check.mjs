#!/usr/bin/env node
// The packed-install check: what a stranger gets from the registry. Packs every publishable
// workspace package (no "private": true), checks each tarball's metadata, installs all tarballs
// into an empty project outside the workspace, and runs every README example there from plain
// Node, comparing what it prints with the README's `text output` block (see DEVELOPERS.md), and
// type-checks an import of every package there as a TypeScript user (ESM and CommonJS) would.
// Runs under whichever `node` and `npm` are first on PATH; needs the packages built (dist/).
//
//   node tools/packed-install/check.mjs [--keep]      (--keep: leave the temporary project)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dependencyProblems, entryPointProblems, metadataProblems, sourceMapProblems } from './packageChecks.mjs';
import { outputLines, outputMatches, readmeExamples } from './readmeExamples.mjs';

const EXAMPLE_TIMEOUT_MS = 120_000;
const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const keep = process.argv.includes('--keep');
const started = performance.now();
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);

function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

const failures = [];
const fail = (what) => {
  failures.push(what);
  console.log(`  FAIL ${what}`);
};

const npmVersion = npm(['--version'], rootDir).trim();
console.log(`packed-install check: node ${process.version}, npm ${npmVersion}`);

// 1. The publishable packages, as npm's workspaces list them.
const root = JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8'));
const workspaces = JSON.parse(npm(['query', '.workspace'], rootDir));
const packages = workspaces.filter((w) => !w.private).map((w) => ({ name: w.name, location: w.location, dir: join(rootDir, w.location) }));
console.log(`publishable packages: ${packages.map((p) => p.name).join(', ')}`);
for (const p of packages) {
  const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
  if (!existsSync(join(p.dir, pkg.main ?? 'index.js'))) {
    console.error(`${p.name}: ${pkg.main} is missing; build first: npx nx run-many -t build`);
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'convoy-packed-install-'));
if (!relative(rootDir, work).startsWith('..')) throw new Error(`temporary folder ${work} is inside the workspace`);
let notRun = 0;
try {
  packAndCheck(join(work, 'tarballs'));
  const project = join(work, 'project');
  if (installTarballs(project)) {
    notRun = runExamples(project);
    checkTypes(project);
  }
  const verdict = failures.length === 0 ? 'passed' : `FAILED (${failures.length})`;
  console.log(`packed-install check ${verdict} on node ${process.version} in ${seconds(started)} s${notRun > 0 ? `; ${notRun} example(s) not run, see above` : ''}`);
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exitCode = failures.length === 0 ? 0 : 1;

/** 2. Packs every package into tarballDir (sets each `tarball`) and checks what each holds. */
function packAndCheck(tarballDir) {
  mkdirSync(tarballDir);
  const since = performance.now();
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tarballDir, ...packages.flatMap((p) => ['-w', p.name])], rootDir));
  console.log(`packed ${packed.length} tarballs in ${seconds(since)} s`);
  for (const result of packed) {
    const p = packages.find((candidate) => candidate.name === result.name);
    p.tarball = join(tarballDir, result.filename);
    const files = new Set(result.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
    const problems = [
      ...metadataProblems(pkg, p.location, root, files, rootDir),
      ...entryPointProblems(pkg, files),
      ...sourceMapProblems(p.dir, files),
      ...dependencyProblems(pkg, p.dir, files),
    ];
    console.log(`${result.name}: ${files.size} files, ${(result.size / 1024).toFixed(0)} kB packed, ${problems.length === 0 ? 'metadata ok' : `${problems.length} problem(s)`}`);
    for (const problem of problems) fail(`${result.name}: ${problem}`);
  }
}

/**
 * 3. Installs every tarball into an empty project, as a user would (no allowScripts, no lockfile),
 * and checks that every @convoy package came from a tarball. False when npm failed.
 */
function installTarballs(project) {
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'convoy-packed-install', version: '0.0.0', private: true }, null, 2));
  const since = performance.now();
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', ...packages.map((p) => p.tarball)], { cwd: project, encoding: 'utf8' });
  if (install.status !== 0) {
    fail(`npm install of the tarballs exited with ${install.status}:\n${install.stdout}${install.stderr}`);
    return false;
  }
  // npm's record of what it installed
  const tree = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8')).packages;
  const installed = Object.keys(tree).filter((path) => path !== '');
  console.log(`installed the tarballs into ${project}: ${installed.length} packages in ${seconds(since)} s`);
  for (const line of install.stderr.split('\n').filter((l) => /install-scripts|EBADENGINE/.test(l))) console.log(`  npm: ${line}`);
  for (const path of installed.filter((p) => /(^|\/)node_modules\/@convoy\/[^/]+$/.test(p))) {
    if (!String(tree[path].resolved).startsWith('file:')) fail(`${path} was installed from ${tree[path].resolved ?? 'the registry'}, not from its tarball`);
  }
  return true;
}

/** 4. Every README example, unchanged, from plain Node; CommonJS and ESM. Returns how many were not run. */
function runExamples(project) {
  let skipped = 0;
  for (const p of packages) {
    const readmeFile = join(project, 'node_modules', p.name, 'README.md');
    let examples;
    try {
      examples = readmeExamples(readFileSync(readmeFile, 'utf8'));
    } catch (error) {
      fail(`${p.name} README.md: ${error.message}`);
      continue;
    }
    for (const kind of ['cjs', 'esm']) {
      if (!examples.some((e) => e.kind === kind)) fail(`${p.name} README.md has no \`js example ${kind}\` block (see DEVELOPERS.md)`);
    }
    for (const example of examples) {
      const label = `${p.name} README.md:${example.line} (${example.kind})`;
      const missing = example.env.filter((name) => !process.env[name]);
      if (missing.length > 0) {
        console.log(`  not run: ${label}: needs ${missing.map((n) => `$${n}`).join(', ')}`);
        skipped++;
        continue;
      }
      const file = join(project, `${p.name.replace(/^@/, '').replace('/', '-')}-${example.line}.${example.kind === 'cjs' ? 'cjs' : 'mjs'}`);
      writeFileSync(file, example.code);
      const since = performance.now();
      const run = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', timeout: EXAMPLE_TIMEOUT_MS });
      const took = seconds(since);
      if (run.error) fail(`${label}: ${run.error.message} after ${took} s\n${run.stdout}${run.stderr}`);
      else if (run.status !== 0) fail(`${label}: exited with ${run.status ?? run.signal} after ${took} s\n${run.stdout}${run.stderr}`);
      else if (!outputMatches(example.expected, run.stdout)) {
        fail(`${label}: printed\n${indent(outputLines(run.stdout))}\n    but the README says\n${indent(example.expected)}${run.stderr ? `\n    stderr:\n${indent(outputLines(run.stderr))}` : ''}`);
      } else console.log(`  ok ${label} in ${took} s`);
    }
  }
  return skipped;
}

/** 5. Types for a TypeScript user, both module systems, declarations checked too (no skipLibCheck). */
function checkTypes(project) {
  // every entry point: the package itself and each subpath its `exports` names (e.g. @convoy/worker/portable)
  const specifiers = packages.flatMap((p) => {
    const { exports = { '.': null } } = JSON.parse(readFileSync(join(project, 'node_modules', p.name, 'package.json'), 'utf8'));
    const subpaths = typeof exports === 'object' && Object.keys(exports).every((key) => key.startsWith('.')) ? Object.keys(exports) : ['.'];
    return subpaths.filter((key) => !key.endsWith('.json') && !key.endsWith('.wasm') && !key.includes('*')).map((key) => p.name + key.slice(1));
  });
  const identifier = (specifier) => specifier.replace(/^@convoy\//, '').replace(/[^A-Za-z0-9_]/g, '_');
  writeFileSync(join(project, 'types.mts'), specifiers.map((s) => `import * as ${identifier(s)} from '${s}';\nconsole.log(${identifier(s)});\n`).join(''));
  writeFileSync(join(project, 'types.cts'), specifiers.map((s) => `import ${identifier(s)} = require('${s}');\nconsole.log(${identifier(s)});\n`).join(''));
  const since = performance.now();
  // --resolveJsonModule: piscina's own declarations (reached through @convoy/worker's) import its package.json
  const tsc = spawnSync(process.execPath, [join(rootDir, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'node16', '--target', 'es2022', '--resolveJsonModule',
    '--typeRoots', join(rootDir, 'node_modules/@types'), '--types', 'node', 'types.mts', 'types.cts'], { cwd: project, encoding: 'utf8' });
  if (tsc.status !== 0) fail(`TypeScript (node16, ESM and CommonJS) cannot use the installed packages' types:\n${tsc.stdout}${tsc.stderr}`);
  else console.log(`  ok types: ${specifiers.join(', ')} imported from .mts and .cts under --strict --module node16, declarations checked, in ${seconds(since)} s`);
}

function indent(lines) {
  return lines.map((line) => `      ${line}`).join('\n');
}
