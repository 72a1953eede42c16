import { Rng } from '@convoy/tensor';
import { maskByReluOutput, reluInPlace } from '../src/epilogue';
import { referenceBackend as ref } from '../src/reference';
import type { Conv2dGeometry } from '../src/shapes';
import { WasmArena } from '../src/wasm/arena';
import { WASM_VARIANTS, instantiateKernels, type KernelExports } from '../src/wasm/kernelModule';
import { type Tiling, winogradForwardWorkspaces, winogradTiles, winogradWeightGradWorkspaces } from '../src/wasm/workspaces';
import { TOLERANCE, randomArray, relativeMaxError } from './parityHelpers';

// Edge cases swept exhaustively below the backend, as XNNPACK's GEMM and convolution testers do:
// the GEMM around its MR x NR micro-tile and the depth remainder, and the Winograd kernels on every
// small output size (odd ones leave partial 2x2 tiles), every padding and channel counts around
// the micro-tile, including the thin ones the backend never routes there. Both builds of the
// kernels (relaxed and plain SIMD). Workspaces come from src/wasm/workspaces.ts, as the backend's.

const GUARD = 12345.5;

describe.each(WASM_VARIANTS)('%s build', (variant) => {
  const kernels: KernelExports = instantiateKernels(variant);
  const arena = new WasmArena(kernels);
  const tiling: Tiling = { mr: kernels.MR.value, nr: kernels.NR.value };
  const f32 = () => new Float32Array(kernels.memory.buffer);

  test('exports the micro-tile the host sizes workspaces by', () => {
    expect(tiling).toEqual({ mr: 4, nr: 8 });
  });

  test('GEMM: C (+)= A B for M, N around MR, NR and every depth remainder; nothing outside C is written', () => {
    const { mr, nr } = tiling;
    const sizesM = [1, mr - 1, mr, mr + 1, 2 * mr - 1, 2 * mr + 1];
    const sizesN = [1, nr - 1, nr, nr + 1, 2 * nr - 1, 2 * nr + 1];
    const depths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 17];
    const rng = new Rng(11);
    const failures: string[] = [];
    for (const m of sizesM) {
      for (const n of sizesN) {
        for (const k of depths) {
          for (const accumulate of [false, true]) {
            // A given transposed ([K][M], the input-gradient layout) half of the time: packA's strided path.
            const transposedA = (m + n + k) % 2 === 1;
            const a = randomArray(m * k, rng);
            const b = randomArray(k * n, rng);
            const ldc = n + 3;
            const rowsC = m + 1;
            const c0 = randomArray(rowsC * ldc, rng);
            const [aAt, bAt, aPack, bPack, cAt] = arena.layout(m * k, k * n, Math.ceil(m / mr) * mr * k, Math.ceil(n / nr) * nr * k, rowsC * ldc);
            const mem = f32();
            mem.set(transposedA ? transpose(a, m, k) : a, aAt >> 2);
            mem.set(b, bAt >> 2);
            const cInit = c0.map((v, i) => (Math.floor(i / ldc) < m && i % ldc < n ? v : GUARD));
            mem.set(cInit, cAt >> 2);
            if (transposedA) kernels.packA(aAt, m, k, 1, m, aPack);
            else kernels.packA(aAt, m, k, k, 1, aPack);
            kernels.packB(bAt, k, n, n, bPack);
            kernels.gemmPacked(aPack, bPack, m, n, k, cAt, ldc, accumulate);
            const got = f32().slice(cAt >> 2, (cAt >> 2) + rowsC * ldc);
            const expected = new Float32Array(m * n);
            const actual = new Float32Array(m * n);
            let guardsKept = true;
            for (let i = 0; i < rowsC; i++) {
              for (let j = 0; j < ldc; j++) {
                const at = i * ldc + j;
                if (i >= m || j >= n) {
                  guardsKept &&= got[at] === GUARD;
                  continue;
                }
                let sum = accumulate ? cInit[at] : 0;
                for (let d = 0; d < k; d++) sum += a[i * k + d] * b[d * n + j];
                expected[i * n + j] = sum;
                actual[i * n + j] = got[at];
              }
            }
            const error = relativeMaxError(actual, expected);
            if (!guardsKept || !(error <= 1e-6 || (k === 0 && error === 0))) {
              failures.push(`M${m} N${n} K${k}${accumulate ? ' accumulate' : ''}${transposedA ? ' A^T' : ''}: error ${error}, guards ${guardsKept ? 'kept' : 'overwritten'}`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  const winogradShapes = (): Conv2dGeometry[] => {
    const shapes: Conv2dGeometry[] = [];
    for (const [inChannels, outChannels] of [[1, 1], [3, 5], [4, 4], [5, 9], [9, 3]]) {
      for (const pad of [0, 1, 2]) {
        for (const inHeight of [1, 2, 3, 4, 5, 8]) {
          for (const inWidth of [1, 2, 5, 7, 10]) {
            if (inHeight + 2 * pad < 3 || inWidth + 2 * pad < 3) continue;
            shapes.push({
              batch: 3, inChannels, outChannels, inHeight, inWidth, kernelHeight: 3, kernelWidth: 3,
              strideHeight: 1, strideWidth: 1, padHeight: pad, padWidth: pad,
            });
          }
        }
      }
    }
    return shapes;
  };
  const label = (g: Conv2dGeometry) => `C${g.inChannels}->${g.outChannels} ${g.inHeight}x${g.inWidth} p${g.padHeight}`;
  /**
   * Runs `check` on every shape of the sweep, with its Winograd output size, drawing operands from
   * one random stream (seeded); `check` reports each failure through `fail`, and the test expects none.
   */
  const sweepWinogradShapes = (
    seed: number, check: (g: Conv2dGeometry, out: { outH: number; outW: number }, rng: Rng, fail: (what: string) => void) => void,
  ): void => {
    const failures: string[] = [];
    const rng = new Rng(seed);
    for (const g of winogradShapes()) {
      check(g, winogradTiles(g.inHeight, g.inWidth, g.padHeight), rng, (what) => failures.push(`${label(g)}${what}`));
    }
    expect(failures).toEqual([]);
  };

  test('Winograd forward and input gradient: every small output size, padding 0-2, thin and odd channel counts; fused ReLU and ReLU mask', () => {
    sweepWinogradShapes(12, (g, { outH, outW }, rng, fail) => {
      const x = randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rng);
      const w = randomArray(g.outChannels * g.inChannels * 9, rng);
      const bias = randomArray(g.outChannels, rng);
      const expected = new Float32Array(g.batch * g.outChannels * outH * outW);
      ref.conv2d(g, x, w, bias, expected);
      const got = winogradConv(g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, false, x, w, bias, expected.length, false, null);
      const forwardError = relativeMaxError(got, expected);
      const rectified = winogradConv(g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, false, x, w, bias, expected.length, true, null);
      reluInPlace(expected, expected.length);
      const reluError = relativeMaxError(rectified, expected);
      const reluExact = rectified.every((v) => v >= 0 && !Object.is(v, -0));
      // Input gradient: the same kernel on dy with flipped, transposed weights and padding 2 - p.
      const dy = randomArray(expected.length, rng);
      const expectedDx = new Float32Array(x.length);
      ref.conv2dBackwardInput(g, dy, w, expectedDx);
      const gotDx = winogradConv(g.batch, g.outChannels, outH, outW, g.inChannels, 2 - g.padHeight, true, dy, w, null, x.length, false, null);
      const inputError = relativeMaxError(gotDx, expectedDx);
      // The ReLU mask: x rectified stands for the output of a ReLU before this conv.
      const mask = x.slice();
      reluInPlace(mask, mask.length);
      const maskedDx = winogradConv(g.batch, g.outChannels, outH, outW, g.inChannels, 2 - g.padHeight, true, dy, w, null, x.length, false, mask);
      maskByReluOutput(expectedDx, mask, x.length);
      const maskError = relativeMaxError(maskedDx, expectedDx);
      const maskExact = maskedDx.every((v, i) => (mask[i] === 0 ? Object.is(v, 0) : true));
      if (!(forwardError <= TOLERANCE && inputError <= TOLERANCE && reluError <= TOLERANCE && maskError <= TOLERANCE && reluExact && maskExact)) {
        fail(`: forward ${forwardError}, input gradient ${inputError}, relu ${reluError}${reluExact ? '' : ' (negative or -0 left)'}, mask ${maskError}${maskExact ? '' : ' (not +0 where masked)'}`);
      }
    });
  });

  test('Winograd weight gradient: the same sweep, with image groups of 1, 2 (a partial last group) and 3', () => {
    sweepWinogradShapes(13, (g, { outH, outW }, rng, fail) => {
      const x = randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rng);
      const dy = randomArray(g.batch * g.outChannels * outH * outW, rng);
      const expected = new Float32Array(g.outChannels * g.inChannels * 9);
      ref.conv2dBackwardWeights(g, x, dy, expected, null);
      for (const group of [1, 2, 3]) {
        const ws = winogradWeightGradWorkspaces(tiling, g, group);
        const [xAt, dyAt, dwAt, padded, dyEven, aPack, bPack, products] = arena.layout(
          x.length, dy.length, expected.length, ws.padded, ws.dyEven, ws.aPack, ws.bPack, ws.products,
        );
        const mem = f32();
        mem.set(x, xAt >> 2);
        mem.set(dy, dyAt >> 2);
        mem.fill(Number.NaN, dwAt >> 2, (dwAt >> 2) + expected.length);
        kernels.conv3x3WeightGradWinograd(
          xAt, dyAt, dwAt, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, group, padded, dyEven, aPack, bPack, products,
        );
        const error = relativeMaxError(f32().slice(dwAt >> 2, (dwAt >> 2) + expected.length), expected);
        if (!(error <= TOLERANCE)) fail(` group ${group}: ${error}`);
      }
    });
  });

  function winogradConv(
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number, flip: boolean,
    x: Float32Array, w: Float32Array, bias: Float32Array | null, outSize: number, relu: boolean, mask: Float32Array | null,
  ): Float32Array {
    const ws = winogradForwardWorkspaces(tiling, channels, height, width, outChannels, pad);
    const [xAt, wAt, bAt, outAt, maskAt, uPack, padded, panel, products] = arena.layout(
      x.length, w.length, outChannels, outSize, outSize, ws.uPack, ws.padded, ws.panel, ws.products,
    );
    const mem = f32();
    mem.set(x, xAt >> 2);
    if (mask) mem.set(mask, maskAt >> 2);
    mem.set(w, wAt >> 2);
    if (bias) mem.set(bias, bAt >> 2);
    mem.fill(Number.NaN, outAt >> 2, (outAt >> 2) + outSize);
    kernels.winogradWeights(wAt, outChannels, channels, flip, uPack);
    kernels.conv3x3Winograd(xAt, uPack, bias ? bAt : 0, outAt, batch, channels, height, width, outChannels, pad, relu, mask ? maskAt : 0, padded, panel, products);
    return f32().slice(outAt >> 2, (outAt >> 2) + outSize);
  }
});

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}
