import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { ImageFileError } from './datasetError';
import { greyFromInterleaved, isImageChannels, type ImageChannels } from './imageChannels';

/** The formats an image file may have; anything else is reported as "not an image". */
export const IMAGE_FORMATS: readonly string[] = ['JPEG', 'PNG', 'WebP'];

/** The largest square side `decodeImage` accepts (a 3 x 4096 x 4096 image is 48 MiB of bytes). */
export const MAX_RESOLUTION = 4096;

export interface DecodeImageOptions {
  /** 3 (RGB, the default) or 1 (grey: PIL's `convert('L')` luma of the RGB pixels, see imageChannels.ts). */
  channels?: ImageChannels;
  /** Where to write the `channels x R x R` bytes (e.g. a slot of a shared ImageSet); default a new array. */
  out?: Uint8Array;
}

// Decoding thousands of different files: libvips' operation cache would only hold memory.
sharp.cache(false);

/**
 * The one image preprocessing of convoy, for training and prediction alike: decode a JPEG, PNG or
 * WebP image, apply its EXIF orientation, make it 8-bit sRGB (grey is repeated into R, G and B; an
 * alpha channel is dropped, as PIL's `convert('RGB')` does), resize it so that its smaller side is
 * `resolution` (Lanczos-3, libvips' default), and cut the centred `resolution` x `resolution`
 * square out of it (offset ceil((side - R) / 2) along the longer side). With `channels: 1` the
 * R x R sRGB pixels then become grey by PIL's `convert('L')` formula (lumaOf in imageChannels.ts),
 * so a grey file keeps its own grey levels and a colour file gets the grey PyTorch users get.
 * Returns `channels x R x R` bytes, planar CHW (the layout of an ImageSet image).
 *
 * `name` (usually the file path) is what errors name. Throws ImageFileError: EMPTY_IMAGE for zero
 * bytes, NOT_AN_IMAGE when the bytes are not JPEG/PNG/WebP, CORRUPT_IMAGE when the decoder fails
 * (truncated or damaged data).
 */
export async function decodeImage(bytes: Uint8Array, resolution: number, name: string, options: DecodeImageOptions = {}): Promise<Uint8Array> {
  checkResolution(resolution);
  const channels = options.channels ?? 3;
  if (!isImageChannels(channels)) throw new RangeError(`decodeImage: channels must be 1 (grey) or 3 (RGB), got ${String(channels)}`);
  const planeBytes = resolution * resolution;
  const { out } = options;
  if (out && out.length !== channels * planeBytes) {
    throw new RangeError(`decodeImage: out must hold ${channels} x ${resolution} x ${resolution} = ${channels * planeBytes} bytes, got ${out.length}`);
  }
  if (bytes.length === 0) {
    throw new ImageFileError('EMPTY_IMAGE', name, 'the file is empty (0 bytes)', 'replace it with the real image or delete it (or pass --skip-bad-images)');
  }
  const format = sniffFormat(bytes);
  if (!format) {
    throw new ImageFileError(
      'NOT_AN_IMAGE',
      name,
      `not an image (${IMAGE_FORMATS.join(', ')} are read; the file starts with ${describeStart(bytes)})`,
      'move it out of the image folders, convert it to one of those formats, or pass --skip-bad-images',
    );
  }
  let interleaved: Buffer;
  try {
    interleaved = await resizeAndCrop(bytes, resolution, format);
  } catch (error) {
    throw new ImageFileError(
      'CORRUPT_IMAGE',
      name,
      `the image is corrupt or truncated and cannot be decoded (${(error as Error).message.trim()})`,
      'replace it with a good copy or delete it (or pass --skip-bad-images)',
    );
  }
  const result = out ?? new Uint8Array(channels * planeBytes);
  if (channels === 1) {
    greyFromInterleaved(interleaved, planeBytes, result);
    return result;
  }
  for (let p = 0, i = 0; p < planeBytes; p++, i += 3) {
    result[p] = interleaved[i];
    result[planeBytes + p] = interleaved[i + 1];
    result[2 * planeBytes + p] = interleaved[i + 2];
  }
  return result;
}

/** `decodeImage` of a file's bytes; errors name the file. */
export async function decodeImageFile(file: string, resolution: number, options: DecodeImageOptions = {}): Promise<Uint8Array> {
  checkResolution(resolution);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ImageFileError('CORRUPT_IMAGE', file, `cannot be read (${(error as Error).message})`, 'check the path and its permissions');
  }
  return decodeImage(bytes, resolution, file, options);
}

/** R x R x 3 interleaved RGB bytes. */
async function resizeAndCrop(bytes: Uint8Array, resolution: number, format: ImageFormat): Promise<Buffer> {
  // failOn 'truncated': a truncated file is an error, not a half-grey picture; libvips' milder
  // warnings (which PIL tolerates too) are not.
  const open = () => sharp(bytes, { failOn: 'truncated' }).autoOrient();
  // JPEG has no alpha channel: no need to read the header first.
  const hasAlpha = format !== 'JPEG' && (await sharp(bytes, { failOn: 'truncated' }).metadata()).hasAlpha;
  // libvips resizes an image with alpha premultiplied, which would change the colour of partly
  // transparent pixels; drop the alpha first (on the full-size pixels) so it is simply ignored.
  const source = hasAlpha
    ? await rgbWithoutAlpha(open())
    : open().toColourspace('srgb');
  const { data, info } = await source
    .resize(resolution, resolution, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== resolution || info.height !== resolution || info.channels !== 3) {
    throw new Error(`decoder produced ${info.width}x${info.height}x${info.channels}, expected ${resolution}x${resolution}x3`);
  }
  return data;
}

async function rgbWithoutAlpha(image: Sharp): Promise<Sharp> {
  const { data, info } = await image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 3 } });
}

type ImageFormat = 'JPEG' | 'PNG' | 'WebP';

/** The format by its signature bytes, or null. */
function sniffFormat(b: Uint8Array): ImageFormat | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'PNG';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'WebP';
  return null;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

function describeStart(b: Uint8Array): string {
  const head = b.subarray(0, 8);
  const printable = head.every((c) => c >= 0x20 && c < 0x7f);
  return printable ? JSON.stringify(String.fromCharCode(...head)) : `bytes ${Buffer.from(head).toString('hex')}`;
}

function checkResolution(resolution: number): void {
  if (!Number.isInteger(resolution) || resolution < 1 || resolution > MAX_RESOLUTION) {
    throw new RangeError(`resolution must be an integer from 1 to ${MAX_RESOLUTION}, got ${resolution}`);
  }
}
