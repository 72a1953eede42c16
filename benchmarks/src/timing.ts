/** Wall-clock timing of a synchronous call: warm-up calls (wasm tiers up to optimised code after a
 *  few), then repeated runs until both a minimum count and a time budget are reached; the median
 *  is reported (robust to the noise of a shared machine). A call slower than `slowCallSeconds`
 *  is measured once after one warm-up: slow backends then cost seconds, not minutes. */
export interface TimingOptions {
  warmup?: number;
  minRuns?: number;
  budgetSeconds?: number;
  slowCallSeconds?: number;
}

export interface Timing {
  /** Median wall-clock seconds per call. */
  medianSeconds: number;
  /** Median CPU seconds of this process per call: on a machine shared with other jobs this is
   *  closer to what one uncontended core would take (it includes V8's helper threads, so it is
   *  never flattering). */
  medianCpuSeconds: number;
  runs: number;
}

export function timeCall(fn: () => void, options: TimingOptions = {}): Timing {
  const warmup = options.warmup ?? 3;
  const minRuns = options.minRuns ?? 5;
  const budget = options.budgetSeconds ?? 1.5;
  const slow = options.slowCallSeconds ?? 1;
  const first = measure(fn);
  if (first.wall > slow) {
    const once = measure(fn);
    return { medianSeconds: once.wall, medianCpuSeconds: once.cpu, runs: 1 };
  }
  for (let i = 1; i < warmup; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  const start = process.hrtime.bigint();
  while (wall.length < minRuns || (elapsedSince(start) < budget && wall.length < 200)) {
    const sample = measure(fn);
    wall.push(sample.wall);
    cpu.push(sample.cpu);
  }
  return { medianSeconds: median(wall), medianCpuSeconds: median(cpu), runs: wall.length };
}

function measure(fn: () => void): { wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu0);
  return { wall, cpu: (used.user + used.system) / 1e6 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function elapsedSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
