/**
 * mpirun's arguments for `ranks` processes on this machine (127.0.0.1), as the tests and the
 * scaling benchmark launch them: more ranks than cores are allowed (`--oversubscribe`), and root
 * may run them (`--allow-run-as-root`, which Open MPI otherwise refuses, e.g. in containers), and
 * every rank may use all the cores (`--bind-to none`: Open MPI binds each rank of a job of at
 * most two ranks to one core otherwise, and its worker threads would share that core).
 */
export function localMpirunArgs(ranks: number, command: readonly string[]): string[] {
  if (!Number.isInteger(ranks) || ranks < 1) throw new RangeError(`ranks must be an integer >= 1, got ${ranks}`);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return [...(root ? ['--allow-run-as-root'] : []), '--oversubscribe', '--bind-to', 'none', '-np', String(ranks), '--host', `127.0.0.1:${ranks}`, ...command];
}
