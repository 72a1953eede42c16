import * as fs from 'fs';
import { CIFAR10_ALL_FILES } from './cifar10Format';
import { DatasetError } from './datasetError';
import { downloadCifar10 } from './downloadCifar10';
import { consoleProgress, ProgressHandler } from './progress';
import { Cifar10, findDatasetFolder, missingDatasetFiles, readCifar10 } from './readCifar10';
import { resolveDataDir, ResolveDataDirOptions } from './resolveDataDir';

export interface LoadCifar10Options extends ResolveDataDirOptions {
  /** Download when the folder is absent or empty (default true; --no-download sets false). */
  download?: boolean;
  /** Download progress; default: a bar on a terminal, plain lines otherwise (on stderr). */
  onProgress?: ProgressHandler;
  /** Archive URL and MD5 (default the official ones); tests point these at a local server. */
  url?: string;
  md5?: string;
  stallTimeoutMs?: number;
  /** Only for tiny test datasets; the default insists on the real 10,000 records per file. */
  recordsPerFile?: number;
}

/**
 * Finds CIFAR-10 (--data-dir, CIFAR10_DIR, cache), downloads it into that folder when it is
 * absent or empty and downloading is allowed, then reads and validates it into shared memory.
 * A folder that exists with some files missing is reported, never overwritten.
 */
export async function loadCifar10(options: LoadCifar10Options = {}): Promise<Cifar10> {
  const { dir, source } = resolveDataDir(options);
  const recordsPerFile = options.recordsPerFile;
  const found = findDatasetFolder(dir);
  if (found) return readCifar10(found, { recordsPerFile });

  const absentOrEmpty = !fs.existsSync(dir) || (fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0);
  if (!absentOrEmpty) {
    const missing = missingDatasetFiles(dir);
    throw new DatasetError(
      'MISSING_FILE',
      `CIFAR-10 folder ${dir} (from ${source}) is incomplete: missing ${missing.join(', ')}; expected ${CIFAR10_ALL_FILES.join(', ')}. ` +
        `Fix: point --data-dir or CIFAR10_DIR at the folder holding these files, or delete ${dir} and run again to download CIFAR-10.`,
    );
  }
  if (options.download === false) {
    throw new DatasetError(
      'NOT_FOUND',
      `CIFAR-10 not found: looked in ${dir} (from ${source}) for ${CIFAR10_ALL_FILES.join(', ')}, and downloading is off (--no-download). ` +
        `Fix: pass --data-dir <folder with the .bin files>, or set CIFAR10_DIR, or allow the download (drop --no-download) ` +
        `to fetch the official archive into ${dir}.`,
    );
  }
  await downloadCifar10({
    targetDir: dir,
    url: options.url,
    md5: options.md5,
    stallTimeoutMs: options.stallTimeoutMs,
    onProgress: options.onProgress ?? consoleProgress(),
    recordsPerFile,
  });
  return readCifar10(dir, { recordsPerFile });
}
