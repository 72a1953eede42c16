import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/**
 * SharedArrayBuffer (the parameters, gradients and images the Web Workers share) exists only on
 * cross-origin isolated pages: `vite preview` sends these, and a static host must too (README.md).
 */
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The CIFAR-10 files the page asks the server for (the official binary layout). */
const CIFAR10_FILES = new Set(['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin', 'batches.meta.txt']);

/**
 * Serves CIFAR10_DIR's files under /cifar10/ (`vite preview`, what `serve` runs), so a page on this
 * machine can train without the visitor picking files. Nothing else of the file system is served;
 * without CIFAR10_DIR every such request is a 404 and the page asks for the files instead.
 */
function cifar10Files(): Plugin {
  const dir = process.env.CIFAR10_DIR ? resolve(process.env.CIFAR10_DIR) : null;
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    const name = (req.url ?? '').split('?')[0].replace(/^\/cifar10\//, '');
    if (!(req.url ?? '').startsWith('/cifar10/')) return next();
    const file = dir && CIFAR10_FILES.has(name) ? join(dir, name) : null;
    if (!file || !existsSync(file)) {
      res.statusCode = 404;
      res.end(dir ? `${name} is not a CIFAR-10 file in ${dir}` : 'CIFAR10_DIR is not set on the server');
      return;
    }
    res.setHeader('Content-Type', name.endsWith('.txt') ? 'text/plain' : 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(file).size));
    for (const [key, value] of Object.entries(crossOriginIsolation)) res.setHeader(key, value);
    createReadStream(file).pipe(res);
  };
  return {
    name: 'convoy-cifar10-files',
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}

/**
 * Native and Node-stream libraries the packages use for files, downloads, image decoding and
 * headless GL, which no browser can run: their imports resolve to a stub that throws if called.
 * The page uses none of those code paths (it decodes images with the browser's own decoder).
 */
const NODE_ONLY = ['sharp', 'tar', 'gl', 'webgpu', 'cli-progress'];
function nodeOnlyStubs(): Plugin {
  const prefix = '\0convoy-node-only:';
  return {
    name: 'convoy-node-only-stubs',
    enforce: 'pre',
    resolveId: (source) => (NODE_ONLY.includes(source) ? prefix + source : null),
    load(id) {
      if (!id.startsWith(prefix)) return null;
      const message = JSON.stringify(`${id.slice(prefix.length)} is a Node-only module; the browser page cannot use it`);
      return [
        `const fail = () => { throw new Error(${message}); };`,
        // sharp.cache(false) runs when @convoy/data's decoder module loads (the page needs that
        // module's MAX_RESOLUTION): configuring is harmless, anything else fails.
        "export default new Proxy(fail, { get: (_, key) => (key === 'cache' ? () => undefined : fail()), apply: fail, construct: fail });",
        'export const x = fail, SingleBar = fail;',
      ].join('\n');
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the built folder works from any path of any static host.
  base: './',
  plugins: [nodeOnlyStubs(), cifar10Files()],
  resolve: {
    alias: [
      // The packages' TypeScript sources (ES modules the bundler can tree-shake), as the tests use them.
      { find: /^@convoy\/worker\/portable$/, replacement: join(root, 'packages/worker/src/portable.ts') },
      { find: /^@convoy\/(tensor|kernels|nn|data|run)$/, replacement: join(root, 'packages/$1/src/index.ts') },
    ],
  },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es', plugins: () => [nodeOnlyStubs()] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      // The packages declare `"sideEffects": false`; reached through the aliases above the bundler
      // does not see that, and would keep (and run) file, download and image-decoding modules.
      treeshake: { moduleSideEffects: (id: string) => !/\/packages\/[a-z]+\/src\//.test(id) },
    },
  },
});
