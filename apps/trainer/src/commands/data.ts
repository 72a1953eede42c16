import { loadCifar10, selectSubsets, type Cifar10 } from '@convoy/data';
import type { CheckpointState } from '../checkpoint';
import type { DataOptions } from '../cliOptions';
import { userPath } from '../config';
import { UsageError } from '../usageError';

/** CIFAR-10 as the data flags (and $CIFAR10_DIR) say; paths resolved as the user typed them. */
export async function loadData(opts: DataOptions): Promise<Cifar10> {
  const env = { ...process.env };
  if (env.CIFAR10_DIR) env.CIFAR10_DIR = userPath(env.CIFAR10_DIR);
  return loadCifar10({ dataDir: opts.dataDir ? userPath(opts.dataDir) : undefined, env, download: opts.download !== false });
}

/** The subset flags (`--classes`, `--limit-train`, `--limit-test`) applied; a bad `--classes` is a usage error. */
export function selectData(data: Cifar10, flags: { classes: string | null; limitTrain?: number | null; limitTest?: number | null }): Cifar10 {
  try {
    return selectSubsets(data, { classes: flags.classes ?? undefined, limitTrain: flags.limitTrain ?? undefined, limitTest: flags.limitTest ?? undefined });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * The `--classes` selection of CIFAR-10 that gives a checkpoint's labels: null when its classes are
 * CIFAR-10's ten in label order, else their names in its order. A checkpoint of other images (or
 * another resolution) cannot be scored on CIFAR-10: that is an error naming the file.
 */
export function cifar10ClassesOf(state: Pick<CheckpointState, 'classNames' | 'resolution'>, file: string, cifarNames: readonly string[]): string | null {
  const foreign = state.classNames.filter((name) => !cifarNames.includes(name));
  if (foreign.length > 0 || state.resolution !== 32) {
    throw new UsageError(
      `${file} is a model of ${state.resolution}x${state.resolution} images of ${state.classNames.join(', ')}` +
        (foreign.length > 0 ? `; ${foreign.join(', ')} ${foreign.length === 1 ? 'is not a CIFAR-10 class' : 'are not CIFAR-10 classes'}` : '') +
        ', so it cannot be evaluated on CIFAR-10',
    );
  }
  const allTen = state.classNames.length === cifarNames.length && state.classNames.every((name, i) => name === cifarNames[i]);
  return allTen ? null : state.classNames.join(',');
}
