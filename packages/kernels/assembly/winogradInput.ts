// The input side of Winograd F(2x2, 3x3), shared by the forward pass (and so the input gradient)
// and the weight gradient: zero-padding an image into the plane the tiles read, and the input
// transform V = B^T d B of 4 tiles at a time (one tile per lane).

import { tileOffset } from './winogradTiles';

/**
 * Copies x [C][H][W] into dst [C][paddedH][paddedW] with `pad` zero rows/columns before and the
 * rest after, plus 16 floats of zero slack.
 */
export function padInto(x: usize, channels: i32, height: i32, width: i32, pad: i32, paddedH: i32, paddedW: i32, dst: usize): void {
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
export function inputTransform(
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
function gather(row: usize, o0: usize, o1: usize, o2: usize, o3: usize, column: usize): v128 {
  let v = f32x4.splat(load<f32>(row + o0 + column));
  v = f32x4.replace_lane(v, 1, load<f32>(row + o1 + column));
  v = f32x4.replace_lane(v, 2, load<f32>(row + o2 + column));
  return f32x4.replace_lane(v, 3, load<f32>(row + o3 + column));
}

