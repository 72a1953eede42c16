import { decode, encode } from '@msgpack/msgpack';
import { initCluster, mpiLaunch, type Cluster } from '@convoy/cluster';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState } from '@convoy/run';
import type { CpuAffinity } from '../cpuAffinity';
import { UsageError } from '../usageError';

/**
 * `convoy train` under an MPI launcher (mpirun, `srun --mpi=pmix`, the Kubeflow MPI Operator):
 * joining the job, sharing rank 0's checkpoint, and stopping every rank when one fails.
 */

/**
 * This process's place when an MPI launcher started it with more than one rank (MPI is initialised
 * then, and only then); null for a single-process run. Every rank reports its place on stderr.
 */
export function joinCluster(options: { stepTimeout: number; threads: number; affinity: CpuAffinity }): Cluster | null {
  const launch = mpiLaunch(process.env);
  if (!launch || launch.size < 2) return null;
  const cluster = initCluster({ timeoutSeconds: options.stepTimeout });
  const cpus = options.affinity.list ? ` on CPUs ${options.affinity.list}` : '';
  process.stderr.write(`${cluster.describe()} (pid ${process.pid}), ${options.threads} thread(s)${cpus}\n`);
  return cluster;
}

/** Which launcher started this process, in the words affinityWarning uses for its advice. */
export function launcherKind(): 'mpi' | 'slurm' | null {
  const launch = mpiLaunch(process.env);
  if (!launch) return null;
  return launch.launcher === 'slurm-pmix' || process.env.SLURM_JOB_ID !== undefined ? 'slurm' : 'mpi';
}

/** Rank 0 reads the checkpoint; every rank gets it and its path (the other hosts need no copy of the file). */
export async function shareCheckpoint(cluster: Cluster, read: () => { path: string; state: CheckpointState }): Promise<{ path: string; state: CheckpointState }> {
  const size = new Float64Array(new SharedArrayBuffer(8));
  let message: Uint8Array | null = null;
  if (cluster.rank === 0) {
    const loaded = read();
    message = encode({ path: loaded.path, checkpoint: encodeCheckpoint(loaded.state) });
    size[0] = message.length;
  }
  await cluster.broadcast(new Uint8Array(size.buffer), 0);
  const shared = new Uint8Array(new SharedArrayBuffer(size[0]));
  if (message) shared.set(message);
  await cluster.broadcast(shared, 0);
  const { path, checkpoint } = decode(shared) as { path: string; checkpoint: Uint8Array };
  return { path, state: decodeCheckpoint(checkpoint, `${path} (read by rank 0)`) };
}

/**
 * When the launcher tears the job down (Ctrl-C at mpirun, scancel, or another rank failed or was
 * killed), it signals every rank: mpirun sends SIGCONT, then SIGTERM, then SIGKILL, with
 * `odls_base_sigkill_timeout` seconds (default 1) between them; Slurm sends SIGTERM and SIGKILL
 * `KillWait` seconds later. A rank says where it was and asks `stop` to end the run after the
 * current step: the ranks vote on stopping before every step (one small all-reduce), so all of
 * them stop after the same step and rank 0 saves a checkpoint, as a single-host Ctrl-C does. When
 * a rank is gone, the vote cannot complete and the launcher's SIGKILL ends the others; rank 0's
 * last checkpoint is intact either way (docs/DISTRIBUTED.md, "Stopping a job").
 */
export function stopOnLauncherSignals(cluster: Cluster, where: () => string, stop: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    process.stderr.write(
      `${cluster.describe()}: ${signal} during ${where()}: stopping after this step with a checkpoint if every rank is still there ` +
        "(the launcher ends the job in seconds otherwise); rank 0's last checkpoint is intact; continue with --resume\n",
    );
    stop.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/** A rank that fails names itself and its host, then MPI_Abort ends every rank of the job. */
export function abortJob(cluster: Cluster, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${cluster.describe()}: ${message}\n`);
  cluster.abort(err instanceof UsageError ? 2 : 1);
}
