import type { Command } from 'commander';
import { loadCheckpoint } from '../checkpoint';
import {
  addComputeOptions, addDataOptions, addTestSubsetOptions, type ComputeOptions, type DataOptions, type JsonOptions, type TestSubsetOptions,
} from '../cliOptions';
import { userPath } from '../config';
import { evaluateParameters } from '../training';
import { cifar10ClassesOf, loadData, selectData } from './data';

export type EvalOptions = DataOptions & ComputeOptions & TestSubsetOptions & JsonOptions;

async function evaluate(checkpoint: string, opts: EvalOptions): Promise<void> {
  const { path, state } = loadCheckpoint(userPath(checkpoint));
  const data = await loadData(opts);
  const { test } = selectData(data, { classes: cifar10ClassesOf(state, path, data.classNames), limitTest: opts.limitTest });
  const result = await evaluateParameters({
    params: state.params, modelSpec: state.modelSpec, normalization: state.normalization, test, threads: opts.threads, backend: opts.backend,
  });
  const line = { checkpoint: path, step: state.step, epoch: state.epoch, images: result.count, testLoss: result.loss, testAccuracy: result.accuracy, backend: result.backend };
  if (opts.json) process.stdout.write(`${JSON.stringify(line)}\n`);
  else process.stdout.write(`${path} (step ${state.step}, epoch ${state.epoch}): test accuracy ${(100 * result.accuracy).toFixed(2)}% (${result.correct}/${result.count}), loss ${result.loss.toFixed(4)} [${result.backend}]\n`);
}

/** `convoy eval <checkpoint>`: test accuracy and loss of a checkpoint. */
export function addEvalCommand(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a checkpoint on the CIFAR-10 test set')
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack');
  addDataOptions(cmd);
  addComputeOptions(cmd, 'worker threads');
  addTestSubsetOptions(cmd);
  cmd.option('--json', 'print one JSON line instead of text').action(async (checkpoint: string, opts: EvalOptions) => evaluate(checkpoint, opts));
}
