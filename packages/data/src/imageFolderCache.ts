import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import type { BadImage } from './decodeImages';
import type { ImageChannels } from './imageChannels';
import type { ImageFolderEntry } from './imageFolderLayout';
import { removeStaleTemporaries, temporaryPath } from './temporaryFiles';

/**
 * The on-disk cache of a decoded image folder: one file per (folder content, R, channels), named by
 * a SHA-256 key over the format version, the decoder's version, R, the channels (a grey decoding
 * never reads an RGB one's file, nor the reverse), and every file's relative path,
 * size and modification time (so adding, removing, replacing or touching an image makes a new
 * key). It holds the decoded pixels of every entry in canonical order (C x R x R bytes each; zeros
 * for bad files) and the list of bad files. Written to a temporary name and renamed into place:
 * the cache file is either absent or complete.
 */
const MAGIC = Buffer.from('CVYIMG01');
/** Bump when the preprocessing or this file format changes: old cache files are then never read. */
const FORMAT_VERSION = 1;
const CHUNK = 64 * 1024 * 1024;

export interface CacheHeader {
  resolution: number;
  /** Absent in files written before grey decoding existed: those are RGB. */
  channels?: ImageChannels;
  count: number;
  files: string[];
  bad: BadImage[];
}

/** The cache key of `entries` under `root` decoded to `channels` x `resolution` x `resolution` (stats every file). */
export function imageFolderCacheKey(root: string, entries: readonly ImageFolderEntry[], resolution: number, channels: ImageChannels): string {
  const hash = createHash('sha256');
  // RGB keys leave the channels out: they are the keys of before grey decoding existed, so those caches (and packings) stay valid.
  hash.update(JSON.stringify({ format: FORMAT_VERSION, sharp: sharp.versions.sharp, vips: sharp.versions.vips, resolution, ...(channels === 3 ? {} : { channels }) }));
  for (const { file } of entries) {
    const stat = fs.statSync(path.join(root, file));
    hash.update(`\n${file}\0${stat.size}\0${stat.mtimeMs}`);
  }
  return hash.digest('hex');
}

export function cacheFilePath(cacheDir: string, key: string): string {
  return path.join(cacheDir, `${key}.convoy-images`);
}

/**
 * Reads the cache file into `pixels` (entry i at slot(i)), or returns null when there is none or it
 * does not match (a damaged or foreign file is ignored: the caller decodes again and replaces it).
 */
export function readImageCache(
  file: string,
  files: readonly string[],
  { resolution, channels }: { resolution: number; channels: ImageChannels },
  pixels: Uint8Array,
  slot: (i: number) => number,
): CacheHeader | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(MAGIC.length + 4);
    if (size < head.length || fs.readSync(fd, head, 0, head.length, 0) !== head.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    const headerLength = head.readUInt32LE(MAGIC.length);
    const headerBytes = Buffer.alloc(headerLength);
    if (fs.readSync(fd, headerBytes, 0, headerLength, head.length) !== headerLength) return null;
    const header = JSON.parse(headerBytes.toString('utf8')) as CacheHeader;
    const bytes = channels * resolution * resolution;
    const start = head.length + headerLength;
    const matches =
      header.resolution === resolution && (header.channels ?? 3) === channels && header.count === files.length && header.files.every((f, i) => f === files[i]) && size === start + files.length * bytes;
    if (!matches) return null;
    forEachRun(files.length, slot, (first, firstSlot, length) => {
      readFully(fd, pixels, firstSlot * bytes, length * bytes, start + first * bytes);
    });
    return header;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the cache file atomically: to `<file>.tmp-<pid>-<random>`, fsync, rename. Temporary files
 * of processes that no longer run (killed mid-write) are removed first.
 */
export function writeImageCache(file: string, header: CacheHeader, pixels: Uint8Array, slot: (i: number) => number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  removeStaleTemporaries(path.dirname(file));
  const tmp = temporaryPath(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const head = Buffer.alloc(MAGIC.length + 4);
    MAGIC.copy(head);
    head.writeUInt32LE(headerBytes.length, MAGIC.length);
    writeFully(fd, head, 0, head.length);
    writeFully(fd, headerBytes, 0, headerBytes.length);
    const bytes = (header.channels ?? 3) * header.resolution * header.resolution;
    forEachRun(header.count, slot, (_first, firstSlot, length) => writeFully(fd, pixels, firstSlot * bytes, length * bytes));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (error) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

/** Calls f(firstIndex, firstSlot, length) for each maximal run of consecutive indices with consecutive slots. */
function forEachRun(count: number, slot: (i: number) => number, f: (first: number, firstSlot: number, length: number) => void): void {
  let first = 0;
  for (let i = 1; i <= count; i++) {
    if (i === count || slot(i) !== slot(i - 1) + 1) {
      f(first, slot(first), i - first);
      first = i;
    }
  }
}

function readFully(fd: number, into: Uint8Array, offset: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const n = fs.readSync(fd, into, offset + done, Math.min(CHUNK, length - done), position + done);
    if (n <= 0) throw new Error('cache file ended early');
    done += n;
  }
}

function writeFully(fd: number, from: Uint8Array, offset: number, length: number): void {
  for (let done = 0; done < length; ) done += fs.writeSync(fd, from, offset + done, Math.min(CHUNK, length - done));
}
