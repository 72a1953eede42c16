// Register-blocked f32x4 GEMM over packed operands: C[M][N] (+)= A[M][depth] x B[depth][N].
//
// A is packed in blocks of MR=4 rows, laid out [rowBlock][depth][4] (one 16-byte step per depth);
// B is packed in panels of NR=8 columns, laid out [panel][depth][8] (one 32-byte step per depth).
// Both are zero-padded to whole blocks, so the micro-kernel never branches inside its depth loop.
// The micro-kernel holds the 4x8 tile of C in eight v128 accumulators: per depth step it loads two
// vectors of B and splats four scalars of A (v128.load32_splat), i.e. 6 loads for 16 mul/add.
// On x86-64 (16 xmm registers under V8) 8 accumulators + 2 B + 1 A fit without spills.
// The build makes two modules from this source (asconfig.json): `relaxed` multiplies and adds with
// f32x4.relaxed_madd, which V8 emits as one FMA where the CPU has one (half the instructions of
// the depth loop), and `plain` with f32x4.mul + f32x4.add for engines without relaxed SIMD.

import { transpose4x4Store } from './transpose';

export const MR: i32 = 4;
export const NR: i32 = 8;

/** acc + a * b: fused (one rounding) in the relaxed build where the CPU has FMA, else mul + add. */
@inline
function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

// Where an edge tile (fewer than 4 rows or 8 columns of C valid) is stored before copying out.
const edgeTile: usize = memory.data(4 * 8 * 4, 16);

@inline
function microKernel4x8(
  a: usize, b: usize, depth: i32, c: usize, ldcBytes: usize, rows: i32, cols: i32, accumulate: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let d = 0; d < depth; d++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = madd(av, b0, c00);
    c01 = madd(av, b1, c01);
    av = v128.load32_splat(a, 4);
    c10 = madd(av, b0, c10);
    c11 = madd(av, b1, c11);
    av = v128.load32_splat(a, 8);
    c20 = madd(av, b0, c20);
    c21 = madd(av, b1, c21);
    av = v128.load32_splat(a, 12);
    c30 = madd(av, b0, c30);
    c31 = madd(av, b1, c31);
    a += 16;
    b += 32;
  }

  const full = rows == MR && cols == NR;
  let out = c;
  let ld = ldcBytes;
  if (!full) {
    out = edgeTile;
    ld = 32;
    if (accumulate) {
      memory.fill(edgeTile, 0, 4 * 8 * 4);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          store<f32>(edgeTile + ((i * 8 + j) << 2), load<f32>(c + <usize>i * ldcBytes + (<usize>j << 2)));
        }
      }
    }
  }
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(out));
    c01 = f32x4.add(c01, v128.load(out, 16));
    c10 = f32x4.add(c10, v128.load(out + ld));
    c11 = f32x4.add(c11, v128.load(out + ld, 16));
    c20 = f32x4.add(c20, v128.load(out + 2 * ld));
    c21 = f32x4.add(c21, v128.load(out + 2 * ld, 16));
    c30 = f32x4.add(c30, v128.load(out + 3 * ld));
    c31 = f32x4.add(c31, v128.load(out + 3 * ld, 16));
  }
  v128.store(out, c00);
  v128.store(out, c01, 16);
  v128.store(out + ld, c10);
  v128.store(out + ld, c11, 16);
  v128.store(out + 2 * ld, c20);
  v128.store(out + 2 * ld, c21, 16);
  v128.store(out + 3 * ld, c30);
  v128.store(out + 3 * ld, c31, 16);
  if (!full) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        store<f32>(c + <usize>i * ldcBytes + (<usize>j << 2), load<f32>(edgeTile + ((i * 8 + j) << 2)));
      }
    }
  }
}

/**
 * C[M][N] = (or += when accumulate) A x B with A, B packed as above; ldc is C's row stride in floats.
 * Loops: column panel outer so one B panel (depth x 8) stays in cache while every row block of A
 * streams past it.
 */
export function gemmPacked(
  aPack: usize, bPack: usize, m: i32, n: i32, depth: i32, c: usize, ldc: i32, accumulate: bool,
): void {
  const panels = (n + NR - 1) / NR;
  const bPanelBytes = <usize>depth * (NR << 2);
  for (let jb = 0; jb < panels; jb++) {
    multiplyPanel(aPack, m, bPack + <usize>jb * bPanelBytes, depth, c + (<usize>(jb * NR) << 2), ldc, min(NR, n - jb * NR), accumulate);
  }
}

