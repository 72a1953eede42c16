/** True while process `pid` runs (EPERM: it runs under another user). Used to tell a live writer's temporaries from a killed one's. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
