import { availableParallelism } from 'node:os';
import { affinityWarning, countCpuList, cpusAllowedList, readCpuAffinity } from '../src/cpuAffinity';

describe('CPU affinity', () => {
  it('counts kernel CPU lists and refuses other text', () => {
    expect(countCpuList('0')).toBe(1);
    expect(countCpuList('0-3')).toBe(4);
    expect(countCpuList('0-3,8,10-11')).toBe(7);
    expect(() => countCpuList('0-')).toThrow(/\bCPU list\b.*"0-"/);
    expect(() => countCpuList('3-1')).toThrow(/\bCPU list\b.*"3-1"/);
  });

  it('reads Cpus_allowed_list from a /proc status text', () => {
    expect(cpusAllowedList('Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t1\n')).toBe('0-1');
    expect(cpusAllowedList('Name:\tnode\n')).toBeNull();
  });

  it("reads this process's affinity: as many CPUs as Node's availableParallelism()", () => {
    const affinity = readCpuAffinity();
    expect(affinity.count).toBe(availableParallelism());
    expect(affinity.count).toBeLessThanOrEqual(affinity.machine);
  });

  it('warns when threads outnumber the CPUs, naming the launcher flag that fixes it', () => {
    const oneCore = { list: '0', count: 1, machine: 16 };
    expect(affinityWarning(oneCore, 16, 'mpi')).toMatch(/\bCPU 0\b.*\b16\b.*--threads\b.*\b16\b.*\bmpirun --bind-to none\b.*--map-by ppr:1:node:pe=16\b/);
    expect(affinityWarning(oneCore, 4, 'slurm')).toMatch(/srun --cpus-per-task=4/);
    expect(affinityWarning(oneCore, 2, null)).toMatch(/lower --threads to 1/);
    // Bound to one core by mpirun with the default --threads (1): still a warning, the default is what shrank.
    expect(affinityWarning(oneCore, 1, 'mpi')).toMatch(/\bCPU 0\b.*\b16\b.*--threads\b.*\b1\b.*--bind-to none\b/);
    // Given a few cores on purpose (srun, --map-by pe=N), or all of them: nothing to say.
    expect(affinityWarning({ list: '0-3', count: 4, machine: 16 }, 4, 'slurm')).toBeNull();
    expect(affinityWarning({ list: '0-3', count: 4, machine: 16 }, 4, 'mpi')).toBeNull();
    expect(affinityWarning({ list: '0-15', count: 16, machine: 16 }, 16, null)).toBeNull();
  });
});
