import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { BACKEND_NAMES } from '@convoy/kernels';
import { NATIVE_BACKEND, NATIVE_BF16_BACKEND } from '@convoy/worker';
import { choiceFlag, integerFlag } from './flagParsers';

/**
 * Option groups shared by several commands. Each group is an interface (what the parsed options
 * look like) next to the function that declares its flags, so a command's options type is the
 * intersection of its groups and a flag added here reaches every command that uses the group.
 * Commander names a parsed option after its long flag in camelCase (`--data-dir` -> `dataDir`;
 * `--no-download` -> `download`, true unless given).
 */

/**
 * The CPUs this process may use (its affinity, which a launcher such as mpirun may narrow; not
 * the machine's count): the default of --threads.
 */
export const CORES = availableParallelism();

/** `--backend`: `native` (oneDNN, @convoy/native), a kernels backend name, or `gpujs:<mode>`. */
const BACKEND_CHOICES = [BACKEND_NAMES[0], NATIVE_BACKEND, NATIVE_BF16_BACKEND, ...BACKEND_NAMES.slice(1)];
/** The plain-TS oracle's former name: scripts and saved commands used `--backend js`, so the flag still takes it. */
const FORMER_REFERENCE_NAME = 'js';
export function backendFlag(value: string): string {
  if (value === FORMER_REFERENCE_NAME) return 'reference';
  if (BACKEND_CHOICES.includes(value) || /^gpujs:[a-z]+$/.test(value)) return value;
  return choiceFlag('--backend', [...BACKEND_CHOICES, 'gpujs:<mode>'])(value);
}

/** Where CIFAR-10 comes from. */
export interface DataOptions {
  dataDir?: string;
  download: boolean;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'CIFAR-10 folder (binary version); default $CIFAR10_DIR, else ~/.cache/convoy/cifar-10 (downloaded there if empty)')
    .option('--no-download', 'never download CIFAR-10; fail if it is not found');
}

/** A folder of images instead of CIFAR-10 (train on it, or evaluate on its test part). */
export interface ImageFolderOptions {
  data?: string;
  skipBadImages?: boolean;
  skipBadShards?: boolean;
  imageCache: boolean;
}

export function addImageFolderOptions(cmd: Command): Command {
  return cmd
    .option('--data <folder>', 'a folder of JPEG/PNG/WebP images instead of CIFAR-10: <folder>/train/<class>/* and <folder>/test/<class>/*, or <folder>/<class>/* with --val-split; or a folder written by `convoy pack`')
    .option('--skip-bad-images', 'with --data: leave out (and count) empty, corrupt or non-image files instead of stopping')
    .option('--skip-bad-shards', 'with a packed --data folder: leave out damaged or missing shards (and say how many images that lost) instead of stopping')
    .option('--no-image-cache', 'with --data: decode every image again instead of reading ~/.cache/convoy/image-folders (and write no cache)');
}

/** How the work runs: worker threads and the kernel backend. */
export interface ComputeOptions {
  threads: number;
  backend: string;
}

export function addThreadsOption(cmd: Command, help = 'worker threads (one per core is best)'): Command {
  return cmd.addOption(new Option('--threads <n>', help).argParser(integerFlag('--threads', 1, 1024)).default(CORES, `the CPUs this process may use, here ${CORES}`));
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', `kernel backend: ${BACKEND_CHOICES.join(' | ')} | gpujs:<mode> (auto: native oneDNN when installed and it passes a parity check, else WebAssembly; native:bf16: oneDNN with bfloat16 convolutions, float32 weights and accumulation, never chosen by auto; js: the former name of reference)`).argParser(backendFlag).default('auto'));
}

export function addComputeOptions(cmd: Command, threadsHelp?: string): Command {
  return addBackendOption(addThreadsOption(cmd, threadsHelp));
}

/** Which test images are evaluated. */
export interface TestSubsetOptions {
  limitTest?: number;
}

export function addTestSubsetOptions(cmd: Command): Command {
  return cmd.option('--limit-test <n>', 'evaluate on a class-balanced subset of n test images (default: all 10,000)', integerFlag('--limit-test', 1));
}

/** Machine-readable output instead of text. */
export interface JsonOptions {
  json?: boolean;
}
