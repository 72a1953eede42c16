// Weight gradient of Winograd F(2x2, 3x3): the exact adjoint of the forward algorithm,
// dW = sum over tiles of G^T [(A dY_t A^T) . (B^T d_t B)] G, as 16 GEMMs whose depth is the tiles of
// a group of images.

import { multiplyPanel, MR, NR } from './gemm';
import { transpose4x4Store } from './transpose';
import { inputTransform, padInto } from './winogradInput';
import { roundUp, tileGeometry } from './winogradTiles';

// Transforms of 4 channels x 16 xi x 4 tiles, on their way to being transposed into packed operands.
const scratch: usize = memory.data(4 * 16 * 16, 16);

/**
 * dw[M][C][3][3] = sum over images and 2x2 output tiles of G^T [(A dY_t A^T) . (B^T d_t B)] G:
 * the adjoint of the forward algorithm, exact like it. Per group of images the 16 element-wise
 * products become 16 GEMMs dU[xi][M][C] += W[xi][M][tiles] x V[xi][tiles][C], whose depth (tiles of
 * the whole group) is long; transforms are computed 4 tiles at a time and transposed into the packed
 * operands. dy's tiles past the output (odd sizes) and tiles past the end count as zero.
 * Workspaces (floats): padded groupImages * (C * (2tH + 2) * (2tW + 2) + 16), dyEven M * 2tH * 2tW,
 * aPack 16 * roundUp(M, 4) * T, bPack 16 * roundUp(C, 8) * T, products 16 * M * C, where
 * T = groupImages * roundUp(tH * tW, 4).
 */
export function conv3x3WeightGradWinograd(
  x: usize, dy: usize, dw: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32, pad: i32, groupImages: i32,
  padded: usize, dyEven: usize, aPack: usize, bPack: usize, products: usize,
): void {
  const geometry = tileGeometry(height, width, pad);
  const outH = geometry.outH, outW = geometry.outW, tilesH = geometry.tilesH, tilesW = geometry.tilesW, tiles = geometry.tiles;
  const paddedH = geometry.paddedH, paddedW = geometry.paddedW;
  const tiles4 = roundUp(tiles, 4);
  const planeBytes = <usize>(paddedH * paddedW) << 2;
  const paddedImageBytes = (<usize>channels * planeBytes) + 64;
  const inBytes = <usize>(channels * height * width) << 2;
  const outBytes = <usize>(outChannels * outH * outW) << 2;
  const rows4 = roundUp(outChannels, MR);
  const channels8 = roundUp(channels, NR);
  for (let n0 = 0; n0 < batch; n0 += groupImages) {
    const images = min(groupImages, batch - n0);
    const depth = images * tiles4;
    const aXiBytes = <usize>rows4 * <usize>depth << 2;
    const bXiBytes = <usize>channels8 * <usize>depth << 2;
    for (let i = 0; i < images; i++) {
      const image = padded + <usize>i * paddedImageBytes;
      padInto(x + <usize>(n0 + i) * inBytes, channels, height, width, pad, paddedH, paddedW, image);
      evenCopy(dy + <usize>(n0 + i) * outBytes, outChannels, outH, outW, 2 * tilesH, 2 * tilesW, dyEven);
      for (let t = 0; t < tiles4; t += 4) {
        const column = i * tiles4 + t;
        // B operand: V of 4 channels at a time, transposed to [channel panel][tile][8 channels].
        for (let c = 0; c < channels; c += 4) {
          inputTransform(image, channels, planeBytes, paddedW, tilesW, tiles, t, c, 4, scratch, 16, 256);
          const out = bPack + ((<usize>(c / NR) * <usize>depth + <usize>column) * NR + <usize>(c % NR) << 2);
          for (let xi = 0; xi < 16; xi++) {
            const s = scratch + (<usize>xi << 4);
            transpose4x4Store(out + <usize>xi * bXiBytes, NR << 2, v128.load(s), v128.load(s, 256), v128.load(s, 512), v128.load(s, 768));
          }
        }
        // A operand: A dY_t A^T of 4 output channels at a time, transposed to [row block][tile][4].
        for (let m = 0; m < outChannels; m += 4) {
          for (let j = 0; j < 4; j++) {
            gradTransform(dyEven + (<usize>min(m + j, outChannels - 1) * <usize>(4 * tilesH * tilesW) << 2), tilesW, tiles, t, scratch + (<usize>j << 8));
          }
          const out = aPack + ((<usize>(m / MR) * <usize>depth + <usize>column) * MR << 2);
          for (let xi = 0; xi < 16; xi++) {
            const s = scratch + (<usize>xi << 4);
            transpose4x4Store(out + <usize>xi * aXiBytes, MR << 2, v128.load(s), v128.load(s, 256), v128.load(s, 512), v128.load(s, 768));
          }
        }
      }
    }
    for (let xi = 0; xi < 16; xi++) {
      const dU = products + (<usize>(xi * outChannels * channels) << 2);
      for (let c0 = 0; c0 < channels; c0 += NR) {
        multiplyPanel(
          aPack + <usize>xi * aXiBytes, outChannels, bPack + <usize>xi * bXiBytes + (<usize>(c0 / NR) * <usize>depth * NR << 2), depth,
          dU + (<usize>c0 << 2), channels, min(NR, channels - c0), n0 > 0,
        );
      }
    }
  }
  if (batch == 0) memory.fill(products, 0, <usize>(16 * outChannels * channels) << 2);
  weightGradOutput(products, outChannels, channels, dw);
}

