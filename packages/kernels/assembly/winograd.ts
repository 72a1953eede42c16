// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin & Gray 2016): each 2x2 output tile
// costs 16 multiplies per (input, output) channel pair instead of 36. The 16 element-wise products
// over channels are 16 small GEMMs U[xi][M][C] x V[xi][C][tiles], run with the same packed 4x8
// micro-kernel as im2col (gemm.ts), 8 tiles per panel so transforms and products stay in cache.
//   U = G g G^T (weights), V = B^T d B (4x4 input tiles, stride 2), Y = A^T M A (2x2 outputs).

import { multiplyPanel, MR, NR } from './gemm';
import { transpose4x4Store } from './transpose';

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
  const outH = height + 2 * pad - 2;
  const outW = width + 2 * pad - 2;
  const tilesH = (outH + 1) >> 1;
  const tilesW = (outW + 1) >> 1;
  const tiles = tilesH * tilesW;
  const paddedH = 2 * tilesH + 2;
  const paddedW = 2 * tilesW + 2;
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

function padInto(x: usize, channels: i32, height: i32, width: i32, pad: i32, paddedH: i32, paddedW: i32, dst: usize): void {
  const paddedRowBytes = <usize>paddedW << 2;
  const rowBytes = <usize>min(width, paddedW - pad) << 2;
  const rows = min(height, paddedH - pad);
  const right = paddedRowBytes - (<usize>pad << 2) - rowBytes;
  for (let c = 0; c < channels; c++) {
    let src = x + (<usize>(c * height * width) << 2);
    const plane = dst + <usize>c * <usize>paddedH * paddedRowBytes;
    // Only the border is zeroed: the interior is overwritten row by row.
    memory.fill(plane, 0, <usize>pad * paddedRowBytes);
    let out = plane + <usize>pad * paddedRowBytes;
    for (let y = 0; y < rows; y++) {
      // Rows are short (4-33 floats): explicit vector copies beat bulk-memory calls here.
      for (let i = 0; i < pad; i++) store<f32>(out + (<usize>i << 2), 0);
      const to = out + (<usize>pad << 2);
      let j: usize = 0;
      for (; j + 16 <= rowBytes; j += 16) v128.store(to + j, v128.load(src + j));
      for (; j < rowBytes; j += 4) store<f32>(to + j, load<f32>(src + j));
      for (let k: usize = 0; k < right; k += 4) store<f32>(to + rowBytes + k, 0);
      src += <usize>width << 2;
      out += paddedRowBytes;
    }
    memory.fill(out, 0, <usize>(paddedH - pad - rows) * paddedRowBytes);
  }
  // 16 floats of slack: vector loads of the last tile row may read a little past the last plane.
  memory.fill(dst + <usize>channels * <usize>paddedH * paddedRowBytes, 0, 64);
}

/**
 * V = B^T d B for 4 tiles starting at tile t (4 lanes) of channels firstChannel.. (+channelCount;
 * channels past the last repeat it), stored at dst + i * channelStride + xi * xiStride for the
 * i-th channel. Tiles past the end repeat the last one.
 */
