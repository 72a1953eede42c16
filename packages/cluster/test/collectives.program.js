// One rank of the collectives test, run by test/cluster.test.ts under mpirun. Uses the built package.
const { initCluster, ClusterTimeoutError } = require('../dist');

const mode = process.argv[2] ?? 'collectives';
const cluster = initCluster({ timeoutSeconds: mode === 'timeout' ? 2 : null });
const report = (what, value) => console.log(JSON.stringify({ rank: cluster.rank, what, value }));

async function collectives() {
  report('place', { rank: cluster.rank, size: cluster.size, localRank: cluster.localRank, localSize: cluster.localSize, host: cluster.host, described: cluster.describe() });

  const values = new Float32Array(new SharedArrayBuffer(4 * 300001));
  for (let i = 0; i < values.length; i++) values[i] = (cluster.rank + 1) * (i % 7);
  // The event loop keeps running while the all-reduce waits: rank 1 joins 400 ms late.
  if (cluster.rank === 1) await new Promise((r) => setTimeout(r, 400));
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 20);
  const t0 = performance.now();
  await cluster.allReduce(values);
  clearInterval(ticker);
  let expectedSum = 0;
  for (let r = 1; r <= cluster.size; r++) expectedSum += r;
  let wrong = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== expectedSum * (i % 7)) wrong++;
  report('allReduce', { wrong, waitedMs: performance.now() - t0, ticks });

  const message = new Uint8Array(new SharedArrayBuffer(5));
  if (cluster.rank === cluster.size - 1) message.set([104, 101, 108, 108, 111]);
  await cluster.broadcast(message, cluster.size - 1);
  report('broadcast', Buffer.from(message).toString());

  const gathered = await cluster.allGather(Buffer.from(`r${cluster.rank}`));
  report('allGather', gathered.map((b) => Buffer.from(b).toString()));

  try {
    await cluster.allReduce(new Float32Array(4));
  } catch (err) {
    report('unshared', err.message);
  }
  await cluster.barrier();
  await cluster.finalize();
  report('finalized', true);
}

async function timeout() {
  // Rank 1 never joins: rank 0's all-reduce times out, says so, and aborts the job.
  if (cluster.rank === 1) {
    await new Promise((r) => setTimeout(r, 60000));
    return;
  }
  try {
    await cluster.allReduce(new Float32Array(new SharedArrayBuffer(16)));
  } catch (err) {
    report('timeout', { name: err.name, message: err.message, isTimeout: err instanceof ClusterTimeoutError });
    cluster.abort(3);
  }
}

(mode === 'timeout' ? timeout() : collectives()).catch((err) => {
  console.error(err);
  cluster.abort(1);
});
