import { Tensor } from '@convoy/tensor';
import { LayerOutputs } from '../buffers';
import { Module } from '../module';
import { checkOptions } from '../options';

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * The scaled complementary error function erfcx(z) = exp(z²)·erfc(z) for z >= 0, as t·Q(t) with
 * t = 1/(1 + z/2): the form of Numerical Recipes' erfc (Press et al., §6.2), with Q a degree-10
 * polynomial fitted (weighted least squares on Chebyshev nodes, tools/numerics/erfcx_fit.py) to erfcx(z)/t
 * over all of t in (0, 1]. Fractional error below 2e-8 for z up to 26, where erfc leaves float64.
 * Taking exp(−z²) out lets GELU share one exponential between Φ and the density φ.
 */
export function erfcx(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return t * (0.2820948022726448 + t * (0.2820930586690303 + t * (0.24690274641577248 + t * (0.17510725431593438 +
    t * (0.09474758847442181 + t * (-0.06388719079684492 + t * (0.14270531209973075 + t * (-0.46979467304644557 +
    t * (0.5063841072698796 + t * (-0.2407737852338166 + t * 0.04442079542703477))))))))));
}

/**
 * erfc(x) with fractional error below 1e-7 everywhere: float32 accuracy, including far into the
 * tails where 1 - erf(x) would cancel to nothing.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const r = erfcx(z) * Math.exp(-z * z);
  return x >= 0 ? r : 2 - r;
}

/** erf(x) = 1 - erfc(x). */
export function erf(x: number): number {
  return 1 - erfc(x);
}

/**
 * Φ(v) = erfc(−v/√2)/2 from the lower tail 0.5·erfc(|v|/√2) = 0.5·erfcx(|v|/√2)·density where
 * density = exp(−v²/2) (so x·Φ(x) keeps its relative accuracy for negative x).
 */
function normalCdf(v: number, density: number): number {
  const tail = 0.5 * erfcx(Math.abs(v) * INV_SQRT2) * density;
  return v >= 0 ? 1 - tail : tail;
}

/** d/dv of v·Φ(v): Φ(v) + v·φ(v), φ(v) = density/√(2π). */
function geluSlope(v: number, cdf: number, density: number): number {
  return cdf + v * INV_SQRT_2PI * density;
}

/**
 * torch.nn.GELU() in its exact form: x·Φ(x), Φ the standard normal CDF (see normalCdf).
 * Gradient Φ(x) + x·φ(x); one exponential per element serves both Φ(x) and φ(x).
 *
 * A training forward also stores each element's gradient slope (float32) while Φ(x) is at hand,
 * so backward is one multiply per element (recomputing Φ and φ there made GELU cost more than the
 * convolutions of airbench94's step). After an eval forward, backward computes the slopes.
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
        od[i] = v * normalCdf(v, Math.exp(-0.5 * v * v));
      }
      return out;
    }
    const slopes = this.slopeBuffer(xd.length);
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i];
      const density = Math.exp(-0.5 * v * v);
      const cdf = normalCdf(v, density);
      od[i] = v * cdf;
      slopes[i] = geluSlope(v, cdf, density);
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
        const density = Math.exp(-0.5 * v * v);
        slopes[i] = geluSlope(v, normalCdf(v, density), density);
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
