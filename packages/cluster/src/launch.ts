/** How this process was started, read from the variables MPI launchers set (no MPI library needed). */
export interface MpiLaunch {
  /** The launcher family whose variables were found. */
  launcher: 'open-mpi' | 'slurm-pmix' | 'pmi';
  rank: number;
  size: number;
}

function int(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/**
 * The rank and size a launcher gave this process, or null when no launcher started it: Open MPI's
 * mpirun (OMPI_COMM_WORLD_RANK/SIZE), Slurm's `srun --mpi=pmix` (PMIX_RANK with SLURM_NTASKS), or a
 * PMI launcher (PMI_RANK/PMI_SIZE: MPICH's hydra, `srun --mpi=pmi2`).
 */
export function mpiLaunch(env: NodeJS.ProcessEnv = process.env): MpiLaunch | null {
  const ompi = { rank: int(env.OMPI_COMM_WORLD_RANK), size: int(env.OMPI_COMM_WORLD_SIZE) };
  if (ompi.rank !== null && ompi.size !== null) return { launcher: 'open-mpi', rank: ompi.rank, size: ompi.size };
  const pmix = { rank: int(env.PMIX_RANK), size: int(env.SLURM_NTASKS) };
  if (pmix.rank !== null && pmix.size !== null) return { launcher: 'slurm-pmix', rank: pmix.rank, size: pmix.size };
  const pmi = { rank: int(env.PMI_RANK), size: int(env.PMI_SIZE) };
  if (pmi.rank !== null && pmi.size !== null) return { launcher: 'pmi', rank: pmi.rank, size: pmi.size };
  return null;
}
