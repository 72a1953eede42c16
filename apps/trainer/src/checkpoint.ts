import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync, existsSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, LATEST_CHECKPOINT, type CheckpointState } from '@convoy/run';

// The checkpoint format (encode, decode, verify) is @convoy/run's; this module holds its file I/O.

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename over
 * the target, fsync the directory. A crash leaves either the old file or the new one, never half.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w');
  try {
    let written = 0;
    while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the rename itself is still atomic.
  }
}

export function saveCheckpoint(path: string, state: CheckpointState): void {
  writeFileAtomic(path, encodeCheckpoint(state));
}

/** Reads a checkpoint from a file, or `latest.msgpack` when given a directory. */
export function loadCheckpoint(pathOrDir: string): { path: string; state: CheckpointState } {
  if (!existsSync(pathOrDir)) throw new CheckpointError(`checkpoint ${pathOrDir} does not exist`);
  const path = statSync(pathOrDir).isDirectory() ? join(pathOrDir, LATEST_CHECKPOINT) : pathOrDir;
  if (!existsSync(path)) throw new CheckpointError(`checkpoint directory ${pathOrDir} has no ${LATEST_CHECKPOINT}`);
  return { path, state: decodeCheckpoint(readFileSync(path), path) };
}
