import * as path from 'path';
import { ImageFileError, type ImageFileErrorCode } from './datasetError';
import { decodeImageFile } from './decodeImage';
import type { ImageChannels } from './imageChannels';
import type { CountProgressHandler } from './progress';

/** A file that could not be used, by its index in the list decoded. */
export interface BadImage {
  readonly index: number;
  readonly file: string;
  readonly code: ImageFileErrorCode;
  readonly reason: string;
}

export interface DecodeImagesOptions {
  /** 3 (RGB, default) or 1 (grey): what decodeImage makes of every file. */
  channels?: ImageChannels;
  /** Decodes in flight at once (default 4). */
  concurrency?: number;
  onProgress?: CountProgressHandler;
}

/**
 * Decodes `files[i]` (relative to `root`) into `pixels` at byte offset `slot(i) * channels * R * R`, with
 * `concurrency` decodes in flight at once. sharp does the work off the JavaScript thread (libvips
 * on libuv's thread pool), so this runs that many decodes on as many cores. Files that are not
 * usable images are returned, not thrown (their slot stays as it was); any other error rejects.
 */
export async function decodeImages(
  root: string,
  files: readonly string[],
  resolution: number,
  pixels: Uint8Array,
  slot: (index: number) => number,
  options: DecodeImagesOptions = {},
): Promise<BadImage[]> {
  const channels = options.channels ?? 3;
  const bytes = channels * resolution * resolution;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const bad: BadImage[] = [];
  let next = 0;
  let done = 0;
  options.onProgress?.({ done, total: files.length });
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      const at = slot(i) * bytes;
      try {
        await decodeImageFile(path.join(root, files[i]), resolution, { channels, out: pixels.subarray(at, at + bytes) });
      } catch (error) {
        if (!(error instanceof ImageFileError)) throw error;
        bad.push({ index: i, file: files[i], code: error.code as ImageFileErrorCode, reason: error.reason });
      }
      done++;
      options.onProgress?.({ done, total: files.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, files.length)) }, lane));
  return bad.sort((a, b) => a.index - b.index);
}