@inline
function inputTransform(
  padded: usize, channels: i32, planeBytes: usize, paddedW: i32, tilesW: i32, tiles: i32, t: i32,
  firstChannel: i32, channelCount: i32, dst: usize, xiStride: usize, channelStride: usize,
): void {
  const rowBytes = <usize>paddedW << 2;
  const ty = t / tilesW;
  const tx = t - ty * tilesW;
  const vector = t + 4 <= tiles && tx + 4 <= tilesW;
  // Lane offsets of the 4 tiles' top-left corners (used when they do not share a tile row).
  let o0: usize = 0, o1: usize = 0, o2: usize = 0, o3: usize = 0;
  if (!vector) {
    o0 = tileOffset(t, tilesW, tiles, rowBytes);
    o1 = tileOffset(t + 1, tilesW, tiles, rowBytes);
    o2 = tileOffset(t + 2, tilesW, tiles, rowBytes);
    o3 = tileOffset(t + 3, tilesW, tiles, rowBytes);
  }
  const origin = <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
  let out = dst;
  for (let i = 0; i < channelCount; i++) {
    const plane = padded + <usize>min(firstChannel + i, channels - 1) * planeBytes;
    let d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128, d13: v128;
    let d20: v128, d21: v128, d22: v128, d23: v128, d30: v128, d31: v128, d32: v128, d33: v128;
    if (vector) {
      const r0 = plane + origin;
      const r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
      let a = v128.load(r0), b = v128.load(r0, 16), e = v128.load(r0, 8), f = v128.load(r0, 24);
      d00 = i32x4.shuffle(a, b, 0, 2, 4, 6); d01 = i32x4.shuffle(a, b, 1, 3, 5, 7);
      d02 = i32x4.shuffle(e, f, 0, 2, 4, 6); d03 = i32x4.shuffle(e, f, 1, 3, 5, 7);
      a = v128.load(r1); b = v128.load(r1, 16); e = v128.load(r1, 8); f = v128.load(r1, 24);
      d10 = i32x4.shuffle(a, b, 0, 2, 4, 6); d11 = i32x4.shuffle(a, b, 1, 3, 5, 7);
      d12 = i32x4.shuffle(e, f, 0, 2, 4, 6); d13 = i32x4.shuffle(e, f, 1, 3, 5, 7);
      a = v128.load(r2); b = v128.load(r2, 16); e = v128.load(r2, 8); f = v128.load(r2, 24);
      d20 = i32x4.shuffle(a, b, 0, 2, 4, 6); d21 = i32x4.shuffle(a, b, 1, 3, 5, 7);
      d22 = i32x4.shuffle(e, f, 0, 2, 4, 6); d23 = i32x4.shuffle(e, f, 1, 3, 5, 7);
      a = v128.load(r3); b = v128.load(r3, 16); e = v128.load(r3, 8); f = v128.load(r3, 24);
      d30 = i32x4.shuffle(a, b, 0, 2, 4, 6); d31 = i32x4.shuffle(a, b, 1, 3, 5, 7);
      d32 = i32x4.shuffle(e, f, 0, 2, 4, 6); d33 = i32x4.shuffle(e, f, 1, 3, 5, 7);
    } else {
      d00 = gather(plane, o0, o1, o2, o3, 0); d01 = gather(plane, o0, o1, o2, o3, 4);
      d02 = gather(plane, o0, o1, o2, o3, 8); d03 = gather(plane, o0, o1, o2, o3, 12);
      const p1 = plane + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      d10 = gather(p1, o0, o1, o2, o3, 0); d11 = gather(p1, o0, o1, o2, o3, 4);
      d12 = gather(p1, o0, o1, o2, o3, 8); d13 = gather(p1, o0, o1, o2, o3, 12);
      d20 = gather(p2, o0, o1, o2, o3, 0); d21 = gather(p2, o0, o1, o2, o3, 4);
      d22 = gather(p2, o0, o1, o2, o3, 8); d23 = gather(p2, o0, o1, o2, o3, 12);
      d30 = gather(p3, o0, o1, o2, o3, 0); d31 = gather(p3, o0, o1, o2, o3, 4);
      d32 = gather(p3, o0, o1, o2, o3, 8); d33 = gather(p3, o0, o1, o2, o3, 12);
    }
    // Rows: e0 = d0 - d2, e1 = d1 + d2, e2 = d2 - d1, e3 = d1 - d3.
    const e00 = f32x4.sub(d00, d20), e01 = f32x4.sub(d01, d21), e02 = f32x4.sub(d02, d22), e03 = f32x4.sub(d03, d23);
    const e10 = f32x4.add(d10, d20), e11 = f32x4.add(d11, d21), e12 = f32x4.add(d12, d22), e13 = f32x4.add(d13, d23);
    const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12), e23 = f32x4.sub(d23, d13);
    const e30 = f32x4.sub(d10, d30), e31 = f32x4.sub(d11, d31), e32 = f32x4.sub(d12, d32), e33 = f32x4.sub(d13, d33);
    // Columns, same pattern, xi = 4 * row + column.
    storeColumns(out, xiStride, 0, e00, e01, e02, e03);
    storeColumns(out, xiStride, 4, e10, e11, e12, e13);
    storeColumns(out, xiStride, 8, e20, e21, e22, e23);
    storeColumns(out, xiStride, 12, e30, e31, e32, e33);
    out += channelStride;
  }
}

@inline
function storeColumns(out: usize, panelBytes: usize, first: i32, e0: v128, e1: v128, e2: v128, e3: v128): void {
  v128.store(out + <usize>first * panelBytes, f32x4.sub(e0, e2));
  v128.store(out + <usize>(first + 1) * panelBytes, f32x4.add(e1, e2));
  v128.store(out + <usize>(first + 2) * panelBytes, f32x4.sub(e2, e1));
  v128.store(out + <usize>(first + 3) * panelBytes, f32x4.sub(e1, e3));
}

@inline
function tileOffset(t: i32, tilesW: i32, tiles: i32, rowBytes: usize): usize {
  const q = min(t, tiles - 1);
  const ty = q / tilesW;
  const tx = q - ty * tilesW;
  return <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
}

@inline
function gather(row: usize, o0: usize, o1: usize, o2: usize, o3: usize, column: usize): v128 {
  let v = f32x4.splat(load<f32>(row + o0 + column));
  v = f32x4.replace_lane(v, 1, load<f32>(row + o1 + column));
  v = f32x4.replace_lane(v, 2, load<f32>(row + o2 + column));
  return f32x4.replace_lane(v, 3, load<f32>(row + o3 + column));
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
  const outH = height + 2 * pad - 2;
  const outW = width + 2 * pad - 2;
  const tilesH = (outH + 1) >> 1;
  const tilesW = (outW + 1) >> 1;
  const tiles = tilesH * tilesW;
  const tiles4 = roundUp(tiles, 4);
  const paddedH = 2 * tilesH + 2;
  const paddedW = 2 * tilesW + 2;
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

@inline
function roundUp(value: i32, multiple: i32): i32 {
  return (value + multiple - 1) / multiple * multiple;
}
