#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { CheckpointError } from '@convoy/run';
import { ModelFileError } from '@convoy/nn';
import { addCurveCommand } from './commands/curve';
import { addEvalCommand } from './commands/eval';
import { addExportCommand } from './commands/export';
import { addModelCommand } from './commands/model';
import { addPackCommand } from './commands/pack';
import { addPredictCommand } from './commands/predict';
import { addScalingCommand } from './commands/scaling';
import { addTrainCommand } from './commands/train';
import { UsageError } from './usageError';

export { UsageError } from './usageError';

/** Exit code of usage errors (bad or missing flags, arguments or commands), as argparse uses. */
export const USAGE_EXIT_CODE = 2;

export interface ProgramOptions {
  /** Receives the exit code a finished command wants (default: sets process.exitCode). */
  onExitCode?: (code: number) => void;
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

/** The trainer's package version (`convoy --version`); package.json sits one level above src/ and dist/. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The `convoy` program: one command per file under commands/. Usage errors, `--help` and
 * `--version` throw CommanderError instead of exiting (exitOverride), so `main` decides the exit
 * code and embedders and tests keep their process.
 */
export function createProgram(options: ProgramOptions = {}): Command {
  const onExitCode = options.onExitCode ?? ((code: number) => (process.exitCode = code));
  const program = new Command('convoy')
    .description('Data-parallel training of a convolutional network over worker threads and MPI ranks: CIFAR-10 or a folder of your own images')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Set before adding commands: subcommands copy these settings when they are created.
  if (options.writeOut || options.writeErr) {
    program.configureOutput({
      ...(options.writeOut ? { writeOut: options.writeOut } : {}),
      ...(options.writeErr ? { writeErr: options.writeErr } : {}),
    });
  }
  addTrainCommand(program, { onExitCode });
  addEvalCommand(program);
  addPredictCommand(program, { onExitCode });
  addExportCommand(program);
  addPackCommand(program);
  addScalingCommand(program);
  addCurveCommand(program);
  addModelCommand(program);
  return program;
}

/**
 * The exit code for an error a command threw: 0 after --help/--version, 2 for usage errors
 * (commander's flag/argument/command errors and UsageError), 1 for everything else (a corrupt
 * checkpoint, missing data, a failed run).
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
  if (err instanceof UsageError || err instanceof ModelFileError) return USAGE_EXIT_CODE;
  return 1;
}

/** Runs the CLI; errors become one `error: ...` line on stderr and a non-zero exit code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = createProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeOf(err);
    if (err instanceof CommanderError) {
      // Commander printed its message (or the help) already. A bare `convoy` (or `convoy model`) lands here too.
      if (err.code === 'commander.help') process.stderr.write(`${noCommandMessage(program, argv)}\n`);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (!(err instanceof UsageError || err instanceof ModelFileError || err instanceof CheckpointError) && process.env.CONVOY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
}

/** What a command line that names no command to run lacks: `convoy`, or a command group such as `convoy model`. */
function noCommandMessage(program: Command, argv: string[]): string {
  const group = program.commands.find((c) => c.name() === argv[2] && c.commands.length > 0);
  if (!group) return 'error: no command given; training is `convoy train` (see `convoy train --help`)';
  const names = group.commands.map((c) => c.name()).filter((n) => n !== 'help');
  return `error: no ${group.name()} command given; one of ${names.join(', ')} (see \`convoy ${group.name()} --help\`)`;
}

if (require.main === module) void main();