/**
 * One column panel of C: C[M][cols] (+)= A x panel, where panel is B's [depth][8] block for these
 * columns and c points at C's first column of the panel. Fused conv loops build a panel in cache
 * and call this right away.
 */
export function multiplyPanel(
  aPack: usize, m: i32, panel: usize, depth: i32, c: usize, ldc: i32, cols: i32, accumulate: bool,
): void {
  const rowBlocks = (m + MR - 1) / MR;
  const ldcBytes = <usize>ldc << 2;
  const aBlockBytes = <usize>depth * (MR << 2);
  for (let ib = 0; ib < rowBlocks; ib++) {
    microKernel4x8(
      aPack + <usize>ib * aBlockBytes, panel, depth,
      c + <usize>(ib * MR) * ldcBytes, ldcBytes, min(MR, m - ib * MR), cols, accumulate,
    );
  }
}

/**
 * Packs A[rows][depth] (element (r, d) at src[r*rowStride + d*depthStride]) into [rowBlock][depth][4],
 * zero-filling rows past the end.
 */
export function packA(src: usize, rows: i32, depth: i32, rowStride: i32, depthStride: i32, dst: usize): void {
  packABlocks(src, rows, depth, rowStride, depthStride, dst, depth);
}

/**
 * packA into row blocks that are blockDepth (>= depth) long: several sources can then fill
 * consecutive depth ranges of the same packed A (the weight gradient sums images that way).
 */
export function packABlocks(
  src: usize, rows: i32, depth: i32, rowStride: i32, depthStride: i32, dst: usize, blockDepth: i32,
): void {
  const rowBlocks = (rows + MR - 1) / MR;
  for (let rb = 0; rb < rowBlocks; rb++) {
    if (depthStride == 1 && rb * MR + MR <= rows) {
      // Contiguous rows (the weight gradient's dy): 4x4 blocks loaded as vectors and transposed in
      // registers, instead of 16 scalar loads and stores.
      const r0 = src + (<usize>(rb * MR) * <usize>rowStride << 2);
      const rowBytes = <usize>rowStride << 2;
      const out = dst + (<usize>rb * blockDepth * MR << 2);
      let d = 0;
      for (; d + 4 <= depth; d += 4) {
        const at = r0 + (<usize>d << 2);
        transpose4x4Store(out + (<usize>d << 4), 16, v128.load(at), v128.load(at + rowBytes), v128.load(at + 2 * rowBytes), v128.load(at + 3 * rowBytes));
      }
      for (; d < depth; d++) {
        for (let i = 0; i < MR; i++) {
          store<f32>(out + (<usize>(d * MR + i) << 2), load<f32>(r0 + <usize>i * rowBytes + (<usize>d << 2)));
        }
      }
      continue;
    }
    for (let i = 0; i < MR; i++) {
      const r = rb * MR + i;
      let out = dst + ((<usize>rb * blockDepth * MR + i) << 2);
      if (r < rows) {
        let p = src + (<usize>r * rowStride << 2);
        const step = <usize>depthStride << 2;
        for (let d = 0; d < depth; d++) {
          store<f32>(out, load<f32>(p));
          p += step;
          out += MR << 2;
        }
      } else {
        for (let d = 0; d < depth; d++) {
          store<f32>(out, 0);
          out += MR << 2;
        }
      }
    }
  }
}

/**
 * Packs B[depth][cols] (row-major with row stride depthStride floats, columns contiguous) into
 * panels [panel][depth][8], zero-filling columns past the end.
 */
export function packB(src: usize, depth: i32, cols: i32, depthStride: i32, dst: usize): void {
  const panels = (cols + NR - 1) / NR;
  let out = dst;
  for (let jb = 0; jb < panels; jb++) {
    const col0 = jb * NR;
    const valid = min(NR, cols - col0);
    let p = src + (<usize>col0 << 2);
    const step = <usize>depthStride << 2;
    if (valid == NR) {
      for (let d = 0; d < depth; d++) {
        v128.store(out, v128.load(p));
        v128.store(out, v128.load(p, 16), 16);
        p += step;
        out += NR << 2;
      }
    } else {
      for (let d = 0; d < depth; d++) {
        for (let j = 0; j < NR; j++) {
          store<f32>(out + (<usize>j << 2), j < valid ? load<f32>(p + (<usize>j << 2)) : 0);
        }
        p += step;
        out += NR << 2;
      }
    }
  }
}

