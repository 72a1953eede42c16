import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import { SHARD_HEADER_BYTES, SHARD_MAGIC, type PackedShard } from './packedFormat';

/**
 * Reads a shard file through `scratch` (asynchronously, one scratch-sized read at a time, so it runs
 * beside training and holds no more than the scratch buffer) and checks it against the index: its
 * size, its SHA-256 and its header. Returns the problem in words, or null when it is whole. A
 * streamed dataset verifies a shard this way before it uses a single image of it, then reads it a
 * second time for its images, normally from the page cache the first read filled.
 */
export async function verifyShard(file: string, shard: PackedShard, scratch: Uint8Array): Promise<string | null> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (error) {
    return `cannot be opened (${(error as Error).message})`;
  }
  try {
    const size = (await handle.stat()).size;
    if (size < shard.bytes) return `${size} bytes, the index says ${shard.bytes}: cut`;
    if (size > shard.bytes) return 'has bytes after its last image';
    const hash = createHash('sha256');
    let header: Buffer | null = null;
    for (let position = 0; position < size; ) {
      const { bytesRead } = await handle.read(scratch, 0, Math.min(scratch.length, size - position), position);
      if (bytesRead <= 0) return 'ends early: cut';
      const part = scratch.subarray(0, bytesRead);
      if (position === 0) header = Buffer.from(part.subarray(0, SHARD_HEADER_BYTES));
      hash.update(part);
      position += bytesRead;
    }
    if (hash.digest('hex') !== shard.sha256) return 'its SHA-256 is not the index\'s: damaged (a changed byte)';
    if (!header || header.length < SHARD_HEADER_BYTES || !header.subarray(0, SHARD_MAGIC.length).equals(SHARD_MAGIC) || header.readUInt32LE(SHARD_MAGIC.length) !== shard.count) {
      return 'its header does not match the index';
    }
    return null;
  } finally {
    await handle.close();
  }
}
