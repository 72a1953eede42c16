import * as path from 'path';
import { decodeImage, decodeImageFile, ImageFileError } from '../src';
import { makeTempDir } from './helpers';
import { encodeImage, rawPixels, solidImage, writeFile } from './imageFiles';

/** Value of channel c at (y, x) of a planar 3 x R x R result. */
const at = (img: Uint8Array, R: number, c: number, y: number, x: number) => img[c * R * R + y * R + x];

describe('decodeImage: resize the smaller side to R, centre-crop R x R, planar RGB bytes', () => {
  // A pattern that tells every source pixel apart: no resampling happens when the smaller side is already R.
  const pattern = (x: number, y: number, c: number) => (x * 5 + y * 3 + c * 80) & 255;

  test('landscape 40x24 at R=24: no scaling, the crop starts at column (40-24)/2 = 8', async () => {
    const png = await encodeImage(rawPixels(40, 24, 3, pattern), 40, 24, 3, 'png');
    const img = await decodeImage(png, 24, 'landscape.png');
    expect(img.length).toBe(3 * 24 * 24);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) expect(at(img, 24, c, y, x)).toBe(pattern(x + 8, y, c));
  });

  test('portrait 24x41 at R=24: the crop starts at row ceil((41-24)/2) = 9 (libvips rounds the centre offset up)', async () => {
    const png = await encodeImage(rawPixels(24, 41, 3, pattern), 24, 41, 3, 'webp');
    const img = await decodeImage(png, 24, 'portrait.webp');
    for (let c = 0; c < 3; c++) for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) expect(at(img, 24, c, y, x)).toBe(pattern(x, y + 9, c));
  });

  test('odd size 500x333 to R=32: scaled to 48x32, crop columns 8..39, so the half-way edge lands between columns 15 and 16', async () => {
    // Left half red, right half blue; top third darker green, to see the vertical extent is whole.
    const red = (x: number, _y: number, c: number) => (x < 250 ? [255, 0, 0] : [0, 0, 255])[c];
    const png = await encodeImage(rawPixels(500, 333, 3, red), 500, 333, 3, 'png');
    const img = await decodeImage(png, 32, 'odd.png');
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        // Lanczos-3 rings by a level or two within three columns of the edge.
        if (x <= 14) expect([at(img, 32, 0, y, x), at(img, 32, 2, y, x)]).toEqual(x <= 12 ? [255, 0] : [expect.any(Number), expect.any(Number)]);
        if (x <= 14) expect(at(img, 32, 0, y, x)).toBeGreaterThanOrEqual(253);
        if (x >= 17) expect(at(img, 32, 2, y, x)).toBeGreaterThanOrEqual(253);
        if (x >= 19) expect([at(img, 32, 0, y, x), at(img, 32, 2, y, x)]).toEqual([0, 255]);
        expect(at(img, 32, 1, y, x)).toBe(0);
      }
      // The edge itself is blended symmetrically: column 15 mostly red, 16 mostly blue.
      expect(at(img, 32, 0, y, 15)).toBeGreaterThan(200);
      expect(at(img, 32, 2, y, 16)).toBeGreaterThan(200);
      expect(at(img, 32, 0, y, 15)).toBe(at(img, 32, 2, y, 16));
    }
  });

  test('upscaling: a 10x20 image at R=40 becomes 40x80 and keeps the middle 40 rows', async () => {
    const bands = (_x: number, y: number) => (y < 10 ? 30 : 220);
    const png = await encodeImage(rawPixels(10, 20, 3, bands), 10, 20, 3, 'png');
    const img = await decodeImage(png, 40, 'small.png');
    expect(at(img, 40, 0, 0, 5)).toBe(30);
    expect(at(img, 40, 0, 39, 5)).toBe(220);
  });

  test('JPEG at an odd size decodes to the right colours', async () => {
    const jpeg = await solidImage(333, 500, [200, 40, 90], 'jpeg');
    const img = await decodeImage(jpeg, 32, 'photo.jpg');
    for (const [c, want] of [[0, 200], [1, 40], [2, 90]]) expect(Math.abs(at(img, 32, c, 16, 16) - want)).toBeLessThanOrEqual(3);
  });

  test('grey images (PNG and JPEG) become RGB with R = G = B', async () => {
    const grey = (x: number, y: number) => (x * 7 + y * 11) & 255;
    for (const as of ['png', 'jpeg'] as const) {
      const bytes = await encodeImage(rawPixels(30, 30, 1, grey), 30, 30, 1, as);
      const img = await decodeImage(bytes, 30, `grey.${as}`);
      for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) {
        expect(at(img, 30, 1, y, x)).toBe(at(img, 30, 0, y, x));
        expect(at(img, 30, 2, y, x)).toBe(at(img, 30, 0, y, x));
        if (as === 'png') expect(at(img, 30, 0, y, x)).toBe(grey(x, y));
      }
    }
  });

  test('RGBA and grey+alpha: the alpha channel is dropped, colours unchanged even where partly transparent', async () => {
    const rgba = (x: number, _y: number, c: number) => [200, 100, 50, x < 10 ? 0 : 128][c];
    const png = await encodeImage(rawPixels(40, 20, 4, rgba), 40, 20, 4, 'png');
    const img = await decodeImage(png, 10, 'rgba.png');
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) expect([0, 1, 2].map((c) => at(img, 10, c, y, x))).toEqual([200, 100, 50]);
    const ga = await encodeImage(rawPixels(20, 20, 2, (_x, _y, c) => [77, 40][c]), 20, 20, 2, 'png');
    const grey = await decodeImage(ga, 20, 'grey-alpha.png');
    expect(Array.from(new Set(grey))).toEqual([77]);
  });

  test('writes into `out` when given (a slot of a shared set), and checks its size', async () => {
    const png = await solidImage(8, 8, [1, 2, 3], 'png');
    const out = new Uint8Array(new SharedArrayBuffer(3 * 64));
    expect(await decodeImage(png, 8, 'a.png', { out })).toBe(out);
    expect([out[0], out[64], out[128]]).toEqual([1, 2, 3]);
    await expect(decodeImage(png, 8, 'a.png', { out: new Uint8Array(10) })).rejects.toThrow(/\bout\b.*\b3 x 8 x 8 = 192 bytes\b.*\b10\b/);
    await expect(decodeImage(png, 0, 'a.png')).rejects.toThrow(/resolution must be an integer/);
  });
});

