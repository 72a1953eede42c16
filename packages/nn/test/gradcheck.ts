import { relativeError, Rng, Tensor } from '@convoy/tensor';
import { createParameters, Module } from '../src';
import { forward64, params64, Value64 } from './float64Reference';

/**
 * Central finite differences of an independent float64 forward pass (float64Reference.ts) against
 * the module's float32 backward. In float64 a tiny step (1e-6) has no rounding noise to speak of
 * and almost never crosses a kink (a ReLU sign change or a max-pool winner change); a coordinate
 * whose left and right slopes still disagree straddles one and is counted and skipped (callers
 * bound how many may be). The float32 forward is compared with the float64 one as well.
 */
export interface GradCheckResult {
  /** max |numeric - analytic| / max |analytic| per tensor, worst tensor. */
  worst: number;
  worstName: string;
  /** max |forward32 - forward64| / max |forward64|. */
  forwardError: number;
  checked: number;
  skipped: number;
}

export interface GradCheckOptions {
  eps?: number;
  /** Check at most this many coordinates per tensor (spread evenly); default all. */
  maxPerTensor?: number;
  seed?: number;
  /** Fills the input; default uniform in [-1, 1). */
  fillInput?: (data: Float32Array, rng: Rng) => void;
}

export function gradCheck(module: Module, inputShape: number[], options: GradCheckOptions = {}): GradCheckResult {
  const eps = options.eps ?? 1e-6;
  const rng = new Rng(options.seed ?? 1);
  const { params, grads } = createParameters(module, { rng });
  const x = Tensor.zeros(inputShape);
  if (options.fillInput) options.fillInput(x.data, rng);
  else for (let i = 0; i < x.size; i++) x.data[i] = 2 * rng.uniform() - 1;

  const y = module.forward(x);
  const y32 = y.data.slice();
  const r = Float64Array.from({ length: y.size }, () => 2 * rng.uniform() - 1);
  const gradInput = module.backward(Tensor.from(Float32Array.from(r), y.shape)).data.slice();
  const paramGrads = grads.data.slice();

  const p64 = params64(params);
  const x64: Value64 = { shape: inputShape, data: Float64Array.from(x.data) };
  const loss64 = (): number => {
    const out = forward64(module, x64, p64).data;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * r[i];
    return s;
  };
  const forwardError = relativeError(y32, forward64(module, x64, p64).data);
  const l0 = loss64();

  const targets: { name: string; data: Float64Array; analytic: Float32Array }[] = [{ name: 'input', data: x64.data, analytic: gradInput }];
  for (const e of params.entries) {
    targets.push({ name: e.name, data: p64.get(e.name) as Float64Array, analytic: paramGrads.subarray(e.offset, e.offset + e.size) });
  }

  let worst = 0;
  let worstName = '';
  let checked = 0;
  let skipped = 0;
  for (const t of targets) {
    const n = t.data.length;
    const stride = options.maxPerTensor && n > options.maxPerTensor ? n / options.maxPerTensor : 1;
    let maxAnalytic = 0;
    for (let k = 0; k < n; k++) maxAnalytic = Math.max(maxAnalytic, Math.abs(t.analytic[k]));
    const scale = Math.max(maxAnalytic, 1e-6);
    let maxDiff = 0;
    for (let f = 0; f < n; f += stride) {
      const i = Math.floor(f);
      const original = t.data[i];
      t.data[i] = original + eps;
      const lPlus = loss64();
      t.data[i] = original - eps;
      const lMinus = loss64();
      t.data[i] = original;
      const right = (lPlus - l0) / eps;
      const left = (l0 - lMinus) / eps;
      if (Math.abs(right - left) > 1e-4 * scale) {
        skipped++;
        continue;
      }
      maxDiff = Math.max(maxDiff, Math.abs((lPlus - lMinus) / (2 * eps) - t.analytic[i]));
      checked++;
    }
    const rel = maxDiff / scale;
    if (rel > worst || worstName === '') {
      worst = rel;
      worstName = t.name;
    }
  }
  return { worst, worstName, forwardError, checked, skipped };
}

/** Values k * spacing in random order: no exact ties, so every max-pool window has one winner. */
export function distinctValues(spacing: number) {
  return (data: Float32Array, rng: Rng): void => {
    const order = Array.from({ length: data.length }, (_, i) => i - data.length / 2);
    rng.shuffle(order);
    for (let i = 0; i < data.length; i++) data[i] = order[i] * spacing;
  };
}
