// Lowering a convolution to GEMM: im2col, one packed panel at a time (built in cache right before
// the micro-kernel consumes it), from a zero-padded copy of the input; and col2im (the adjoint) for
// the input gradient. Rows of the column matrix are k = (c, ky, kx) in weight
// order; columns are output pixels p = (oy, ox).

import { NR } from './gemm';
import { transpose4x4Store } from './transpose';

/**
 * Copies images [n][C][H][W] into dst as [n][C][H + 2*padH][W + 2*padW] with zero borders, so the
 * panel builders below read every window without bounds checks.
 */
export function padImages(
  x: usize, images: i32, channels: i32, height: i32, width: i32, padH: i32, padW: i32, dst: usize,
): void {
  const paddedW = width + 2 * padW;
  const paddedH = height + 2 * padH;
  const rowBytes = <usize>width << 2;
  const paddedRowBytes = <usize>paddedW << 2;
  const planes = images * channels;
  memory.fill(dst, 0, <usize>planes * <usize>paddedH * paddedRowBytes);
  let src = x;
  for (let p = 0; p < planes; p++) {
    let out = dst + (<usize>p * <usize>paddedH + <usize>padH) * paddedRowBytes + (<usize>padW << 2);
    for (let y = 0; y < height; y++) {
      memory.copy(out, src, rowBytes);
      src += rowBytes;
      out += paddedRowBytes;
    }
  }
}

/**
 * One B panel of the forward GEMM W[M][K] x col[K][P]: col's columns p0..p0+7 as [K][8], read from a
 * padded image [C][paddedH][paddedW]. Columns past the last pixel repeat it (their products land in
 * columns of C that are never stored). When the 8 pixels lie in one output row at x-stride 1, each
 * row of the panel is 8 neighbouring input values: two vector copies.
 */
export function forwardPanel(
  padded: usize, channels: i32, paddedH: i32, paddedW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32,
  outW: i32, pixels: i32, p0: i32, dst: usize,
): void {
  const rowBytes = <usize>paddedW << 2;
  const planeBytes = <usize>paddedH * rowBytes;
  const oy0 = p0 / outW;
  const ox0 = p0 - oy0 * outW;
  let out = dst;
  if (strideW == 1 && ox0 + NR <= outW) {
    let plane = padded + <usize>(oy0 * strideH) * rowBytes + (<usize>ox0 << 2);
    for (let c = 0; c < channels; c++) {
      let src = plane;
      for (let ky = 0; ky < kernelH; ky++) {
        for (let kx = 0; kx < kernelW; kx++) {
          const from = src + (<usize>kx << 2);
          v128.store(out, v128.load(from));
          v128.store(out, v128.load(from, 16), 16);
          out += NR << 2;
        }
        src += rowBytes;
      }
      plane += planeBytes;
    }
    return;
  }
  // General case: each of the 8 pixels has its own window origin.
  const o0 = pixelOffset(p0, pixels, outW, strideH, strideW, rowBytes);
  const o1 = pixelOffset(p0 + 1, pixels, outW, strideH, strideW, rowBytes);
  const o2 = pixelOffset(p0 + 2, pixels, outW, strideH, strideW, rowBytes);
  const o3 = pixelOffset(p0 + 3, pixels, outW, strideH, strideW, rowBytes);
  const o4 = pixelOffset(p0 + 4, pixels, outW, strideH, strideW, rowBytes);
  const o5 = pixelOffset(p0 + 5, pixels, outW, strideH, strideW, rowBytes);
  const o6 = pixelOffset(p0 + 6, pixels, outW, strideH, strideW, rowBytes);
  const o7 = pixelOffset(p0 + 7, pixels, outW, strideH, strideW, rowBytes);
  let plane = padded;
  for (let c = 0; c < channels; c++) {
    let src = plane;
    for (let ky = 0; ky < kernelH; ky++) {
      for (let kx = 0; kx < kernelW; kx++) {
        const at = src + (<usize>kx << 2);
        store<f32>(out, load<f32>(at + o0));
        store<f32>(out, load<f32>(at + o1), 4);
        store<f32>(out, load<f32>(at + o2), 8);
        store<f32>(out, load<f32>(at + o3), 12);
        store<f32>(out, load<f32>(at + o4), 16);
        store<f32>(out, load<f32>(at + o5), 20);
        store<f32>(out, load<f32>(at + o6), 24);
        store<f32>(out, load<f32>(at + o7), 28);
        out += NR << 2;
      }
      src += rowBytes;
    }
    plane += planeBytes;
  }
}

/** Byte offset, in a padded plane, of the window origin of pixel p (clamped to the last pixel). */
@inline
function pixelOffset(p: i32, pixels: i32, outW: i32, strideH: i32, strideW: i32, rowBytes: usize): usize {
  const q = min(p, pixels - 1);
  const oy = q / outW;
  const ox = q - oy * outW;
  return <usize>(oy * strideH) * rowBytes + (<usize>(ox * strideW) << 2);
}

/** Byte offset, in a padded image, of tap k = (c, ky, kx) (clamped to the last tap). */
@inline
function tapOffset(k: i32, kTotal: i32, kernelH: i32, kernelW: i32, planeBytes: usize, rowBytes: usize): usize {
  const q = min(k, kTotal - 1);
  const taps = kernelH * kernelW;
  const c = q / taps;
  const r = q - c * taps;
  const ky = r / kernelW;
  const kx = r - ky * kernelW;
  return <usize>c * planeBytes + <usize>ky * rowBytes + (<usize>kx << 2);
}

