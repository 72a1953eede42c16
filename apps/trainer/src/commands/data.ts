import { loadCifar10, selectSubsets, type Cifar10 } from '@convoy/data';
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
