import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * What the image-folder e2e checks share: the real cat-dog JPEGs ($CATDOG_DIR, else cat-dog-jpeg
 * beside $CIFAR10_DIR), a temporary work folder with its own image cache, the built CLI run
 * against that cache, and small subsets of the JPEGs linked into the work folder so runs stay short.
 */

/** The built `convoy` command (bin/convoy.js -> dist/cli.js). */
export const CONVOY_BIN = join(__dirname, '..', 'bin', 'convoy.js');

export interface CatDogWork {
  /** The temporary folder: linked subsets, checkpoints, the image cache. */
  dir: string;
  /** The environment the CLI runs in (its image cache inside `dir`); for mpirun too. */
  env: NodeJS.ProcessEnv;
  /** Runs the built CLI in `env`. */
  convoy: (args: string[]) => { code: number | null; out: string; err: string };
  /** A folder `name` of links to the first `counts[part]` images of each class (train/<class>, test/<class>; `flat`: <class> only). */
  linkedSubset: (name: string, counts: { train: number; test: number }, flat?: boolean) => string;
}

/** Finds the cat-dog JPEGs (or throws saying what to set) and makes a work folder named from `prefix`. */
export function catDogWork(prefix: string): CatDogWork {
  const cifarDir = process.env.CIFAR10_DIR;
  if (!cifarDir) throw new Error('the e2e checks need real data: set CIFAR10_DIR (cat-dog-jpeg is looked for beside it, or set CATDOG_DIR)');
  const catDogDir = resolve(process.env.CATDOG_DIR ?? join(dirname(resolve(cifarDir)), 'cat-dog-jpeg'));
  if (!existsSync(join(catDogDir, 'train', 'cat'))) throw new Error(`no cat-dog-jpeg folder at ${catDogDir}: set CATDOG_DIR`);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env = { ...process.env, NX_TASK_TARGET_PROJECT: '', XDG_CACHE_HOME: join(dir, 'cache') };
  return {
    dir,
    env,
    convoy: (args) => {
      const r = spawnSync(process.execPath, [CONVOY_BIN, ...args], { encoding: 'utf8', env });
      return { code: r.status, out: r.stdout, err: r.stderr };
    },
    linkedSubset: (name, counts, flat = false) => {
      const root = join(dir, name);
      for (const part of ['train', 'test'] as const) {
        for (const cls of ['cat', 'dog']) {
          const to = flat ? join(root, cls) : join(root, part, cls);
          mkdirSync(to, { recursive: true });
          const files = readdirSync(join(catDogDir, part, cls)).sort().slice(0, counts[part]);
          for (const f of files) symlinkSync(join(catDogDir, part, cls, f), join(to, `${part}-${f}`));
        }
      }
      return root;
    },
  };
}
