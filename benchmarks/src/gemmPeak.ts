/**
 * The packed 4x8 GEMM micro-kernel alone, operands resident in L1/L2 (A 64 x 256, B 256 x 64), for
 * each build of the kernels: the ceiling every conv path works under. Median of repeated calls,
 * by wall and by process CPU time, GFLOP/s = 2 x multiply-adds / time.
 *
 *   node benchmarks/dist/gemmPeak.js [--json]
 */
import * as os from 'os';
import { WASM_VARIANTS, instantiateKernels } from '@convoy/kernels';
import { timeCall } from './timing';

const M = 64;
const N = 64;
const DEPTH = 256;

function main(): void {
  const json = process.argv.includes('--json');
  const log = (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');
  log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`);
  const flops = 2 * M * N * DEPTH;
  const rows = WASM_VARIANTS.map((variant) => {
    const k = instantiateKernels(variant);
    const base = Math.ceil(k.heapBase() / 64) * 64;
    const a = base;
    const b = a + M * DEPTH * 4;
    const c = b + N * DEPTH * 4;
    const end = c + M * N * 4;
    if (end > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((end - k.memory.buffer.byteLength) / 65536));
    const mem = new Float32Array(k.memory.buffer);
    for (let i = a >> 2; i < c >> 2; i++) mem[i] = Math.sin(i);
    const reps = 200;
    const run = () => {
      for (let r = 0; r < reps; r++) k.gemmPacked(a, b, M, N, DEPTH, c, N, false);
    };
    const t = timeCall(run, { warmup: 3, minRuns: 9, budgetSeconds: 1.5 });
    const row = { variant, gflops: (reps * flops) / t.medianSeconds / 1e9, cpuGflops: (reps * flops) / t.medianCpuSeconds / 1e9 };
    log(`${variant}: ${row.gflops.toFixed(1)} GFLOP/s wall, ${row.cpuGflops.toFixed(1)} by CPU time (${M}x${N}x${DEPTH} packed GEMM, ${reps} calls per run)`);
    return row;
  });
  const [relaxed, plain] = rows;
  log(`relaxed / plain: ${(relaxed.gflops / plain.gflops).toFixed(2)}x wall, ${(relaxed.cpuGflops / plain.cpuGflops).toFixed(2)}x CPU time`);
  if (json) process.stdout.write(JSON.stringify({ benchmark: 'gemmPeak', m: M, n: N, depth: DEPTH, rows }) + '\n');
}

main();
