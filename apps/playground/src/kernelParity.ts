import { conv2dOutputHeight, conv2dOutputWidth, selectBackend, type Conv2dGeometry, type KernelBackend } from '@convoy/kernels';
import { relativeError, Rng } from '@convoy/tensor';

export interface ParityRow {
  op: string;
  relativeError: number;
  ok: boolean;
}

/** Relative error (max |difference| / max |value|) the kernels' own parity tests accept. */
export const PARITY_TOLERANCE = 1e-4;

/**
 * The selected backend against the WebAssembly one in this browser, on a 3x3 conv of the recipe's
 * second block (batch 4, 32 -> 64 channels at 16 x 16): forward, input gradient, weight and bias
 * gradients. gpu.js runs on whatever WebGL the browser offers (or its CPU fallback), so this is how
 * a visitor sees that its numbers are the wasm kernels' before training with it.
 */
export function checkAgainstWasm(name: string): { backend: string; rows: ParityRow[] } {
  const candidate = selectBackend(name).backend;
  const wasm = selectBackend('wasm').backend;
  const g: Conv2dGeometry = {
    batch: 4, inChannels: 32, inHeight: 16, inWidth: 16, outChannels: 64, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1,
  };
  const rng = new Rng(2026);
  const random = (n: number) => Float32Array.from({ length: n }, () => rng.uniformRange(-1, 1));
  const outSize = g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
  const x = random(g.batch * g.inChannels * g.inHeight * g.inWidth);
  const w = random(g.outChannels * g.inChannels * 9);
  const b = random(g.outChannels);
  const dy = random(outSize);
  const run = (backend: KernelBackend) => {
    const y = new Float32Array(outSize);
    const dx = new Float32Array(x.length);
    const dw = new Float32Array(w.length);
    const db = new Float32Array(b.length);
    backend.conv2d(g, x, w, b, y);
    backend.conv2dBackwardInput(g, dy, w, dx);
    backend.conv2dBackwardWeights(g, x, dy, dw, db);
    return { forward: y, 'input gradient': dx, 'weight gradient': dw, 'bias gradient': db };
  };
  const expected = run(wasm);
  const actual = run(candidate);
  const rows = Object.keys(expected).map((op) => {
    const error = relativeError(actual[op as keyof typeof actual], expected[op as keyof typeof expected]);
    return { op, relativeError: error, ok: error <= PARITY_TOLERANCE };
  });
  candidate.dispose?.();
  return { backend: candidate.name, rows };
}
