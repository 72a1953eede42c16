// Forward pass of Winograd F(2x2, 3x3) (Lavin & Gray 2016), and through it the input gradient: each
// 2x2 output tile costs 16 multiplies per (input, output) channel pair instead of 36. The 16
// element-wise products over channels are 16 small GEMMs U[xi][M][C] x V[xi][C][tiles], run with the
// packed 4x8 micro-kernel (gemm.ts), 8 tiles per panel so transforms and products stay in cache.
//   U = G g G^T (winogradWeights.ts), V = B^T d B (winogradInput.ts), Y = A^T M A (here).

import { multiplyPanel, MR, NR } from './gemm';
import { inputTransform, padInto } from './winogradInput';
import { roundUp, tileGeometry } from './winogradTiles';

/**
 * out[N][M][outH][outW] = x (*) w + bias for a 3x3 kernel, stride 1, padding `pad` (0..2), with w
 * already transformed by winogradWeights. Workspaces (floats): padded C * (2tH + 2) * (2tW + 2) + 16
 * (tH, tW = output tiles), panel 16 * C * 8, products 16 * roundUp(M, 4) * 8.
 */
export function conv3x3Winograd(
  x: usize, uPack: usize, bias: usize, out: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32, pad: i32,
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
        outputTransform(products + (<usize>group << 4), productBytes, outChannels, bias, on, outH, outW, tilesW, tiles, t0 + 4 * group);
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
  src: usize, productBytes: usize, outChannels: i32, bias: usize, out: usize,
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
    const y00 = f32x4.add(f32x4.add(f32x4.add(s00, s01), s02), b);
    const y01 = f32x4.add(f32x4.sub(f32x4.sub(s01, s02), s03), b);
    const y10 = f32x4.add(f32x4.add(f32x4.add(s10, s11), s12), b);
    const y11 = f32x4.add(f32x4.sub(f32x4.sub(s11, s12), s13), b);
    const plane = out + <usize>m * planeBytes;
    if (vector) {
      const row0 = plane + <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
      v128.store(row0, i32x4.shuffle(y00, y01, 0, 4, 1, 5));
      v128.store(row0, i32x4.shuffle(y00, y01, 2, 6, 3, 7), 16);
      const row1 = row0 + rowBytes;
      v128.store(row1, i32x4.shuffle(y10, y11, 0, 4, 1, 5));
      v128.store(row1, i32x4.shuffle(y10, y11, 2, 6, 3, 7), 16);
    } else {
      storeTile(plane, rowBytes, outH, outW, tilesW, tiles, t, f32x4.extract_lane(y00, 0), f32x4.extract_lane(y01, 0), f32x4.extract_lane(y10, 0), f32x4.extract_lane(y11, 0));
      storeTile(plane, rowBytes, outH, outW, tilesW, tiles, t + 1, f32x4.extract_lane(y00, 1), f32x4.extract_lane(y01, 1), f32x4.extract_lane(y10, 1), f32x4.extract_lane(y11, 1));
      storeTile(plane, rowBytes, outH, outW, tilesW, tiles, t + 2, f32x4.extract_lane(y00, 2), f32x4.extract_lane(y01, 2), f32x4.extract_lane(y10, 2), f32x4.extract_lane(y11, 2));
      storeTile(plane, rowBytes, outH, outW, tilesW, tiles, t + 3, f32x4.extract_lane(y00, 3), f32x4.extract_lane(y01, 3), f32x4.extract_lane(y10, 3), f32x4.extract_lane(y11, 3));
    }
  }
}

/** The 2x2 outputs of tile t, clipped to the output (odd sizes); tiles past the end are skipped. */
@inline
function storeTile(plane: usize, rowBytes: usize, outH: i32, outW: i32, tilesW: i32, tiles: i32, t: i32, y00: f32, y01: f32, y10: f32, y11: f32): void {
  if (t >= tiles) return;
  const ty = t / tilesW;
  const tx = t - ty * tilesW;
  const y = 2 * ty;
  const x = 2 * tx;
  const at = plane + <usize>y * rowBytes + (<usize>x << 2);
  store<f32>(at, y00);
  if (x + 1 < outW) store<f32>(at, y01, 4);
  if (y + 1 < outH) {
    store<f32>(at + rowBytes, y10);
    if (x + 1 < outW) store<f32>(at + rowBytes, y11, 4);
  }
}

