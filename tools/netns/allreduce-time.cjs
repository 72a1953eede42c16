// One rank of allreduce-on-simulated-hosts.sh: times @convoy/cluster's in-place float32 all-reduce
// of the recipe net's gradient (288,298 floats, 1.15 MB) and of an 11 M-parameter net's (44 MB);
// rank 0 prints the median of `repeats` after one warm-up, in ms, as one JSON line.
const { join } = require('node:path');
const { initCluster } = require(join(__dirname, '..', '..', 'packages', 'cluster'));

const repeats = Number(process.argv[2] ?? 7);
(async () => {
  const cluster = initCluster({ timeoutSeconds: 120 });
  const results = [];
  for (const [name, floats] of [['recipe net, 1.15 MB', 288_298], ['11 M parameters, 44 MB', 11_000_000]]) {
    const values = new Float32Array(new SharedArrayBuffer(floats * 4));
    await cluster.allReduce(values);
    const times = [];
    for (let i = 0; i < repeats; i++) {
      await cluster.barrier();
      const t0 = performance.now();
      await cluster.allReduce(values);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    results.push({ name, bytes: floats * 4, medianMs: times[times.length >> 1], minMs: times[0] });
  }
  if (cluster.rank === 0) console.log(JSON.stringify({ ranks: cluster.size, places: cluster.describe(), results }));
  await cluster.finalize();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
