import { Tensor } from '@convoy/tensor';
import { LayerOutputs } from '../buffers';
import { Module } from '../module';
import { checkOptions } from '../options';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * erfc(x) with fractional error below 1.2e-7 everywhere (a Chebyshev fit of erfc's asymptotic
 * form, Press et al., Numerical Recipes §6.2): float32 accuracy, including far into the tails
 * where 1 - erf(x) would cancel to nothing.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
      t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? r : 2 - r;
}

/** erf(x) = 1 - erfc(x). */
export function erf(x: number): number {
  return 1 - erfc(x);
}

/**
 * torch.nn.GELU() in its exact form: x·Φ(x), Φ the standard normal CDF = erfc(−x/√2)/2 (computed
 * through erfc so that x·Φ(x) keeps its relative accuracy for negative x). Gradient Φ(x) + x·φ(x).
 *
 * A training forward also stores that gradient's slope per element (float32), while Φ(x) is at
 * hand: backward is then one multiply per element instead of a second erfc and two exponentials,
 * (recomputing them in backward made GELU cost more than the convolutions of airbench94's step).
 * After an eval forward, backward computes the slopes from the input.
 */
export class GELU extends Module {
  readonly kind = 'GELU';
  private readonly outputs = new LayerOutputs(() => this.label);
  private input: Tensor | null = null;
  private slopes = new Float32Array(0);
  private slopesFresh = false;

  constructor(options: Record<string, never> = {}) {
    super();
    checkOptions('GELU', options, []);
  }

  forward(x: Tensor): Tensor {
    const out = this.outputs.output(x.shape);
    const xd = x.data;
    const od = out.data;
    this.input = x;
    this.slopesFresh = this.training;
    if (!this.training) {
      for (let i = 0; i < xd.length; i++) {
        const v = xd[i];
        od[i] = v * 0.5 * erfc(-v * INV_SQRT2);
      }
      return out;
    }
    const slopes = this.slopeBuffer(xd.length);
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i];
      const cdf = 0.5 * erfc(-v * INV_SQRT2);
      od[i] = v * cdf;
      slopes[i] = cdf + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
    }
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    const gradIn = this.outputs.gradInput(gradOut, gradOut.shape);
    const dy = gradOut.data;
    const dx = gradIn.data;
    if (!this.slopesFresh) {
      const x = (this.input as Tensor).data;
      const slopes = this.slopeBuffer(x.length);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        slopes[i] = 0.5 * erfc(-v * INV_SQRT2) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      }
      this.slopesFresh = true;
    }
    const slopes = this.slopes;
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * slopes[i];
    return gradIn;
  }

  private slopeBuffer(size: number): Float32Array {
    if (this.slopes.length !== size) this.slopes = new Float32Array(size);
    return this.slopes;
  }
}
