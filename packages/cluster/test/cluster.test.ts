import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { initCluster, localMpirunArgs, mpiLaunch, MpiUnavailableError } from '../src';

const program = join(__dirname, 'collectives.program.js');

/** Runs test/collectives.program.js on 2 ranks under mpirun; its JSON lines by rank and name. */
function runRanks(mode: string): { status: number | null; output: string; reports: Map<string, unknown> } {
  const result = spawnSync('mpirun', localMpirunArgs(2, [process.execPath, program, mode]), { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) throw new Error(`could not run mpirun (install Open MPI: bash tools/ci/setup-mpi.sh): ${result.error.message}`);
  const output = `${result.stdout}${result.stderr}`;
  const reports = new Map<string, unknown>();
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const { rank, what, value } = JSON.parse(line) as { rank: number; what: string; value: unknown };
    reports.set(`${rank}:${what}`, value);
  }
  return { status: result.status, output, reports };
}

describe('Cluster under mpirun -np 2 (127.0.0.1)', () => {
  it('knows its place and runs all-reduce, broadcast, all-gather, barrier and finalize', () => {
    const { status, output, reports } = runRanks('collectives');
    expect({ status, output }).toEqual({ status: 0, output: expect.any(String) });
    for (const rank of [0, 1]) {
      expect(reports.get(`${rank}:place`)).toEqual({
        rank, size: 2, localRank: rank, localSize: 2, host: expect.any(String), described: expect.stringMatching(new RegExp(`^rank ${rank}/2 on host .+`)),
      });
      expect(reports.get(`${rank}:allReduce`)).toMatchObject({ wrong: 0 });
      expect(reports.get(`${rank}:broadcast`)).toBe('hello');
      expect(reports.get(`${rank}:allGather`)).toEqual(['r0', 'r1']);
      expect(reports.get(`${rank}:unshared`)).toMatch(/must live on a SharedArrayBuffer/);
      expect(reports.get(`${rank}:finalized`)).toBe(true);
    }
    // Rank 0 waited for the late rank 1 with its event loop running (a 20 ms interval kept firing).
    const waiting = reports.get('0:allReduce') as { waitedMs: number; ticks: number };
    expect(waiting.waitedMs).toBeGreaterThan(250);
    expect(waiting.ticks).toBeGreaterThan(5);
  });

  it('times a collective out when a rank stops answering, and MPI_Abort ends the job', () => {
    const t0 = Date.now();
    const { status, output, reports } = runRanks('timeout');
    expect(status).toBe(3);
    expect(reports.get('0:timeout')).toEqual({
      name: 'ClusterTimeoutError', isTimeout: true,
      message: 'all-reduce of 4 floats has waited 2 s for the other ranks: a rank stopped answering (hung, stopped, or its host is unreachable)',
    });
    expect(output).toContain('ClusterTimeoutError'); // (Open MPI's own abort banner is not asserted: 4.1 sometimes loses it)
    expect(Date.now() - t0).toBeLessThan(30000); // not rank 1's 60 s sleep
  });
});

describe('without a usable libmpi', () => {
  it('says what to install when libmpi is missing', () => {
    expect(() => initCluster({ env: { CONVOY_LIBMPI: 'libmpi-not-installed.so.40' } })).toThrow(MpiUnavailableError);
    expect(() => initCluster({ env: { CONVOY_LIBMPI: 'libmpi-not-installed.so.40' } })).toThrow(
      /\blibmpi\b.*\blibmpi-not-installed\.so\.40\b.*\bapt-get install openmpi-bin libopenmpi-dev\b/,
    );
  });

  it('refuses a libmpi that is not Open MPI, saying which MPI is supported', () => {
    expect(() => initCluster({ env: { CONVOY_LIBMPI: 'libc.so.6' } })).toThrow(
      /^libc\.so\.6\b.*\bompi_mpi_comm_world\b.*\bOpen MPI only\b/,
    );
  });
});

describe('mpiLaunch', () => {
  it('reads rank and size from Open MPI, Slurm PMIx and PMI launchers, and null without one', () => {
    expect(mpiLaunch({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' })).toEqual({ launcher: 'open-mpi', rank: 1, size: 4 });
    expect(mpiLaunch({ PMIX_RANK: '2', SLURM_NTASKS: '3' })).toEqual({ launcher: 'slurm-pmix', rank: 2, size: 3 });
    expect(mpiLaunch({ PMI_RANK: '0', PMI_SIZE: '2' })).toEqual({ launcher: 'pmi', rank: 0, size: 2 });
    expect(mpiLaunch({})).toBeNull();
    expect(mpiLaunch({ OMPI_COMM_WORLD_RANK: 'x', OMPI_COMM_WORLD_SIZE: '2' })).toBeNull();
  });
});