/** dy [M][outH][outW] into dst [M][evenH][evenW] with a zero last row / column when odd. */
function evenCopy(dy: usize, outChannels: i32, outH: i32, outW: i32, evenH: i32, evenW: i32, dst: usize): void {
  if (evenH == outH && evenW == outW) {
    memory.copy(dst, dy, <usize>(outChannels * outH * outW) << 2);
    return;
  }
  memory.fill(dst, 0, <usize>(outChannels * evenH * evenW) << 2);
  for (let m = 0; m < outChannels; m++) {
    for (let y = 0; y < outH; y++) {
      memory.copy(dst + (<usize>((m * evenH + y) * evenW) << 2), dy + (<usize>((m * outH + y) * outW) << 2), <usize>outW << 2);
    }
  }
}

/**
 * W = A dY_t A^T (4x4 from each 2x2 gradient tile) for tiles t..t+3 of one channel plane
 * [2tH][2tW], 16 vectors (lanes = tiles) at out + 16 * xi. Tiles past the end are zero.
 */
@inline
function gradTransform(plane: usize, tilesW: i32, tiles: i32, t: i32, out: usize): void {
  const rowBytes = <usize>(2 * tilesW) << 2;
  const ty = t / tilesW;
  const tx = t - ty * tilesW;
  let a: v128, b: v128, c: v128, d: v128;
  if (t + 4 <= tiles && tx + 4 <= tilesW) {
    const r0 = plane + <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
    const l0 = v128.load(r0), h0 = v128.load(r0, 16);
    const l1 = v128.load(r0 + rowBytes), h1 = v128.load(r0 + rowBytes, 16);
    a = i32x4.shuffle(l0, h0, 0, 2, 4, 6); b = i32x4.shuffle(l0, h0, 1, 3, 5, 7);
    c = i32x4.shuffle(l1, h1, 0, 2, 4, 6); d = i32x4.shuffle(l1, h1, 1, 3, 5, 7);
  } else {
    a = f32x4.splat(0); b = f32x4.splat(0); c = f32x4.splat(0); d = f32x4.splat(0);
    for (let q = 0; q < 4; q++) {
      const tq = t + q;
      if (tq >= tiles) break;
      const y = tq / tilesW;
      const x = tq - y * tilesW;
      const at = plane + <usize>(2 * y) * rowBytes + (<usize>(2 * x) << 2);
      const va = load<f32>(at), vb = load<f32>(at, 4), vc = load<f32>(at + rowBytes), vd = load<f32>(at + rowBytes, 4);
      if (q == 0) { a = f32x4.replace_lane(a, 0, va); b = f32x4.replace_lane(b, 0, vb); c = f32x4.replace_lane(c, 0, vc); d = f32x4.replace_lane(d, 0, vd); }
      else if (q == 1) { a = f32x4.replace_lane(a, 1, va); b = f32x4.replace_lane(b, 1, vb); c = f32x4.replace_lane(c, 1, vc); d = f32x4.replace_lane(d, 1, vd); }
      else if (q == 2) { a = f32x4.replace_lane(a, 2, va); b = f32x4.replace_lane(b, 2, vb); c = f32x4.replace_lane(c, 2, vc); d = f32x4.replace_lane(d, 2, vd); }
      else { a = f32x4.replace_lane(a, 3, va); b = f32x4.replace_lane(b, 3, vb); c = f32x4.replace_lane(c, 3, vc); d = f32x4.replace_lane(d, 3, vd); }
    }
  }
  // Rows of A dY: (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); each row (p, q) times A^T
  // gives (p, p + q, p - q, -q).
  gradRow(out, 0, a, b);
  gradRow(out, 4, f32x4.add(a, c), f32x4.add(b, d));
  gradRow(out, 8, f32x4.sub(a, c), f32x4.sub(b, d));
  gradRow(out, 12, f32x4.neg(c), f32x4.neg(d));
}

