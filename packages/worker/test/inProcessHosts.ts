import type { CrossHostReducer } from '@convoy/worker';

/**
 * `hosts` pools in this process standing for hosts: each one's reducer waits for all, then gives
 * every one the sum in host order (what MPI_Allreduce does over processes; @convoy/cluster's
 * tests run the real thing under mpirun).
 */
export function inProcessHosts(hosts: number): CrossHostReducer[] {
  let waiting: Array<{ host: number; values: Float32Array; done: () => void }> = [];
  return Array.from({ length: hosts }, (_, host) => ({
    allReduce: (values: Float32Array) =>
      new Promise<void>((done) => {
        waiting.push({ host, values, done });
        if (waiting.length < hosts) return;
        const ordered = waiting.sort((a, b) => a.host - b.host);
        waiting = [];
        const sum = new Float32Array(values.length);
        for (const w of ordered) for (let i = 0; i < sum.length; i++) sum[i] += w.values[i];
        for (const w of ordered) {
          w.values.set(sum);
          w.done();
        }
      }),
  }));
}
