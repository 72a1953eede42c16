import {
  type Conv2dGeometry, type KernelBackend, type Pool2dGeometry, conv2dOutputHeight, conv2dOutputWidth, pool2dOutputHeight, pool2dOutputWidth,
  referenceBackend, relativeMaxError,
} from '@convoy/kernels';

/**
 * The recipe network's op shapes (docs/ARCHITECTURE.md: 3x3 convs 3->32->64->128 with fused ReLU,
 * the 7x7 stride-2 front end, 2x2 max-pool, global average pooling), at a small batch and side so
 * that the plain-TS reference computes them in milliseconds.
 */
const CONVS: Conv2dGeometry[] = [
  conv(3, 32, 8, 3, 1, 1), conv(32, 32, 8, 3, 1, 1), conv(32, 64, 8, 3, 1, 1), conv(64, 64, 4, 3, 1, 1),
  conv(64, 128, 4, 3, 1, 1), conv(128, 128, 2, 3, 1, 1), conv(3, 32, 9, 7, 2, 3),
];
const POOL: Pool2dGeometry = { batch: 2, channels: 32, inHeight: 8, inWidth: 8, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 };

function conv(inChannels: number, outChannels: number, side: number, kernel: number, stride: number, pad: number): Conv2dGeometry {
  return {
    batch: 2, inChannels, outChannels, inHeight: side, inWidth: side,
    kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride, padHeight: pad, padWidth: pad,
  };
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 7.1 + i * 0.61);
  return a;
}

/**
 * Runs every op of `backend` on the recipe shapes and compares it with the plain-TS reference
 * (kernels' relativeMaxError, 1e-4). Returns null when all agree, else what differed: what
 * `auto` checks before it takes the native backend.
 */
export function recipeParityProblem(backend: KernelBackend, tolerance = 1e-4): string | null {
  const ref = referenceBackend;
  const compare = (what: string, got: Float32Array, want: Float32Array): string | null => {
    const error = relativeMaxError(got, want);
    return error <= tolerance ? null : `${what}: relative error ${error.toExponential(2)} > ${tolerance}`;
  };
  for (const g of CONVS) {
    const label = `conv ${g.inChannels}->${g.outChannels} k${g.kernelHeight}`;
    const input = filled(g.batch * g.inChannels * g.inHeight * g.inWidth, 1);
    const weight = filled(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, 2).map((v) => v * 0.1);
    const bias = filled(g.outChannels, 3);
    const outSize = g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
    const gradOutput = filled(outSize, 4);
    const pairs: Array<[string, (b: KernelBackend) => Float32Array]> = [
      ['forward + ReLU', (b) => { const y = new Float32Array(outSize).fill(NaN); b.conv2d(g, input, weight, bias, y, { relu: true }); return y; }],
      ['input gradient', (b) => { const dx = new Float32Array(input.length).fill(NaN); b.conv2dBackwardInput(g, gradOutput, weight, dx, input.map((v) => Math.max(0, v))); return dx; }],
      ['weight gradient', (b) => { const dw = new Float32Array(weight.length).fill(NaN); b.conv2dBackwardWeights(g, input, gradOutput, dw, null); return dw; }],
      ['bias gradient', (b) => { const dw = new Float32Array(weight.length); const db = new Float32Array(g.outChannels).fill(NaN); b.conv2dBackwardWeights(g, input, gradOutput, dw, db); return db; }],
    ];
    for (const [what, run] of pairs) {
      const problem = compare(`${label} ${what}`, run(backend), run(ref));
      if (problem) return problem;
    }
  }
  const p = POOL;
  const input = filled(p.batch * p.channels * p.inHeight * p.inWidth, 5);
  const outSize = p.batch * p.channels * pool2dOutputHeight(p) * pool2dOutputWidth(p);
  const run = (b: KernelBackend) => {
    const out = new Float32Array(outSize).fill(NaN);
    const argmax = new Int32Array(outSize);
    b.maxPool2d(p, input, out, argmax);
    const dx = new Float32Array(input.length).fill(NaN);
    b.maxPool2dBackward(p, filled(outSize, 6), argmax, dx);
    const gap = new Float32Array(p.batch * p.channels).fill(NaN);
    b.globalAvgPool(p.batch, p.channels, p.inHeight, p.inWidth, input, gap);
    const gapDx = new Float32Array(input.length).fill(NaN);
    b.globalAvgPoolBackward(p.batch, p.channels, p.inHeight, p.inWidth, gap, gapDx);
    return [out, dx, gap, gapDx];
  };
  const got = run(backend);
  const want = run(ref);
  const names = ['max-pool', 'max-pool gradient', 'global average pool', 'global average pool gradient'];
  for (let i = 0; i < names.length; i++) {
    const problem = compare(names[i], got[i], want[i]);
    if (problem) return problem;
  }
  return null;
}
