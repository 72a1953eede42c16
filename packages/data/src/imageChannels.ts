/**
 * The channels a decoded image can have: 3 (RGB) or 1 (grey). A network's input channels decide
 * which: an image folder, a packed dataset and `predict` all decode to them, so a grey network sees
 * grey pixels made the same way in training and in prediction.
 */
export type ImageChannels = 1 | 3;

export const IMAGE_CHANNELS: readonly ImageChannels[] = [1, 3];

export function isImageChannels(n: unknown): n is ImageChannels {
  return n === 1 || n === 3;
}

/**
 * Grey from 8-bit sRGB as PIL's `Image.convert('L')` computes it (what torchvision's `Grayscale`
 * and an ImageFolder of `convert('L')` images give PyTorch users): ITU-R BT.601 luma on the
 * gamma-encoded values, L = R * 299/1000 + G * 587/1000 + B * 114/1000, in PIL's exact integer form
 * (R * 19595 + G * 38470 + B * 7471 + 2^15) >> 16. The weights sum to 2^16, so a pixel with
 * R = G = B keeps its value: a grey file decodes to its own grey levels.
 */
export function lumaOf(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/** Grey plane of `plane` pixels from interleaved RGB bytes (R, G, B, R, G, B, ...). */
export function greyFromInterleaved(rgb: Uint8Array, plane: number, out: Uint8Array): void {
  for (let p = 0, i = 0; p < plane; p++, i += 3) out[p] = lumaOf(rgb[i], rgb[i + 1], rgb[i + 2]);
}

/** Grey plane of `plane` pixels from planar RGB bytes (the R plane, the G plane, the B plane: an ImageSet image). */
export function greyFromPlanar(rgb: Uint8Array, plane: number, out: Uint8Array): void {
  for (let p = 0; p < plane; p++) out[p] = lumaOf(rgb[p], rgb[plane + p], rgb[2 * plane + p]);
}
