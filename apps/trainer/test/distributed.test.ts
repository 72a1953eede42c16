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
      /^error: a distributed run needs Open MPI's libmpi, which could not be loaded \(libmpi-not-installed\.so\.40: .*\)\. Install Open MPI \(Debian\/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; RHEL\/Fedora: dnf install openmpi\), or set CONVOY_LIBMPI to the path of its libmpi\.so\.\n$/,
    );
  });
});
