import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { consoleCountProgress, DEFAULT_SHARD_BYTES, packDataset, type ImageChannels } from '@convoy/data';
import { userPath } from '../config';
import { choiceFlag, integerFlag, numberFlag, sizeFlag } from '../flagParsers';

interface PackOptions {
  resolution: number;
  channels: ImageChannels;
  output: string;
  shardSize: number;
  valSplit?: number;
  seed: number;
  skipBadImages?: boolean;
  threads: number;
}

const MB = 1024 * 1024;

async function pack(source: string, opts: PackOptions): Promise<void> {
  // sharp decodes on libuv's thread pool (4 threads unless set before its first use): one per core.
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, opts.threads));
  const started = performance.now();
  const result = await packDataset(userPath(source), userPath(opts.output), {
    resolution: opts.resolution,
    channels: opts.channels,
    shardBytes: opts.shardSize,
    valSplit: opts.valSplit,
    seed: opts.seed,
    skipBadImages: opts.skipBadImages === true,
    concurrency: opts.threads,
    onProgress: consoleCountProgress(`Packing at ${opts.resolution}x${opts.resolution}${opts.channels === 1 ? ', grey' : ''}`),
    onShard: ({ shard, reused }) => {
      if (reused) process.stderr.write(`convoy pack: kept ${shard.file} (${shard.count} images, SHA-256 checked) from the interrupted packing\n`);
    },
  });
  const { index } = result;
  const seconds = (performance.now() - started) / 1000;
  const shards = index.splits.train.shards.length + index.splits.test.shards.length;
  const bytes = [...index.splits.train.shards, ...index.splits.test.shards].reduce((t, s) => t + s.bytes, 0);
  const images = index.splits.train.count + index.splits.test.count;
  if (result.outcome === 'complete') {
    process.stdout.write(`${userPath(opts.output)} already holds this packing (${images} images in ${shards} shards); nothing to do\n`);
    return;
  }
  process.stdout.write(
    `packed ${index.splits.train.count} training and ${index.splits.test.count} test images of ${index.classNames.length} classes at ${index.resolution}x${index.resolution}${index.channels === 1 ? ' grey' : ''} ` +
      `into ${shards} shards (${(bytes / MB).toFixed(bytes < MB ? 3 : 1)} MB) in ${userPath(opts.output)}: ${seconds.toFixed(1)} s, ${Math.round(images / seconds)} images/s` +
      (result.reused > 0 ? ` (${result.reused} shards kept from the interrupted packing)` : '') +
      (result.skipped.length > 0 ? `; --skip-bad-images left out ${result.skipped.length} files` : '') +
      `\ntrain on it with: convoy train --data ${userPath(opts.output)}\n`,
  );
}

/** `convoy pack <source> -o <dir>`: an image folder or CIFAR-10 decoded once into shards that --data reads. */
export function addPackCommand(program: Command): void {
  program
    .command('pack')
    .description('decode an image folder (or a CIFAR-10 folder) once, at one resolution, into shard files and an index that `convoy train --data <dir>` reads; resumes when interrupted')
    .argument('<source>', 'image folder (train/<class>/* and test/<class>/*, or <class>/* with --val-split) or CIFAR-10 binary folder')
    .requiredOption('-o, --output <dir>', 'the packed dataset folder to write (new or empty, or an interrupted packing to resume)')
    .requiredOption('--resolution <R>', 'resize each image so its smaller side is R, then centre-crop R x R (CIFAR-10 is resized from 32)', integerFlag('--resolution', 8, 4096))
    .option('--channels <n>', "1 (grey: PIL's convert(\"L\") luma of the RGB pixels) or 3 (RGB); a network must take the same (its input.channels)", (value: string) => Number(choiceFlag('--channels', ['1', '3'])(value)) as ImageChannels, 3)
    .option('--shard-size <size>', 'largest shard file, e.g. 64M or 1G', sizeFlag('--shard-size', 1024), DEFAULT_SHARD_BYTES)
    .option('--val-split <fraction>', 'for <class>/* folders: hold out this fraction of each class for testing (seeded by --seed)', numberFlag('--val-split', { min: 0, minExclusive: true, max: 0.99 }))
    .option('--seed <n>', 'seed of the --val-split choice', integerFlag('--seed', 0, 2 ** 31 - 1), 0)
    .option('--skip-bad-images', 'leave out (and count) empty, corrupt or non-image files instead of stopping')
    .option('--threads <n>', 'images decoded at once (default: the CPUs this process may use)', integerFlag('--threads', 1, 1024), availableParallelism())
    .action(async (source: string, opts: PackOptions) => pack(source, opts));
}
