// Weight transform of Winograd F(2x2, 3x3): U = G g G^T for every (output, input) channel pair,
// packed as the 16 GEMMs' A operands. Used by the forward pass and, flipped, the input gradient.

import { MR } from './gemm';
import { roundUp } from './winogradTiles';

/**
 * Transforms weights into 16 packed A operands, uPack + xi * roundUp(M, 4) * C floats each, laid
 * out [M/4][C][4], where M = outChannels and C = inChannels of the convolution being run. Without
 * `flip`, w is that convolution's [M][C][3][3]. With `flip` it runs the input gradient of a forward
 * conv whose weights w are [C][M][3][3]: kernel (m, c) is w[c][m] rotated by 180 degrees.
 */
export function winogradWeights(w: usize, outChannels: i32, inChannels: i32, flip: bool, uPack: usize): void {
  const blockFloats = <usize>roundUp(outChannels, MR) * <usize>inChannels;
  const step = blockFloats << 2;
  const half = f32x4.splat(0.5);
  // One row block of MR = 4 output channels at a time, one per lane: the packed layout keeps those
  // 4 lanes together, so every U element is one vector store. Lanes past the last channel are 0.
  for (let m0 = 0; m0 < outChannels; m0 += MR) {
    for (let c = 0; c < inChannels; c++) {
      // The 3x3 kernels g[ky][kx] of (m0 + lane, c) in this convolution, lanes side by side.
      const g00 = tap(w, outChannels, inChannels, flip, m0, c, 0), g01 = tap(w, outChannels, inChannels, flip, m0, c, 1);
      const g02 = tap(w, outChannels, inChannels, flip, m0, c, 2), g10 = tap(w, outChannels, inChannels, flip, m0, c, 3);
      const g11 = tap(w, outChannels, inChannels, flip, m0, c, 4), g12 = tap(w, outChannels, inChannels, flip, m0, c, 5);
      const g20 = tap(w, outChannels, inChannels, flip, m0, c, 6), g21 = tap(w, outChannels, inChannels, flip, m0, c, 7);
      const g22 = tap(w, outChannels, inChannels, flip, m0, c, 8);
      // q = G g (4x3), column by column.
      const q10 = f32x4.mul(half, f32x4.add(f32x4.add(g00, g10), g20));
      const q11 = f32x4.mul(half, f32x4.add(f32x4.add(g01, g11), g21));
      const q12 = f32x4.mul(half, f32x4.add(f32x4.add(g02, g12), g22));
      const q20 = f32x4.mul(half, f32x4.add(f32x4.sub(g00, g10), g20));
      const q21 = f32x4.mul(half, f32x4.add(f32x4.sub(g01, g11), g21));
      const q22 = f32x4.mul(half, f32x4.add(f32x4.sub(g02, g12), g22));
      const at = uPack + ((<usize>(m0 / MR) * <usize>inChannels + <usize>c) * MR << 2);
      storeRow(at, step, 0, half, g00, g01, g02);
      storeRow(at, step, 4, half, q10, q11, q12);
      storeRow(at, step, 8, half, q20, q21, q22);
      storeRow(at, step, 12, half, g20, g21, g22);
    }
  }
}

/**
 * Tap k (= 3 ky + kx) of kernels (m0 .. m0 + 3, c), one per lane, 0 for channels past the end. With
 * `flip`, kernel (m, c) is w[c][m] rotated by 180 degrees (tap 8 - k).
 */
@inline
function tap(w: usize, outChannels: i32, inChannels: i32, flip: bool, m0: i32, c: i32, k: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, tapOf(w, outChannels, inChannels, flip, m0, c, k));
  if (m0 + 1 < outChannels) v = f32x4.replace_lane(v, 1, tapOf(w, outChannels, inChannels, flip, m0 + 1, c, k));
  if (m0 + 2 < outChannels) v = f32x4.replace_lane(v, 2, tapOf(w, outChannels, inChannels, flip, m0 + 2, c, k));
  if (m0 + 3 < outChannels) v = f32x4.replace_lane(v, 3, tapOf(w, outChannels, inChannels, flip, m0 + 3, c, k));
  return v;
}

@inline
function tapOf(w: usize, outChannels: i32, inChannels: i32, flip: bool, m: i32, c: i32, k: i32): f32 {
  return flip
    ? load<f32>(w + (<usize>((c * outChannels + m) * 9 + 8 - k) << 2))
    : load<f32>(w + (<usize>((m * inChannels + c) * 9 + k) << 2));
}

/** Row i of U = q_i G^T (4 output channels per vector), into xi = first..first+3. */
@inline
function storeRow(at: usize, step: usize, first: i32, half: v128, a: v128, b: v128, c: v128): void {
  v128.store(at + <usize>first * step, a);
  v128.store(at + <usize>(first + 1) * step, f32x4.mul(half, f32x4.add(f32x4.add(a, b), c)));
  v128.store(at + <usize>(first + 2) * step, f32x4.mul(half, f32x4.add(f32x4.sub(a, b), c)));
  v128.store(at + <usize>(first + 3) * step, c);
}
