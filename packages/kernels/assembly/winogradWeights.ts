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
  memory.fill(uPack, 0, blockFloats * 16 * 4);
  for (let m = 0; m < outChannels; m++) {
    for (let c = 0; c < inChannels; c++) {
      // The 3x3 kernel g[ky][kx] of (m, c) in this convolution.
      const base = flip ? w + (<usize>(c * outChannels + m) * 9 << 2) : w + (<usize>(m * inChannels + c) * 9 << 2);
      let g00: f32, g01: f32, g02: f32, g10: f32, g11: f32, g12: f32, g20: f32, g21: f32, g22: f32;
      if (flip) {
        g00 = load<f32>(base, 32); g01 = load<f32>(base, 28); g02 = load<f32>(base, 24);
        g10 = load<f32>(base, 20); g11 = load<f32>(base, 16); g12 = load<f32>(base, 12);
        g20 = load<f32>(base, 8); g21 = load<f32>(base, 4); g22 = load<f32>(base, 0);
      } else {
        g00 = load<f32>(base, 0); g01 = load<f32>(base, 4); g02 = load<f32>(base, 8);
        g10 = load<f32>(base, 12); g11 = load<f32>(base, 16); g12 = load<f32>(base, 20);
        g20 = load<f32>(base, 24); g21 = load<f32>(base, 28); g22 = load<f32>(base, 32);
      }
      // q = G g (4x3), column by column.
      const q00 = g00, q01 = g01, q02 = g02;
      const q10 = <f32>0.5 * (g00 + g10 + g20), q11 = <f32>0.5 * (g01 + g11 + g21), q12 = <f32>0.5 * (g02 + g12 + g22);
      const q20 = <f32>0.5 * (g00 - g10 + g20), q21 = <f32>0.5 * (g01 - g11 + g21), q22 = <f32>0.5 * (g02 - g12 + g22);
      const q30 = g20, q31 = g21, q32 = g22;
      const at = uPack + ((<usize>(m / MR) * <usize>inChannels + <usize>c) * MR + <usize>(m % MR) << 2);
      const step = blockFloats << 2;
      storeRow(at, step, 0, q00, q01, q02);
      storeRow(at, step, 4, q10, q11, q12);
      storeRow(at, step, 8, q20, q21, q22);
      storeRow(at, step, 12, q30, q31, q32);
    }
  }
}

/** Row i of U = q_i G^T, into xi = first..first+3. */
@inline
function storeRow(at: usize, step: usize, first: i32, a: f32, b: f32, c: f32): void {
  store<f32>(at + <usize>first * step, a);
  store<f32>(at + <usize>(first + 1) * step, <f32>0.5 * (a + b + c));
  store<f32>(at + <usize>(first + 2) * step, <f32>0.5 * (a - b + c));
  store<f32>(at + <usize>(first + 3) * step, c);
}

