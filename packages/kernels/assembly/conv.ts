// Convolution drivers: whole-batch forward and backward passes as im2col + packed GEMM.
// Pointers are byte addresses in this module's memory, laid out by the host (src/wasm/); workspaces
// are host-provided too, so these functions never allocate.

import { gemmPacked, multiplyPanel, packA, packABlocks, packB, NR } from './gemm';
import { maskInPlace, reluInPlace } from './epilogue';
import { col2im, forwardPanel, padImages, weightGradPanel } from './im2col';

@inline
function outSize(input: i32, kernel: i32, stride: i32, pad: i32): i32 {
  return (input + 2 * pad - kernel) / stride + 1;
}

/** Fills each row m of c[rows][cols] with value[m]. */
function fillRows(c: usize, rows: i32, cols: i32, values: usize): void {
  for (let m = 0; m < rows; m++) {
    const v = load<f32>(values + (<usize>m << 2));
    const row = c + (<usize>(m * cols) << 2);
    const vv = f32x4.splat(v);
    let j = 0;
    for (; j + 4 <= cols; j += 4) v128.store(row + (<usize>j << 2), vv);
    for (; j < cols; j++) store<f32>(row + (<usize>j << 2), v);
  }
}

/**
 * out[N][M][outH][outW] = x (*) w[M][C][kH][kW] + bias, rectified when `relu`. Per image: pad it,
 * then for each 8-pixel panel build the [K][8] im2col panel in cache and multiply every row block
 * of W into it; the ReLU runs over the image's output while it is still in cache.
 * Workspaces (floats): aPack roundUp(M, 4) * K, padded C * (H + 2padH) * (W + 2padW), panel K * 8.
 */
export function conv2dForward(
  x: usize, w: usize, bias: usize, out: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, relu: bool,
  aPack: usize, padded: usize, panel: usize,
): void {
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const pixels = outH * outW;
  const depth = channels * kernelH * kernelW;
  const paddedH = height + 2 * padH;
  const paddedW = width + 2 * padW;
  packA(w, outChannels, depth, depth, 1, aPack);
  const inBytes = <usize>(channels * height * width) << 2;
  const outBytes = <usize>(outChannels * pixels) << 2;
  const panels = (pixels + NR - 1) / NR;
  for (let n = 0; n < batch; n++) {
    const on = out + <usize>n * outBytes;
    padImages(x + <usize>n * inBytes, 1, channels, height, width, padH, padW, padded);
    if (bias != 0) fillRows(on, outChannels, pixels, bias);
    for (let jb = 0; jb < panels; jb++) {
      const p0 = jb * NR;
      forwardPanel(padded, channels, paddedH, paddedW, kernelH, kernelW, strideH, strideW, outW, pixels, p0, panel);
      multiplyPanel(aPack, outChannels, panel, depth, on + (<usize>p0 << 2), pixels, min(NR, pixels - p0), bias != 0);
    }
    if (relu) reluInPlace(on, outChannels * pixels);
  }
}

/**
 * dx[N][C][H][W] from dy[N][M][outH][outW]: per image, col = W^T x dy (a [K][P] GEMM), then col2im;
 * with a nonzero `mask` (shaped like dx: the forward input, a ReLU's output) dx is then zeroed where
 * mask is +0.
 * Workspaces: aPack roundUp(K, 4) * M floats, bPack roundUp(P, 8) * M, col K * P.
 */
export function conv2dBackwardInput(
  dy: usize, w: usize, dx: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32, mask: usize,
  aPack: usize, bPack: usize, col: usize,
): void {
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const pixels = outH * outW;
  const depth = channels * kernelH * kernelW;
  // A = W^T: row k of A is column k of W, so rows step by 1 and depth (output channels) by K.
  packA(w, depth, outChannels, 1, depth, aPack);
  const inBytes = <usize>(channels * height * width) << 2;
  const outBytes = <usize>(outChannels * pixels) << 2;
  for (let n = 0; n < batch; n++) {
    packB(dy + <usize>n * outBytes, outChannels, pixels, pixels, bPack);
    gemmPacked(aPack, bPack, depth, pixels, outChannels, col, pixels, false);
    col2im(col, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, outH, outW, dx + <usize>n * inBytes);
    if (mask != 0) maskInPlace(dx + <usize>n * inBytes, mask + <usize>n * inBytes, channels * height * width);
  }
}

/**
 * dw[M][C][kH][kW] = sum over images of dy_n[M][P] x col_n^T[P][K]; db[M] = sum of dy (when db != 0).
 * Images go in groups of groupImages, concatenated along the GEMM's depth (so small feature maps
 * still give the micro-kernel a long depth loop). Per group: pack dy as A, pad the images, then per
 * 8 taps build the [group*P][8] panel in cache and multiply.
 * Workspaces (floats): aPack roundUp(M, 4) * group*P, padded group * C * (H + 2padH) * (W + 2padW),
 * panel group*P * 8.
 */
export function conv2dBackwardWeights(
  x: usize, dy: usize, dw: usize, db: usize,
  batch: i32, channels: i32, height: i32, width: i32, outChannels: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
  groupImages: i32, aPack: usize, padded: usize, panel: usize,
): void {
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const pixels = outH * outW;
  const depth = channels * kernelH * kernelW;
  const paddedH = height + 2 * padH;
  const paddedW = width + 2 * padW;
  const inBytes = <usize>(channels * height * width) << 2;
  const outBytes = <usize>(outChannels * pixels) << 2;
  const panels = (depth + NR - 1) / NR;
  for (let n0 = 0; n0 < batch; n0 += groupImages) {
    const images = min(groupImages, batch - n0);
    const groupDepth = images * pixels;
    for (let i = 0; i < images; i++) {
      packABlocks(dy + <usize>(n0 + i) * outBytes, outChannels, pixels, pixels, 1, aPack + (<usize>(i * pixels) << 4), groupDepth);
    }
    padImages(x + <usize>n0 * inBytes, images, channels, height, width, padH, padW, padded);
    for (let kb = 0; kb < panels; kb++) {
      const k0 = kb * NR;
      weightGradPanel(padded, images, channels, paddedH, paddedW, kernelH, kernelW, strideH, strideW, outH, outW, k0, panel);
      multiplyPanel(aPack, outChannels, panel, groupDepth, dw + (<usize>k0 << 2), depth, min(NR, depth - k0), n0 > 0);
    }
  }
  if (batch == 0) memory.fill(dw, 0, <usize>(outChannels * depth) << 2);
  if (db != 0) biasGradient(dy, db, batch, outChannels, pixels);
}

/** db[m] = sum over images and pixels of dy[n][m][p]. */
export function biasGradient(dy: usize, db: usize, batch: i32, outChannels: i32, pixels: i32): void {
  const outBytes = <usize>(outChannels * pixels) << 2;
  for (let m = 0; m < outChannels; m++) {
    let acc = f32x4.splat(0);
    let tail: f32 = 0;
    for (let n = 0; n < batch; n++) {
      const row = dy + <usize>n * outBytes + (<usize>(m * pixels) << 2);
      let j = 0;
      for (; j + 4 <= pixels; j += 4) acc = f32x4.add(acc, v128.load(row + (<usize>j << 2)));
      for (; j < pixels; j++) tail += load<f32>(row + (<usize>j << 2));
    }
    const sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3) + tail;
    store<f32>(db + (<usize>m << 2), sum);
  }
}