describe('decodeImageFile: bad files get an ImageFileError naming the file and the fix', () => {
  const dir = makeTempDir('convoy-decode-');
  const expectBad = async (file: string, code: string, text: RegExp) => {
    const error = await decodeImageFile(file, 16).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImageFileError);
    expect((error as ImageFileError).code).toBe(code);
    expect((error as ImageFileError).file).toBe(file);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(text);
    expect((error as Error).message).toMatch(/Fix: /);
  };

  test('zero-byte file', async () => {
    await expectBad(writeFile(path.join(dir, 'empty.jpg'), ''), 'EMPTY_IMAGE', /empty \(0 bytes\)/);
  });

  test('a text file named .jpg, and a PDF', async () => {
    await expectBad(writeFile(path.join(dir, 'notes.jpg'), 'these are my notes'), 'NOT_AN_IMAGE', /not an image \(JPEG, PNG, WebP are read; the file starts with "these ar"\)/);
    await expectBad(writeFile(path.join(dir, 'paper.pdf'), '%PDF-1.7\n\u0000\u0001'), 'NOT_AN_IMAGE', /not an image/);
  });

  test('truncated JPEG, truncated PNG, and a JPEG with a damaged middle', async () => {
    const jpeg = await solidImage(300, 200, [10, 200, 30], 'jpeg');
    const png = await encodeImage(rawPixels(300, 200, 3, (x, y, c) => (x * y + c) & 255), 300, 200, 3, 'png');
    await expectBad(writeFile(path.join(dir, 'cut.jpg'), jpeg.subarray(0, jpeg.length >> 1)), 'CORRUPT_IMAGE', /corrupt or truncated/);
    await expectBad(writeFile(path.join(dir, 'cut.png'), png.subarray(0, png.length >> 1)), 'CORRUPT_IMAGE', /corrupt or truncated/);
    const damaged = Buffer.concat([jpeg.subarray(0, 200), Buffer.alloc(600, 0x07), jpeg.subarray(800)]);
    await expectBad(writeFile(path.join(dir, 'damaged.jpg'), damaged), 'CORRUPT_IMAGE', /corrupt or truncated/);
  });

  test('a missing file', async () => {
    await expectBad(path.join(dir, 'nope.png'), 'CORRUPT_IMAGE', /cannot be read/);
  });
});