@inline
function gradRow(out: usize, first: i32, p: v128, q: v128): void {
  v128.store(out + (<usize>first << 4), p);
  v128.store(out + (<usize>(first + 1) << 4), f32x4.add(p, q));
  v128.store(out + (<usize>(first + 2) << 4), f32x4.sub(p, q));
  v128.store(out + (<usize>(first + 3) << 4), f32x4.neg(q));
}

/** dw[m][c] = G^T dU[.][m][c] G (3x3 from 4x4), with G^T = [[1, .5, .5, 0], [0, .5, -.5, 0], [0, .5, .5, 1]]. */
function weightGradOutput(products: usize, outChannels: i32, channels: i32, dw: usize): void {
  const xiBytes = <usize>(outChannels * channels) << 2;
  for (let m = 0; m < outChannels; m++) {
    for (let c = 0; c < channels; c++) {
      const at = products + (<usize>(m * channels + c) << 2);
      const out = dw + (<usize>((m * channels + c) * 9) << 2);
      // Rows: h0 = u0 + (u1 + u2) / 2, h1 = (u1 - u2) / 2, h2 = (u1 + u2) / 2 + u3 (per column j).
      let h00: f32 = 0, h01: f32 = 0, h02: f32 = 0, h03: f32 = 0;
      let h10: f32 = 0, h11: f32 = 0, h12: f32 = 0, h13: f32 = 0;
      let h20: f32 = 0, h21: f32 = 0, h22: f32 = 0, h23: f32 = 0;
      for (let j = 0; j < 4; j++) {
        const u0 = load<f32>(at + <usize>j * xiBytes);
        const u1 = load<f32>(at + <usize>(4 + j) * xiBytes);
        const u2 = load<f32>(at + <usize>(8 + j) * xiBytes);
        const u3 = load<f32>(at + <usize>(12 + j) * xiBytes);
        const half = <f32>0.5 * (u1 + u2);
        const r0 = u0 + half, r1 = <f32>0.5 * (u1 - u2), r2 = half + u3;
        if (j == 0) { h00 = r0; h10 = r1; h20 = r2; }
        else if (j == 1) { h01 = r0; h11 = r1; h21 = r2; }
        else if (j == 2) { h02 = r0; h12 = r1; h22 = r2; }
        else { h03 = r0; h13 = r1; h23 = r2; }
      }
      storeWeightRow(out, 0, h00, h01, h02, h03);
      storeWeightRow(out, 12, h10, h11, h12, h13);
      storeWeightRow(out, 24, h20, h21, h22, h23);
    }
  }
}

@inline
function storeWeightRow(out: usize, offset: usize, u0: f32, u1: f32, u2: f32, u3: f32): void {
  const half = <f32>0.5 * (u1 + u2);
  store<f32>(out + offset, u0 + half);
  store<f32>(out + offset + 4, <f32>0.5 * (u1 - u2));
  store<f32>(out + offset + 8, half + u3);
}