/**
 * One B panel of the weight-gradient GEMM dY[M][n*P] x col^T[n*P][K]: taps k0..k0+7 of every pixel
 * of `images` padded images, as [images*P][8]. Taps past K repeat the last one (their columns of C
 * are never stored). At x-stride 1, four pixels of each of the 8 taps are loaded as vectors and
 * transposed in registers, instead of 32 scalar loads.
 */
export function weightGradPanel(
  padded: usize, images: i32, channels: i32, paddedH: i32, paddedW: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, outH: i32, outW: i32,
  k0: i32, dst: usize,
): void {
  const rowBytes = <usize>paddedW << 2;
  const planeBytes = <usize>paddedH * rowBytes;
  const imageBytes = <usize>channels * planeBytes;
  const kTotal = channels * kernelH * kernelW;
  const t0 = tapOffset(k0, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t1 = tapOffset(k0 + 1, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t2 = tapOffset(k0 + 2, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t3 = tapOffset(k0 + 3, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t4 = tapOffset(k0 + 4, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t5 = tapOffset(k0 + 5, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t6 = tapOffset(k0 + 6, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const t7 = tapOffset(k0 + 7, kTotal, kernelH, kernelW, planeBytes, rowBytes);
  const rowStep = <usize>strideH * rowBytes;
  const pixelStep = <usize>strideW << 2;
  let out = dst;
  let image = padded;
  for (let n = 0; n < images; n++) {
    let row = image;
    for (let oy = 0; oy < outH; oy++) {
      let px = row;
      let ox = 0;
      if (strideW == 1) {
        for (; ox + 4 <= outW; ox += 4) {
          transpose4x4Store(out, 32, v128.load(px + t0), v128.load(px + t1), v128.load(px + t2), v128.load(px + t3));
          transpose4x4Store(out + 16, 32, v128.load(px + t4), v128.load(px + t5), v128.load(px + t6), v128.load(px + t7));
          px += 16;
          out += 4 * (NR << 2);
        }
      }
      for (; ox < outW; ox++) {
        store<f32>(out, load<f32>(px + t0));
        store<f32>(out, load<f32>(px + t1), 4);
        store<f32>(out, load<f32>(px + t2), 8);
        store<f32>(out, load<f32>(px + t3), 12);
        store<f32>(out, load<f32>(px + t4), 16);
        store<f32>(out, load<f32>(px + t5), 20);
        store<f32>(out, load<f32>(px + t6), 24);
        store<f32>(out, load<f32>(px + t7), 28);
        px += pixelStep;
        out += NR << 2;
      }
      row += rowStep;
    }
    image += imageBytes;
  }
}

/** First output coordinate whose input coordinate o*stride - pad + k is >= 0. */
@inline
function firstInside(k: i32, stride: i32, pad: i32): i32 {
  const need = pad - k;
  return need <= 0 ? 0 : (need + stride - 1) / stride;
}

/** One past the last output coordinate whose input coordinate is < size (clamped to outSize). */
@inline
function endInside(k: i32, stride: i32, pad: i32, size: i32, outSize: i32): i32 {
  const span = size - 1 + pad - k;
  if (span < 0) return 0;
  return min(outSize, span / stride + 1);
}

/**
 * Adds the column matrix col[K][P] (row-major, row stride P) back into the image gradient dx[C][H][W]
 * (which it first zeroes): each column entry goes to the input pixel it was read from.
 */
export function col2im(
  col: usize, channels: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: i32, outW: i32, dx: usize,
): void {
  const pixels = outH * outW;
  const rowBytes = <usize>width << 2;
  const planeBytes = <usize>(height * width) << 2;
  memory.fill(dx, 0, <usize>channels * planeBytes);
  let row = col;
  for (let c = 0; c < channels; c++) {
    const plane = dx + <usize>c * planeBytes;
    for (let ky = 0; ky < kernelH; ky++) {
      const oyStart = firstInside(ky, strideH, padH);
      const oyEnd = endInside(ky, strideH, padH, height, outH);
      for (let kx = 0; kx < kernelW; kx++) {
        const oxStart = firstInside(kx, strideW, padW);
        const oxEnd = endInside(kx, strideW, padW, width, outW);
        for (let oy = oyStart; oy < oyEnd; oy++) {
          const dst = plane + <usize>(oy * strideH - padH + ky) * rowBytes;
          const src = row + (<usize>(oy * outW) << 2);
          let ox = oxStart;
          if (strideW == 1) {
            // Consecutive outputs hit consecutive inputs: add four at a time.
            const shift = kx - padW;
            for (; ox + 4 <= oxEnd; ox += 4) {
              const d = dst + (<usize>(ox + shift) << 2);
              v128.store(d, f32x4.add(v128.load(d), v128.load(src + (<usize>ox << 2))));
            }
          }
          for (; ox < oxEnd; ox++) {
            const d = dst + (<usize>(ox * strideW - padW + kx) << 2);
            store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>ox << 2)));
          }
        }
        row += <usize>pixels << 2;
      }
    }
  }
}
