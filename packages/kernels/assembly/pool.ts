// Pooling forward and backward over flat NCHW planes. Semantics follow the reference backend
// (src/reference): max-pool ties go to the first element in window order and NaN wins; average
// pooling counts padded cells in the divisor, clipped to the padded input as PyTorch does.

@inline
function outSize(input: i32, kernel: i32, stride: i32, pad: i32): i32 {
  return (input + 2 * pad - kernel) / stride + 1;
}

export function maxPool2d(
  x: usize, out: usize, argmax: usize, planes: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  if (kernelH == 2 && kernelW == 2 && strideH == 2 && strideW == 2 && padH == 0 && padW == 0) {
    maxPool2x2(x, out, argmax, planes, height, width);
    return;
  }
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const planeBytes = <usize>(height * width) << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + <usize>p * planeBytes;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * strideH - padH;
      const yStart = max(y0, 0);
      const yEnd = min(y0 + kernelH, height);
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * strideW - padW;
        const xStart = max(x0, 0);
        const xEnd = min(x0 + kernelW, width);
        let best: f32 = -Infinity;
        let bestIndex: i32 = -1;
        for (let iy = yStart; iy < yEnd; iy++) {
          for (let ix = xStart; ix < xEnd; ix++) {
            const index = iy * width + ix;
            const value = load<f32>(plane + (<usize>index << 2));
            if (value > best || bestIndex < 0) {
              best = value;
              bestIndex = index;
            } else if (isNaN(value) && !isNaN(best)) {
              best = value;
              bestIndex = index;
            }
          }
        }
        store<f32>(out + (o << 2), best);
        store<i32>(argmax + (o << 2), bestIndex);
        o++;
      }
    }
  }
}

/**
 * The recipe network's 2x2 stride-2 max-pool, four outputs per step: the even and odd lanes of two
 * input rows are the window's four cells, compared in window order with the same tie and NaN rules.
 */
function maxPool2x2(x: usize, out: usize, argmax: usize, planes: i32, height: i32, width: i32): void {
  const outH = height >> 1;
  const outW = width >> 1;
  const rowBytes = <usize>width << 2;
  const planeBytes = <usize>height * rowBytes;
  // Offsets of the window's cells b, c, d from its top-left a, and lanes' column offsets.
  const offB = i32x4.splat(1);
  const offC = i32x4.splat(width);
  const offD = i32x4.splat(width + 1);
  const lanes = i32x4(0, 2, 4, 6);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + <usize>p * planeBytes;
    for (let oy = 0; oy < outH; oy++) {
      const row0 = plane + <usize>(2 * oy) * rowBytes;
      const row1 = row0 + rowBytes;
      let ox = 0;
      for (; ox + 4 <= outW; ox += 4) {
        const at = <usize>(2 * ox) << 2;
        const r0l = v128.load(row0 + at), r0h = v128.load(row0 + at, 16);
        const r1l = v128.load(row1 + at), r1h = v128.load(row1 + at, 16);
        const a = i32x4.shuffle(r0l, r0h, 0, 2, 4, 6);
        const b = i32x4.shuffle(r0l, r0h, 1, 3, 5, 7);
        const c = i32x4.shuffle(r1l, r1h, 0, 2, 4, 6);
        const d = i32x4.shuffle(r1l, r1h, 1, 3, 5, 7);
        let best = a;
        let offset = i32x4.splat(0);
        let wins = beats(b, best);
        best = v128.bitselect(b, best, wins);
        offset = v128.bitselect(offB, offset, wins);
        wins = beats(c, best);
        best = v128.bitselect(c, best, wins);
        offset = v128.bitselect(offC, offset, wins);
        wins = beats(d, best);
        best = v128.bitselect(d, best, wins);
        offset = v128.bitselect(offD, offset, wins);
        const corner = i32x4.add(i32x4.splat(2 * oy * width + 2 * ox), lanes);
        v128.store(out + (o << 2), best);
        v128.store(argmax + (o << 2), i32x4.add(corner, offset));
        o += 4;
      }
      for (; ox < outW; ox++) {
        const index = 2 * oy * width + 2 * ox;
        let best = load<f32>(plane + (<usize>index << 2));
        let bestIndex = index;
        for (let k = 1; k < 4; k++) {
          const cell = index + (k >> 1) * width + (k & 1);
          const value = load<f32>(plane + (<usize>cell << 2));
          if (value > best || (isNaN(value) && !isNaN(best))) {
            best = value;
            bestIndex = cell;
          }
        }
        store<f32>(out + (o << 2), best);
        store<i32>(argmax + (o << 2), bestIndex);
        o++;
      }
    }
  }
}

