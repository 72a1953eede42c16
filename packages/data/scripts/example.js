// The README's example: load CIFAR-10, take cats vs dogs, and fill one augmented training batch
// and one evaluation batch. Run after `npm run build -w @convoy/tensor -w @convoy/data`:
//   CIFAR10_DIR=/work/shared/datasets/cifar-10-batches-bin node packages/data/scripts/example.js
const {
  loadCifar10, parseClasses, subset, epochOrder, batchCount, batchSlice, shardBounds, fillBatch, CIFAR10_NORMALIZATION,
} = require('@convoy/data');

async function main() {
  // --data-dir, then CIFAR10_DIR, then ~/.cache/convoy/cifar-10 (downloaded there if absent).
  const { train, test, classNames } = await loadCifar10({ download: false });
  const classes = parseClasses('cat,dog', classNames); // [3, 5]
  const catsDogs = subset(train, { classes, limit: 2000 }); // 1,000 each, labels 0 (cat) and 1 (dog)

  const seed = 42, epoch = 0, batchSize = 128, workers = 4;
  const order = epochOrder(catsDogs.count, seed, epoch);
  console.log(`${catsDogs.count} images, ${batchCount(catsDogs.count, batchSize, 'drop')} full batches per epoch`);

  const batch = batchSlice(order, 0, batchSize);
  const images = new Float32Array(batchSize * 3 * 32 * 32); // reuse these every step
  const labels = new Int32Array(batchSize);
  // Each worker fills only its shard [start, end) of the global batch, into its own rows; the
  // pixels depend on (seed, epoch, sample) only, never on which worker does it.
  for (let w = 0; w < workers; w++) {
    const { start, end } = shardBounds(batch.length, workers, w);
    fillBatch(catsDogs, batch, start, end, images.subarray(start * 3072), labels.subarray(start),
      { augment: true, seed, epoch, normalization: CIFAR10_NORMALIZATION });
    console.log(`worker ${w}: batch rows ${start}..${end - 1}`);
  }
  console.log('first labels', Array.from(labels.subarray(0, 8)), 'first pixel', images[0].toFixed(4));

  // Evaluation: no augmentation, and keep the last partial batch.
  const evalSet = subset(test, { classes });
  const last = batchCount(evalSet.count, batchSize, 'keep') - 1;
  const evalIdx = Uint32Array.from({ length: evalSet.count }, (_, i) => i);
  const lastBatch = batchSlice(evalIdx, last, batchSize);
  fillBatch(evalSet, lastBatch, 0, lastBatch.length, images, labels, { augment: false });
  console.log(`test: ${evalSet.count} images, last batch holds ${lastBatch.length}`);
}
main();
