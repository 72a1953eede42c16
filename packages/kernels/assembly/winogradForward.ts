// Forward pass of Winograd F(2x2, 3x3) (Lavin & Gray 2016), and through it the input gradient: each
// 2x2 output tile costs 16 multiplies per (input, output) channel pair instead of 36. The 16
// element-wise products over channels are 16 small GEMMs U[xi][M][C] x V[xi][C][tiles], run with the
// packed 4x8 micro-kernel (gemm.ts), 8 tiles per panel so transforms and products stay in cache.
//   U = G g G^T (winogradWeights.ts), V = B^T d B (winogradInput.ts), Y = A^T M A (here).

import { multiplyPanel, MR, NR } from './gemm';
import { maskBits, reluBits } from './epilogue';
import { inputTransform, padInto } from './winogradInput';
import { roundUp, tileGeometry } from './winogradTiles';

/**
 * out[N][M][outH][outW] = x (*) w + bias for a 3x3 kernel, stride 1, padding `pad` (0..2), with w
 * already transformed by winogradWeights. Epilogue in the output pass: `relu` rectifies every
 * output (on the float bits, as nn's ReLU); a nonzero `mask` (an array shaped like out: for the
 * input gradient, the forward input, a ReLU's output) zeroes every output where mask is +0. Workspaces (floats): padded C * (2tH + 2) * (2tW + 2) + 16
 * (tH, tW = output tiles), panel 16 * C * 8, products 16 * roundUp(M, 4) * 8.
 */
export function conv3x3Winograd(
  x: usize, uPack: usize, bias: usize, out: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32, pad: i32, relu: bool, mask: usize,
  padded: usize, panel: usize, products: usize,
): void {
  const geometry = tileGeometry(height, width, pad);
  const outH = geometry.outH, outW = geometry.outW, tilesH = geometry.tilesH, tilesW = geometry.tilesW, tiles = geometry.tiles;
  const paddedH = geometry.paddedH, paddedW = geometry.paddedW;
  const planeBytes = <usize>(paddedH * paddedW) << 2;
  const uBlockBytes = <usize>roundUp(outChannels, MR) * <usize>channels << 2;
  const panelBytes = <usize>channels * (NR << 2);
  const productBytes = <usize>roundUp(outChannels, MR) * (NR << 2);
  const inBytes = <usize>(channels * height * width) << 2;
  const outBytes = <usize>(outChannels * outH * outW) << 2;
  const panels = (tiles + NR - 1) / NR;
  for (let n = 0; n < batch; n++) {
    padInto(x + <usize>n * inBytes, channels, height, width, pad, paddedH, paddedW, padded);
    const on = out + <usize>n * outBytes;
    for (let jb = 0; jb < panels; jb++) {
      const t0 = jb * NR;
      for (let group = 0; group < 2; group++) {
        inputTransform(padded, channels, planeBytes, paddedW, tilesW, tiles, t0 + 4 * group, 0, channels, panel + (<usize>group << 4), panelBytes, NR << 2);
      }
      for (let xi = 0; xi < 16; xi++) {
        multiplyPanel(uPack + <usize>xi * uBlockBytes, outChannels, panel + <usize>xi * panelBytes, channels, products + <usize>xi * productBytes, NR, NR, false);
      }
      for (let group = 0; group < 2; group++) {
        outputTransform(
          products + (<usize>group << 4), productBytes, outChannels, bias, on, relu, mask != 0 ? mask + <usize>n * outBytes : 0,
          outH, outW, tilesW, tiles, t0 + 4 * group,
        );
      }
    }
  }
}

/**
 * Y = A^T M A (+ bias) for 4 tiles starting at tile t, every output channel: products hold the 16
 * [M][8] GEMM results (productBytes apart; src points at this group's 4 lanes).
 */
