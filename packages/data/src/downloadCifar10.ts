import * as fs from 'fs';
import * as path from 'path';
import * as tar from 'tar';
import { CIFAR10_MD5, CIFAR10_URL } from './cifar10Format';
import { DatasetError } from './datasetError';
import { fileMd5 } from './fileMd5';
import { downloadToFile } from './httpDownload';
import { ProgressHandler } from './progress';
import { findDatasetFolder, validateCifar10Folder } from './readCifar10';
import { processAlive } from './processAlive';

export interface DownloadCifar10Options {
  /** The folder to create; it appears only once complete and verified (one rename). */
  targetDir: string;
  /** Default: the official archive. Tests point this at a local server. */
  url?: string;
  /** Expected MD5 of the archive (lowercase hex). Default: the official archive's. */
  md5?: string;
  /** Abort when no byte arrives for this long; default 60 s. */
  stallTimeoutMs?: number;
  onProgress?: ProgressHandler;
  /** Only for test archives; the default insists on the real 10,000 records per file. */
  recordsPerFile?: number;
}

/** `<target>.tar.gz.partial`: the archive being downloaded, kept across attempts so a rerun resumes. */
export function partialArchivePath(targetDir: string): string {
  return `${targetDir}.tar.gz.partial`;
}

const EXTRACT_INFIX = '.extract-';

/**
 * Downloads the CIFAR-10 binary archive, verifies its MD5, extracts it next to `targetDir` and
 * renames the extracted folder to `targetDir`. Whatever fails, `targetDir` either does not exist
 * or is complete: there is no half folder. An interrupted download keeps only
 * `<target>.tar.gz.partial`, which the next call resumes (or restarts when the server ignores
 * ranges); an archive with the wrong MD5 is deleted so the next call starts afresh.
 *
 * Two processes downloading into the same folder at once are not coordinated: the loser's MD5 or
 * rename fails and it can simply be run again.
 */
export async function downloadCifar10(options: DownloadCifar10Options): Promise<string> {
  const targetDir = path.resolve(options.targetDir);
  const url = options.url ?? CIFAR10_URL;
  const expectedMd5 = (options.md5 ?? CIFAR10_MD5).toLowerCase();
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const onProgress = options.onProgress;
  fs.mkdirSync(path.dirname(targetDir), { recursive: true });
  removeAbandonedExtractions(targetDir);

  const archive = partialArchivePath(targetDir);
  // A complete, verified archive left by a run that failed later (extraction, disk full) is reused.
  const alreadyComplete = fs.existsSync(archive) && (await fileMd5(archive)) === expectedMd5;
  if (!alreadyComplete) await downloadToFile(url, archive, { stallTimeoutMs, onProgress });

  const size = fs.statSync(archive).size;
  onProgress?.({ phase: 'verify', receivedBytes: size, totalBytes: size });
  const actualMd5 = await fileMd5(archive);
  if (actualMd5 !== expectedMd5) {
    fs.rmSync(archive, { force: true });
    throw new DatasetError(
      'CHECKSUM_MISMATCH',
      `The archive downloaded from ${url} has MD5 ${actualMd5}, expected ${expectedMd5}: it is corrupt or not the official ` +
        `cifar-10-binary.tar.gz. It has been deleted. Fix: run again to download it afresh; if this repeats, download it by hand, ` +
        `check it with md5sum, extract it and pass --data-dir (or set CIFAR10_DIR) to the cifar-10-batches-bin folder.`,
    );
  }

  onProgress?.({ phase: 'extract', receivedBytes: size, totalBytes: size });
  // A sibling of the target, so the final rename stays on one file system and is atomic.
  const workDir = fs.mkdtempSync(`${targetDir}${EXTRACT_INFIX}${process.pid}-`);
  try {
    await extractArchive(archive, workDir, url);
    const extracted = findDatasetFolder(workDir);
    if (!extracted) {
      throw new DatasetError(
        'EXTRACT_FAILED',
        `The archive from ${url} passed its MD5 check but holds no cifar-10-batches-bin/data_batch_1.bin: it is not the CIFAR-10 binary ` +
          `version. Fix: check the --download-url / MD5 you gave, or use the official archive.`,
      );
    }
    try {
      validateCifar10Folder(extracted, { recordsPerFile: options.recordsPerFile });
    } catch (err) {
      throw new DatasetError(
        err instanceof DatasetError ? err.code : 'EXTRACT_FAILED',
        `The archive from ${url} does not hold a valid CIFAR-10 folder: ${(err as Error).message}`,
      );
    }
    moveIntoPlace(extracted, targetDir);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  fs.rmSync(archive, { force: true });
  onProgress?.({ phase: 'done', receivedBytes: size, totalBytes: size });
  return targetDir;
}

async function extractArchive(archive: string, cwd: string, url: string): Promise<void> {
  try {
    // strict: a damaged entry is an error, not a warning; tar strips absolute and ../ paths.
    await tar.x({ file: archive, cwd, strict: true });
  } catch (err) {
    throw new DatasetError(
      'EXTRACT_FAILED',
      `The archive from ${url} passed its MD5 check but could not be extracted: ${(err as Error).message}. ` +
        `Fix: free disk space / check permissions on ${path.dirname(cwd)} and run again.`,
    );
  }
}

function moveIntoPlace(extracted: string, targetDir: string): void {
  // We only download into a folder that is absent or empty; an empty one must go for rename to work.
  if (fs.existsSync(targetDir) && fs.readdirSync(targetDir).length === 0) fs.rmdirSync(targetDir);
  try {
    fs.renameSync(extracted, targetDir);
  } catch (err) {
    // Another process finished first: its folder is as good as ours.
    if (findDatasetFolder(targetDir) === targetDir) return;
    throw new DatasetError(
      'EXTRACT_FAILED',
      `Could not move the extracted dataset to ${targetDir}: ${(err as Error).message}. Fix: make sure ${targetDir} does not exist ` +
        `(or is empty) and its parent is writable, then run again.`,
    );
  }
}

// An extraction killed mid-way (Ctrl-C, OOM) leaves `<target>.extract-<pid>-xxxx`; the target
// itself never appears half-made. Clear those whose process is gone.
function removeAbandonedExtractions(targetDir: string): void {
  const parent = path.dirname(targetDir);
  const prefix = path.basename(targetDir) + EXTRACT_INFIX;
  for (const entry of fs.readdirSync(parent)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
      fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
    }
  }
}
