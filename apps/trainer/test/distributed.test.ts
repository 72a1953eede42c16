import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const bin = join(__dirname, '..', 'bin', 'convoy.js');

describe('convoy train under an MPI launcher', () => {
  it('says what to install when libmpi cannot be loaded (before reading any data)', () => {
    const r = spawnSync(process.execPath, [bin, 'train', '--data-dir', '/nonexistent', '--no-download'], {
      encoding: 'utf8',
      // What mpirun sets for rank 0 of 2, with a libmpi that is not there.
      env: { ...process.env, OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2', CONVOY_LIBMPI: 'libmpi-not-installed.so.40', NX_TASK_TARGET_PROJECT: '' },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^error: .*\blibmpi\b.*\blibmpi-not-installed\.so\.40\b.*\bapt-get install openmpi-bin libopenmpi-dev\b.*\bdnf install openmpi\b.*\bCONVOY_LIBMPI\b[^\n]*\n$/,
    );
  });
});

describe('convoy scaling --ranks 2 (mpirun on 127.0.0.1)', () => {
  it('measures 1 process x 1 and x 2 threads, then 2 processes x 1 thread, with the all-reduce share', () => {
    const r = spawnSync(
      process.execPath,
      [bin, 'scaling', '--ranks', '2', '--synthetic', '--steps', '2', '--warmup-steps', '1', '--rounds', '1', '--batch-size', '8', '--width', '2', '--json'],
      { encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: '' } },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/2 processes x 1 thread +[\d.]+ +[\d.]+x +[\d.]+% +[\d.]+%/);
    const result = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(result.processes).toMatchObject({ ranks: 2, threadsPerRank: 1, places: [expect.stringMatching(/^rank 0\/2 on host /), expect.stringMatching(/^rank 1\/2 on host /)] });
    for (const key of ['allReduceShare', 'crossHostShare']) {
      expect(result.processes[key]).toBeGreaterThan(0);
      expect(result.processes[key]).toBeLessThan(1);
    }
    expect(result.processes.crossHostShare).toBeLessThanOrEqual(result.processes.allReduceShare);
    expect(result.threads.threads).toBe(2);
    expect(result.processesOverThreads).toBeCloseTo(result.processes.imagesPerSecond / result.threads.imagesPerSecond, 6);
  });
});
