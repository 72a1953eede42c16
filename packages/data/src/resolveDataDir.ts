import * as os from 'os';
import * as path from 'path';

export type DataDirSource = '--data-dir' | 'CIFAR10_DIR' | 'cache';

export interface ResolvedDataDir {
  /** Absolute path of the folder that holds (or will hold) the .bin files. */
  dir: string;
  /** Which rule picked it: says where we looked in error messages. */
  source: DataDirSource;
}

export interface ResolveDataDirOptions {
  /** From --data-dir: wins over everything. */
  dataDir?: string;
  /** Environment to read CIFAR10_DIR, XDG_CACHE_HOME and HOME from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Replaces the default cache folder (~/.cache/convoy/cifar-10). */
  cacheDir?: string;
}

/**
 * Where CIFAR-10 lives: --data-dir, then $CIFAR10_DIR, then the cache folder
 * $XDG_CACHE_HOME/convoy/cifar-10 (XDG_CACHE_HOME only when absolute, as the XDG spec says),
 * else ~/.cache/convoy/cifar-10. Empty values count as unset.
 */
export function resolveDataDir(options: ResolveDataDirOptions = {}): ResolvedDataDir {
  const env = options.env ?? process.env;
  if (options.dataDir) return { dir: path.resolve(options.dataDir), source: '--data-dir' };
  if (env.CIFAR10_DIR) return { dir: path.resolve(env.CIFAR10_DIR), source: 'CIFAR10_DIR' };
  if (options.cacheDir) return { dir: path.resolve(options.cacheDir), source: 'cache' };
  return { dir: path.join(defaultCacheRoot(env), 'convoy', 'cifar-10'), source: 'cache' };
}

/** $XDG_CACHE_HOME when absolute, else ~/.cache: where convoy keeps its caches. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return xdg;
  return path.join(env.HOME || os.homedir(), '.cache');
}