/** Lanes where `value` takes over from `best`: greater, or the first NaN. */
@inline
function beats(value: v128, best: v128): v128 {
  return v128.or(f32x4.gt(value, best), v128.andnot(f32x4.ne(value, value), f32x4.ne(best, best)));
}

export function maxPool2dBackward(
  dy: usize, argmax: usize, dx: usize, planes: i32, height: i32, width: i32, outPixels: i32,
): void {
  const planeSize = height * width;
  memory.fill(dx, 0, <usize>(planes * planeSize) << 2);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = dx + (<usize>(p * planeSize) << 2);
    for (let i = 0; i < outPixels; i++) {
      const d = plane + (<usize>load<i32>(argmax + (o << 2)) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + (o << 2)));
      o++;
    }
  }
}

@inline
function windowDivisor(y0: i32, x0: i32, kernelH: i32, kernelW: i32, height: i32, width: i32, padH: i32, padW: i32): f32 {
  const y1 = min(y0 + kernelH, height + padH);
  const x1 = min(x0 + kernelW, width + padW);
  return <f32>((y1 - y0) * (x1 - x0));
}

export function avgPool2d(
  x: usize, out: usize, planes: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const planeBytes = <usize>(height * width) << 2;
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + <usize>p * planeBytes;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * strideH - padH;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * strideW - padW;
        let sum: f32 = 0;
        for (let iy = max(y0, 0); iy < min(y0 + kernelH, height); iy++) {
          for (let ix = max(x0, 0); ix < min(x0 + kernelW, width); ix++) {
            sum += load<f32>(plane + (<usize>(iy * width + ix) << 2));
          }
        }
        store<f32>(out + (o << 2), sum / windowDivisor(y0, x0, kernelH, kernelW, height, width, padH, padW));
        o++;
      }
    }
  }
}

export function avgPool2dBackward(
  dy: usize, dx: usize, planes: i32, height: i32, width: i32,
  kernelH: i32, kernelW: i32, strideH: i32, strideW: i32, padH: i32, padW: i32,
): void {
  const outH = outSize(height, kernelH, strideH, padH);
  const outW = outSize(width, kernelW, strideW, padW);
  const planeBytes = <usize>(height * width) << 2;
  memory.fill(dx, 0, <usize>planes * planeBytes);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = dx + <usize>p * planeBytes;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * strideH - padH;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * strideW - padW;
        const share = load<f32>(dy + (o << 2)) / windowDivisor(y0, x0, kernelH, kernelW, height, width, padH, padW);
        for (let iy = max(y0, 0); iy < min(y0 + kernelH, height); iy++) {
          for (let ix = max(x0, 0); ix < min(x0 + kernelW, width); ix++) {
            const d = plane + (<usize>(iy * width + ix) << 2);
            store<f32>(d, load<f32>(d) + share);
          }
        }
        o++;
      }
    }
  }
}

/** out[p] = mean of plane p. Sums in f64 so large planes lose nothing to float32 rounding. */
export function globalAvgPool(x: usize, out: usize, planes: i32, planeSize: i32): void {
  for (let p = 0; p < planes; p++) {
    const plane = x + (<usize>(p * planeSize) << 2);
    let sum: f64 = 0;
    for (let i = 0; i < planeSize; i++) sum += <f64>load<f32>(plane + (<usize>i << 2));
    store<f32>(out + (<usize>p << 2), <f32>(sum / <f64>planeSize));
  }
}

export function globalAvgPoolBackward(dy: usize, dx: usize, planes: i32, planeSize: i32): void {
  for (let p = 0; p < planes; p++) {
    const share = <f32>(<f64>load<f32>(dy + (<usize>p << 2)) / <f64>planeSize);
    const plane = dx + (<usize>(p * planeSize) << 2);
    const vv = f32x4.splat(share);
    let i = 0;
    for (; i + 4 <= planeSize; i += 4) v128.store(plane + (<usize>i << 2), vv);
    for (; i < planeSize; i++) store<f32>(plane + (<usize>i << 2), share);
  }
}
