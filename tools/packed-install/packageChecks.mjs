// What a registry and a user expect of one packed package, checked on the files `npm pack` put in
// its tarball: metadata, entry points, source maps that resolve, and dependencies that match what
// the shipped code requires. Each check returns a list of problems (empty: fine).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix } from 'node:path';

/**
 * Metadata every publishable package carries, the same as the root's where the root says it:
 * license, engines, repository (+ its directory, or none while the root has none), publishConfig.access, sideEffects, README, LICENSE.
 */
export function metadataProblems(pkg, location, root, files, rootDir) {
  const problems = [];
  if (pkg.license !== root.license) problems.push(`license is ${JSON.stringify(pkg.license)}, the root's is ${JSON.stringify(root.license)}`);
  if (pkg.engines?.node !== root.engines?.node) {
    problems.push(`engines.node is ${JSON.stringify(pkg.engines?.node)}; it must be the Node versions CI tests, as the root says: ${JSON.stringify(root.engines?.node)}`);
  }
  // The repository address is the root's, with the package's folder; none while the root has none
  // (no public address is known yet, and a made-up one would send users nowhere).
  if (root.repository === undefined) {
    if (pkg.repository !== undefined) problems.push('repository must be left out while the root package.json has none');
  } else if (pkg.repository?.url !== root.repository.url || pkg.repository?.directory !== location) {
    problems.push(`repository must be { url: ${JSON.stringify(root.repository.url)}, directory: "${location}" }`);
  }
  if (pkg.publishConfig?.access !== 'public') problems.push('publishConfig.access must be "public" (a scoped package is private by default)');
  if (typeof pkg.sideEffects !== 'boolean' && !Array.isArray(pkg.sideEffects)) problems.push('sideEffects is not declared');
  for (const file of ['README.md', 'LICENSE', 'package.json']) {
    if (!files.has(file)) problems.push(`${file} is not in the tarball`);
  }
  if (files.has('LICENSE') && readFileSync(join(rootDir, location, 'LICENSE'), 'utf8') !== readFileSync(join(rootDir, 'LICENSE'), 'utf8')) {
    problems.push(`${location}/LICENSE differs from the root LICENSE`);
  }
  return problems;
}

/** Every file `main`, `types` and `exports` name is in the tarball. */
export function entryPointProblems(pkg, files) {
  const targets = [pkg.main, pkg.types];
  const walk = (value) => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(pkg.exports);
  return targets
    .filter((target) => target !== undefined && !files.has(posix.normalize(target)))
    .map((target) => `${target} is an entry point but not in the tarball (built?)`);
}

/** Every source a shipped .map names is shipped too (else debuggers and editors show nothing). */
export function sourceMapProblems(packageDir, files) {
  const problems = [];
  for (const file of files) {
    if (!file.endsWith('.map')) continue;
    const map = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
    for (const source of map.sources ?? []) {
      const resolved = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
      if (!files.has(resolved)) problems.push(`${file} points at ${resolved}, which is not in the tarball (a stale file in dist/? delete dist/ and rebuild with NX_SKIP_NX_CACHE=true)`);
    }
  }
  return problems;
}

const BUILTINS = new Set(builtinModules);

/** The package a module specifier names, or null for relative paths and Node built-ins. */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return BUILTINS.has(name) ? null : name;
}

const REQUIRE = /\brequire\(\s*(['"])([^'"]+)\1\s*\)/g;
const TYPE_IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*)(['"])([^'"]+)\1/g;

/**
 * Dependencies that say what they are: every package the shipped JavaScript requires (or the
 * shipped declarations import) is declared, and every declared dependency is required somewhere.
 */
export function dependencyProblems(pkg, packageDir, files) {
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
  const used = new Map(); // package -> first file using it
  const problems = [];
  for (const file of files) {
    const pattern = file.endsWith('.d.ts') ? TYPE_IMPORT : file.endsWith('.js') ? REQUIRE : null;
    if (!pattern || !file.startsWith(dirname(pkg.main ?? 'dist/index.js'))) continue;
    for (const match of readFileSync(join(packageDir, file), 'utf8').matchAll(pattern)) {
      const name = packageOf(match[2]);
      if (name === null || name === pkg.name) continue;
      if (!used.has(name)) used.set(name, file);
      if (!declared.has(name)) problems.push(`${file} uses ${name}, which package.json does not declare`);
    }
  }
  for (const name of declared) {
    if (!used.has(name)) problems.push(`${name} is declared but the shipped code never requires it: drop it`);
  }
  return [...new Set(problems)];
}
