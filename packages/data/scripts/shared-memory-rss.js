#!/usr/bin/env node
/*
 * Shows that worker threads share one copy of CIFAR-10: loads it into SharedArrayBuffers, starts
 * N worker_threads that each read every byte of their views of the same buffers, and prints the
 * process's resident memory before and after. With --copy each worker gets its own copy instead
 * (what a plain ArrayBuffer would cost), for contrast.
 *
 *   npm run build -w @convoy/tensor -w @convoy/data
 *   CIFAR10_DIR=/work/shared/datasets/cifar-10-batches-bin node packages/data/scripts/shared-memory-rss.js --threads 4 [--copy]
 */
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const MB = 1024 * 1024;
const rssMb = () => (process.memoryUsage().rss / MB).toFixed(0);

if (!isMainThread) {
  const { train, test, worker } = workerData;
  // Touch every byte so the pages are really resident in this thread's view.
  let sum = 0;
  for (const set of [train, test]) for (let i = 0; i < set.images.length; i++) sum += set.images[i];
  const shared = Object.prototype.toString.call(train.images.buffer) === '[object SharedArrayBuffer]';
  parentPort.postMessage({ worker, sum, shared, first: train.images[0] });
  // Stay alive (holding the views) until the main thread has measured.
  parentPort.once('message', () => process.exit(0));
} else {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}

async function main() {
  const args = process.argv.slice(2);
  const threads = Number(args[args.indexOf('--threads') + 1] || 4) || 4;
  const copy = args.includes('--copy');
  const { loadCifar10 } = require('../dist');

  console.log(`rss at start: ${rssMb()} MB`);
  const t0 = performance.now();
  const data = await loadCifar10({ download: false });
  const loadMs = performance.now() - t0;
  console.log(`loaded ${data.train.count} + ${data.test.count} images from ${data.dataDir} in ${loadMs.toFixed(0)} ms`);
  const afterLoad = process.memoryUsage().rss;
  console.log(`rss after load (one copy, ${((data.train.images.length + data.test.images.length) / MB).toFixed(0)} MB of pixels): ${rssMb()} MB`);

  const toWorker = (set) => (copy ? { ...set, images: set.images.slice(), labels: set.labels.slice() } : set);
  const workers = [];
  const replies = [];
  for (let w = 0; w < threads; w++) {
    const worker = new Worker(__filename, { workerData: { train: toWorker(data.train), test: toWorker(data.test), worker: w } });
    workers.push(worker);
    replies.push(new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject))));
  }
  const results = await Promise.all(replies);
  const sums = new Set(results.map((r) => r.sum));
  console.log(
    `${threads} workers (${copy ? 'each with its own COPY' : 'shared buffers'}) read every byte: shared=${results.every((r) => r.shared)}, ` +
      `same checksum in all: ${sums.size === 1}`,
  );
  const afterWorkers = process.memoryUsage().rss;
  console.log(`rss with ${threads} workers holding their views: ${rssMb()} MB`);
  // A check, not only a display: had the workers copied the pixels, RSS would have grown by
  // threads x the pixel bytes; sharing leaves only the threads' own heaps (~10 MB each).
  const pixelBytes = data.train.images.length + data.test.images.length;
  const grewBy = afterWorkers - afterLoad;
  if (!copy && grewBy > pixelBytes / 2) {
    console.error(`FAIL: RSS grew by ${(grewBy / MB).toFixed(0)} MB with ${threads} workers: the images were copied, not shared`);
    process.exitCode = 1;
  }
  for (const w of workers) w.postMessage('done');
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
}