@inline
function outputTransform(
  src: usize, productBytes: usize, outChannels: i32, bias: usize, out: usize, relu: bool, mask: usize,
  outH: i32, outW: i32, tilesW: i32, tiles: i32, t: i32,
): void {
  if (t >= tiles) return;
  const ty = t / tilesW;
  const tx = t - ty * tilesW;
  const vector = t + 4 <= tiles && tx + 4 <= tilesW && 2 * (tx + 4) <= outW && 2 * ty + 2 <= outH;
  const planeBytes = <usize>(outH * outW) << 2;
  const rowBytes = <usize>outW << 2;
  for (let m = 0; m < outChannels; m++) {
    const at = src + <usize>m * (NR << 2);
    // Rows: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3, for each of the 4 columns.
    const m00 = v128.load(at), m01 = v128.load(at + productBytes), m02 = v128.load(at + 2 * productBytes), m03 = v128.load(at + 3 * productBytes);
    const m10 = v128.load(at + 4 * productBytes), m11 = v128.load(at + 5 * productBytes), m12 = v128.load(at + 6 * productBytes), m13 = v128.load(at + 7 * productBytes);
    const m20 = v128.load(at + 8 * productBytes), m21 = v128.load(at + 9 * productBytes), m22 = v128.load(at + 10 * productBytes), m23 = v128.load(at + 11 * productBytes);
    const m30 = v128.load(at + 12 * productBytes), m31 = v128.load(at + 13 * productBytes), m32 = v128.load(at + 14 * productBytes), m33 = v128.load(at + 15 * productBytes);
    const s00 = f32x4.add(f32x4.add(m00, m10), m20), s01 = f32x4.add(f32x4.add(m01, m11), m21);
    const s02 = f32x4.add(f32x4.add(m02, m12), m22), s03 = f32x4.add(f32x4.add(m03, m13), m23);
    const s10 = f32x4.sub(f32x4.sub(m10, m20), m30), s11 = f32x4.sub(f32x4.sub(m11, m21), m31);
    const s12 = f32x4.sub(f32x4.sub(m12, m22), m32), s13 = f32x4.sub(f32x4.sub(m13, m23), m33);
    const b = bias != 0 ? f32x4.splat(load<f32>(bias + (<usize>m << 2))) : f32x4.splat(0);
    let y00 = f32x4.add(f32x4.add(f32x4.add(s00, s01), s02), b);
    let y01 = f32x4.add(f32x4.sub(f32x4.sub(s01, s02), s03), b);
    let y10 = f32x4.add(f32x4.add(f32x4.add(s10, s11), s12), b);
    let y11 = f32x4.add(f32x4.sub(f32x4.sub(s11, s12), s13), b);
    if (relu) {
      y00 = reluBits(y00); y01 = reluBits(y01); y10 = reluBits(y10); y11 = reluBits(y11);
    }
    const offset = <usize>m * planeBytes;
    const plane = out + offset;
    if (vector) {
      const at0 = <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
      const at1 = at0 + rowBytes;
      let v00 = i32x4.shuffle(y00, y01, 0, 4, 1, 5), v01 = i32x4.shuffle(y00, y01, 2, 6, 3, 7);
      let v10 = i32x4.shuffle(y10, y11, 0, 4, 1, 5), v11 = i32x4.shuffle(y10, y11, 2, 6, 3, 7);
      if (mask != 0) {
        const mp = mask + offset;
        v00 = maskBits(v00, v128.load(mp + at0)); v01 = maskBits(v01, v128.load(mp + at0, 16));
        v10 = maskBits(v10, v128.load(mp + at1)); v11 = maskBits(v11, v128.load(mp + at1, 16));
      }
      v128.store(plane + at0, v00);
      v128.store(plane + at0, v01, 16);
      v128.store(plane + at1, v10);
      v128.store(plane + at1, v11, 16);
    } else {
      const mp = mask != 0 ? mask + offset : 0;
      storeTile(plane, mp, rowBytes, outH, outW, tilesW, tiles, t, f32x4.extract_lane(y00, 0), f32x4.extract_lane(y01, 0), f32x4.extract_lane(y10, 0), f32x4.extract_lane(y11, 0));
      storeTile(plane, mp, rowBytes, outH, outW, tilesW, tiles, t + 1, f32x4.extract_lane(y00, 1), f32x4.extract_lane(y01, 1), f32x4.extract_lane(y10, 1), f32x4.extract_lane(y11, 1));
      storeTile(plane, mp, rowBytes, outH, outW, tilesW, tiles, t + 2, f32x4.extract_lane(y00, 2), f32x4.extract_lane(y01, 2), f32x4.extract_lane(y10, 2), f32x4.extract_lane(y11, 2));
      storeTile(plane, mp, rowBytes, outH, outW, tilesW, tiles, t + 3, f32x4.extract_lane(y00, 3), f32x4.extract_lane(y01, 3), f32x4.extract_lane(y10, 3), f32x4.extract_lane(y11, 3));
    }
  }
}

/**
 * The 2x2 outputs of tile t, clipped to the output (odd sizes); tiles past the end are skipped.
 * With a mask plane (nonzero `maskPlane`), outputs where it is +0 are stored as +0.
 */
@inline
function storeTile(
  plane: usize, maskPlane: usize, rowBytes: usize, outH: i32, outW: i32, tilesW: i32, tiles: i32, t: i32,
  y00: f32, y01: f32, y10: f32, y11: f32,
): void {
  if (t >= tiles) return;
  const ty = t / tilesW;
  const tx = t - ty * tilesW;
  const y = 2 * ty;
  const x = 2 * tx;
  const offset = <usize>y * rowBytes + (<usize>x << 2);
  storeMasked(plane + offset, maskPlane != 0 ? maskPlane + offset : 0, y00);
  if (x + 1 < outW) storeMasked(plane + offset + 4, maskPlane != 0 ? maskPlane + offset + 4 : 0, y01);
  if (y + 1 < outH) {
    storeMasked(plane + offset + rowBytes, maskPlane != 0 ? maskPlane + offset + rowBytes : 0, y10);
    if (x + 1 < outW) storeMasked(plane + offset + rowBytes + 4, maskPlane != 0 ? maskPlane + offset + rowBytes + 4 : 0, y11);
  }
}


/** value, or +0 where the mask element at maskAt (when nonzero) is +0. */
@inline
function storeMasked(at: usize, maskAt: usize, value: f32): void {
  store<f32>(at, maskAt != 0 && load<i32>(maskAt) == 0 ? <f32>0 : value);
}
