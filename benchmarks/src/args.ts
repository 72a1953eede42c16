/** Command-line reading shared by the benchmark scripts. */

export interface FlagArgs {
  /** The flag's value (the next argument); throws, with the usage, when there is none. */
  value(): string;
  /** `--flag`, `--flag true` or `--flag false`. */
  optionalBoolean(): boolean;
}

/**
 * Calls `onFlag` for each flag of `rawArgv` (both `--flag value` and `--flag=value`, the form Nx
 * forwards); `onFlag` returns false for a flag it does not know, which then fails with the usage.
 * `--help` / `-h` prints the usage and exits.
 */
export function readFlags(rawArgv: readonly string[], usage: string, onFlag: (flag: string, args: FlagArgs) => boolean): void {
  const argv = rawArgv.flatMap((a) => (a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    const args: FlagArgs = {
      value: () => {
        const v = argv[++i];
        if (v === undefined) throw new Error(`${flag} needs a value; ${usage}`);
        return v;
      },
      optionalBoolean: () => (argv[i + 1] === 'false' ? (i++, false) : argv[i + 1] === 'true' ? (i++, true) : true),
    };
    if (!onFlag(flag, args)) throw new Error(`unknown argument ${flag}; ${usage}`);
  }
}

export function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
  return n;
}

export function positiveNumber(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number, got ${text}`);
  return n;
}
