// Lowering a convolution to GEMM: im2col into the packed panel layouts gemm.ts reads, and col2im
// (the adjoint) for the input gradient. Rows of the column matrix are k = (c, ky, kx) in weight
// order; columns are output pixels p = (oy, ox).

import { NR } from './gemm';

// Per-column offsets of one 8-column panel (generic path): input row/col of the window's top-left
// corner, and whether the column is a real output pixel.
const panelIy: usize = memory.data(8 * 4, 16);
const panelIx: usize = memory.data(8 * 4, 16);
const panelValid: usize = memory.data(8 * 4, 16);

/**
 * Column matrix [K][P] of one image, written as B panels [P/8][K][8] for the forward GEMM
 * W[outC][K] x col[K][P]. Pixels of a panel that lie in one output row with stride 1 and the whole
 * window row inside the image are copied as two vectors; everything else goes element by element.
 */
export function im2colPanels(
  x: usize, channels: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: i32, outW: i32, dst: usize,
): void {
  const pixels = outH * outW;
  const panels = (pixels + NR - 1) / NR;
  const rowBytes = <usize>width << 2;
  const planeBytes = <usize>(height * width) << 2;
  let out = dst;
  for (let jb = 0; jb < panels; jb++) {
    const p0 = jb * NR;
    const oy0 = p0 / outW;
    const ox0 = p0 - oy0 * outW;
    // One output row, stride 1 along x: the 8 pixels read 8 neighbouring input values.
    const contiguous = strideW == 1 && ox0 + NR <= outW;
    for (let j = 0; j < NR; j++) {
      const p = p0 + j;
      const valid = p < pixels;
      const oy = valid ? p / outW : 0;
      const ox = valid ? p - oy * outW : 0;
      store<i32>(panelIy + (<usize>j << 2), oy * strideH - padH);
      store<i32>(panelIx + (<usize>j << 2), ox * strideW - padW);
      store<i32>(panelValid + (<usize>j << 2), valid ? 1 : 0);
    }
    const iyRow = oy0 * strideH - padH;
    const ixRow = ox0 - padW;
    for (let c = 0; c < channels; c++) {
      const plane = x + <usize>c * planeBytes;
      for (let ky = 0; ky < kernelH; ky++) {
        for (let kx = 0; kx < kernelW; kx++) {
          if (contiguous) {
            const iy = iyRow + ky;
            const ix = ixRow + kx;
            if (iy < 0 || iy >= height) {
              v128.store(out, f32x4.splat(0));
              v128.store(out, f32x4.splat(0), 16);
            } else if (ix >= 0 && ix + NR <= width) {
              const src = plane + <usize>iy * rowBytes + (<usize>ix << 2);
              v128.store(out, v128.load(src));
              v128.store(out, v128.load(src, 16), 16);
            } else {
              const src = plane + <usize>iy * rowBytes;
              for (let j = 0; j < NR; j++) {
                const xj = ix + j;
                store<f32>(out + (<usize>j << 2), xj >= 0 && xj < width ? load<f32>(src + (<usize>xj << 2)) : 0);
              }
            }
          } else {
            for (let j = 0; j < NR; j++) {
              const jo = <usize>j << 2;
              const iy = load<i32>(panelIy + jo) + ky;
              const ix = load<i32>(panelIx + jo) + kx;
              const inside = load<i32>(panelValid + jo) != 0 && iy >= 0 && iy < height && ix >= 0 && ix < width;
              store<f32>(out + jo, inside ? load<f32>(plane + <usize>iy * rowBytes + (<usize>ix << 2)) : 0);
            }
          }
          out += NR << 2;
        }
      }
    }
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
 * Transposed column matrix [P][K] of one image, written as B panels [K/8][P][8] for the weight
 * gradient dY[outC][P] x col^T[P][K]. Columns k past K in the last panel are zeroed.
 */
export function im2colTransposedPanels(
  x: usize, channels: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  outH: i32, outW: i32, dst: usize,
): void {
  const pixels = outH * outW;
  const kTotal = channels * kernelH * kernelW;
  const panelBytes = <usize>pixels * (NR << 2);
  const rowBytes = <usize>width << 2;
  const planeBytes = <usize>(height * width) << 2;
  let k = 0;
  for (let c = 0; c < channels; c++) {
    const plane = x + <usize>c * planeBytes;
    for (let ky = 0; ky < kernelH; ky++) {
      const oyStart = firstInside(ky, strideH, padH);
      const oyEnd = endInside(ky, strideH, padH, height, outH);
      for (let kx = 0; kx < kernelW; kx++) {
        const oxStart = firstInside(kx, strideW, padW);
        const oxEnd = endInside(kx, strideW, padW, width, outW);
        const base = dst + <usize>(k / NR) * panelBytes + (<usize>(k % NR) << 2);
        for (let oy = 0; oy < outH; oy++) {
          let out = base + <usize>(oy * outW) * (NR << 2);
          if (oy < oyStart || oy >= oyEnd) {
            for (let ox = 0; ox < outW; ox++) {
              store<f32>(out, 0);
              out += NR << 2;
            }
            continue;
          }
          const src = plane + <usize>(oy * strideH - padH + ky) * rowBytes;
          let ox = 0;
          for (; ox < oxStart; ox++) {
            store<f32>(out, 0);
            out += NR << 2;
          }
          let ix = ox * strideW - padW + kx;
          for (; ox < oxEnd; ox++) {
            store<f32>(out, load<f32>(src + (<usize>ix << 2)));
            ix += strideW;
            out += NR << 2;
          }
          for (; ox < outW; ox++) {
            store<f32>(out, 0);
            out += NR << 2;
          }
        }
        k++;
      }
    }
  }
  // Zero the unused columns of the last panel so they add nothing but zeros to the product.
  const tail = kTotal % NR;
  if (tail != 0) {
    const last = dst + <usize>(kTotal / NR) * panelBytes;
    for (let p = 0; p < pixels; p++) {
      for (let j = tail; j < NR; j++) store<f32>(last + (<usize>p * NR + j << 2), 0);
    }
  }
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
