import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/**
 * Which CPUs this process may run on. A launcher can narrow it: Open MPI binds each rank to one
 * core in jobs of at most two ranks (to a socket above that) unless told `--bind-to none`, and
 * worker threads inherit the binding, so N threads on one core run at the speed of one
 * (docs/DISTRIBUTED.md, "Binding: give each rank its host's cores").
 */
export interface CpuAffinity {
  /** The CPUs the process may use, as the kernel lists them (`0-3,8`); null where /proc is missing. */
  list: string | null;
  /** How many CPUs that is (what `--threads` defaults to). */
  count: number;
  /** How many CPUs the machine has online. */
  machine: number;
}

/** `0-3,8,10-11` -> 7. Throws on text that is not a CPU list. */
export function countCpuList(list: string): number {
  let count = 0;
  for (const part of list.trim().split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) throw new RangeError(`not a CPU list: ${JSON.stringify(list)}`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first) throw new RangeError(`not a CPU list: ${JSON.stringify(list)}`);
    count += last - first + 1;
  }
  return count;
}

/** The `Cpus_allowed_list` line of a /proc/<pid>/status text, or null. */
export function cpusAllowedList(status: string): string | null {
  const line = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status);
  return line ? line[1] : null;
}

/** This process's CPU affinity (Linux: /proc/self/status; elsewhere Node's availableParallelism()). */
export function readCpuAffinity(): CpuAffinity {
  const machine = cpus().length || availableParallelism();
  let list: string | null = null;
  try {
    list = cpusAllowedList(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    list = null;
  }
  // availableParallelism() honours the affinity mask too (libuv asks sched_getaffinity); /proc
  // adds the list itself, which the messages show.
  const count = list ? countCpuList(list) : availableParallelism();
  return { list, count, machine };
}

/**
 * What to tell the user when the threads outnumber the CPUs this process may use, or when a
 * launcher bound it to fewer CPUs than the machine has; null when all is well.
 */
export function affinityWarning(affinity: CpuAffinity, threads: number, launcher: 'mpi' | 'slurm' | null): string | null {
  const where = affinity.list ? `CPU${affinity.count === 1 ? '' : 's'} ${affinity.list}` : `${affinity.count} CPU(s)`;
  const fix =
    launcher === 'slurm'
      ? `give the task its cores: srun --cpus-per-task=${Math.max(threads, 2)} (and --threads $SLURM_CPUS_PER_TASK)`
      : launcher === 'mpi'
        ? `give each rank its host's cores: mpirun --bind-to none (or --map-by ppr:1:node:pe=${Math.max(threads, 2)})`
        : `run it without a CPU binding (taskset, numactl, a container's CPU limit) or lower --threads to ${affinity.count}`;
  if (threads > affinity.count) {
    return `warning: this process may run on ${where} of the machine's ${affinity.machine}, but --threads is ${threads}: the threads will share ${affinity.count === 1 ? 'one core' : `${affinity.count} cores`}; ${fix}`;
  }
  // Binding to one core is Open MPI's default for small jobs and the trap; a task that Slurm or
  // `--map-by ...:pe=N` gave a few of a node's cores was given them on purpose.
  if (launcher === 'mpi' && affinity.count === 1 && affinity.machine > 1) {
    return `warning: the launcher bound this process to ${where} of the machine's ${affinity.machine}, so --threads defaults to ${affinity.count}; ${fix}`;
  }
  return null;
}
