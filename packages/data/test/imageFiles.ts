import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';

/** Interleaved raw pixels `width x height x channels` from f(x, y, channel). */
export function rawPixels(width: number, height: number, channels: number, f: (x: number, y: number, c: number) => number): Buffer {
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) raw[(y * width + x) * channels + c] = f(x, y, c);
  return raw;
}

export type Encoding = 'png' | 'jpeg' | 'webp';

/** Encodes raw pixels as a real image file's bytes. Lossless where the test needs exact values (png, webp lossless). */
export async function encodeImage(raw: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4, as: Encoding): Promise<Buffer> {
  // A grey (or grey + alpha) input stays grey in the file: sharp would otherwise write it as sRGB.
  const image = channels <= 2 ? sharp(raw, { raw: { width, height, channels } }).toColourspace('b-w') : sharp(raw, { raw: { width, height, channels } });
  if (as === 'png') return image.png().toBuffer();
  if (as === 'webp') return image.webp({ lossless: true }).toBuffer();
  return image.jpeg({ quality: 95 }).toBuffer();
}

/** A uniform-colour image file (RGB), for tests that only need "a good image". */
export async function solidImage(width: number, height: number, rgb: [number, number, number], as: Encoding = 'jpeg'): Promise<Buffer> {
  return encodeImage(rawPixels(width, height, 3, (_x, _y, c) => rgb[c]), width, height, 3, as);
}

export function writeFile(file: string, bytes: Uint8Array | string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}
