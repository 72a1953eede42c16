import { createProgram } from '../src/cli';

/**
 * Runs `convoy ARGS` in this process with exits turned into exceptions, as the CLI's unit tests
 * need it: what went to stdout and to stderr, and the error the program ended with (null if none).
 * Commands that print through process.stdout directly (progress, tables) are captured as well.
 */
export async function runCli(args: string[]): Promise<{ out: string; err: string; error: unknown }> {
  let out = '';
  let err = '';
  const program = createProgram({ writeOut: (t) => (out += t), writeErr: (t) => (err += t), onExitCode: () => undefined });
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((t: string) => ((out += t), true));
  try {
    await program.parseAsync(['node', 'convoy', ...args]);
    return { out, err, error: null };
  } catch (error) {
    return { out, err, error };
  } finally {
    process.stdout.write = write;
  }
}
