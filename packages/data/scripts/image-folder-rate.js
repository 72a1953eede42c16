#!/usr/bin/env node
// Image-folder loading speed: decode images/s (sharp, `--concurrency` decodes in flight) at each
// `--resolution`, on the first `--limit` files of the folder (default all), and the load time of
// the whole folder from a warm cache (a fresh cache folder in the temp dir: written once, then read).
//
//   npm run build -w @convoy/tensor -w @convoy/data
//   node packages/data/scripts/image-folder-rate.js <image folder, e.g. the cat-dog JPEGs> --resolution 32,224 --limit 2000
const fs = require('fs');
const os = require('os');
const path = require('path');
const { decodeImages, loadImageFolder, readImageFolderLayout } = require('@convoy/data');

function parse(argv) {
  const options = { folder: null, resolutions: [32], limit: Infinity, concurrency: os.availableParallelism() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--resolution') options.resolutions = argv[++i].split(',').map(Number);
    else if (a === '--limit') options.limit = Number(argv[++i]);
    else if (a === '--concurrency') options.concurrency = Number(argv[++i]);
    else if (!a.startsWith('--') && !options.folder) options.folder = a;
    else throw new Error(`unknown argument ${a}; usage: image-folder-rate.js <folder> [--resolution 32,224] [--limit N] [--concurrency N]`);
  }
  if (!options.folder) throw new Error('usage: image-folder-rate.js <folder> [--resolution 32,224] [--limit N] [--concurrency N]');
  return options;
}

async function main() {
  const options = parse(process.argv.slice(2));
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, options.concurrency));
  const layout = readImageFolderLayout(options.folder);
  const files = layout.entries.slice(0, options.limit).map((e) => e.file);
  console.log(`${layout.root}: ${files.length} of ${layout.entries.length} files, ${options.concurrency} decodes in flight, ${os.cpus()[0].model}, load ${os.loadavg()[0].toFixed(1)}`);
  for (const R of options.resolutions) {
    const pixels = new Uint8Array(new SharedArrayBuffer(files.length * 3 * R * R));
    const started = performance.now();
    const bad = await decodeImages(layout.root, files, R, pixels, (i) => i, { concurrency: options.concurrency });
    const seconds = (performance.now() - started) / 1000;
    console.log(`decode R=${R}: ${(files.length / seconds).toFixed(0)} images/s (${seconds.toFixed(2)} s${bad.length ? `, ${bad.length} bad` : ''})`);
  }
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convoy-rate-cache-'));
  try {
    const R = options.resolutions[0];
    const time = async () => {
      const started = performance.now();
      const data = await loadImageFolder(options.folder, { resolution: R, cacheDir, concurrency: options.concurrency, onProgress: () => {} });
      return { seconds: (performance.now() - started) / 1000, data };
    };
    const cold = await time();
    const warm = await time();
    console.log(
      `whole folder at R=${R} (${cold.data.train.count + cold.data.test.count} images): cold ${cold.seconds.toFixed(2)} s (${cold.data.cache}), ` +
        `warm cache ${warm.seconds.toFixed(2)} s (${warm.data.cache}, ${(fs.statSync(warm.data.cacheFile).size / 1e6).toFixed(1)} MB)`,
    );
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
