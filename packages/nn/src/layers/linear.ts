import { formatShape, Tensor } from '@convoy/tensor';
import { checkFiniteInput } from '../checks';
import { WeightedModule, type FrozenParameters, type WeightInit } from './weighted';
import { checkBoolean, checkFrozen, checkOptions, checkPositiveInteger, checkWeightInit } from '../options';

export interface LinearOptions {
  /** Default true. */
  bias?: boolean;
  /** Check every input for NaN/Infinity (default true). */
  checkFinite?: boolean;
  /** How the weight starts: PyTorch's draw (default) or identity (see WeightInit). */
  init?: 'default' | 'identity';
  /** Parameters that never train (see FrozenParameters); default none. */
  frozen?: FrozenParameters;
}

/**
 * y = x W^T + b as torch.nn.Linear: weight [outFeatures, inFeatures]. Plain TS loops: in the recipe
 * network this layer is tiny (128 x 10), far below the cost of any convolution.
 */
export class Linear extends WeightedModule {
  readonly kind = 'Linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;
  readonly init: WeightInit;
  readonly frozen: FrozenParameters;
  private readonly checkFinite: boolean;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    checkOptions('Linear', options, ['bias', 'checkFinite', 'init', 'frozen']);
    this.inFeatures = checkPositiveInteger('Linear: inFeatures', inFeatures);
    this.outFeatures = checkPositiveInteger('Linear: outFeatures', outFeatures);
    this.hasBias = checkBoolean('Linear: bias', options.bias, true);
    this.init = checkWeightInit('Linear', options.init, ['default', 'identity']);
    this.frozen = checkFrozen('Linear', options.frozen);
    this.checkFinite = options.checkFinite ?? true;
  }

  get fanIn(): number {
    return this.inFeatures;
  }

  protected weightShape(): number[] {
    return [this.outFeatures, this.inFeatures];
  }

  forward(x: Tensor): Tensor {
    const { weight } = this.bound();
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures || x.shape[0] < 1) {
      throw new RangeError(`${this.label}: expected input of shape [N, ${this.inFeatures}], got ${formatShape(x.shape)} (add a Flatten before a Linear on images)`);
    }
    if (this.checkFinite) checkFiniteInput(this.label, x);
    const n = x.shape[0];
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    const out = this.output.get([n, outF]);
    const xd = x.data;
    const wd = weight.data;
    const bd = this.bias ? this.bias.data : null;
    const od = out.data;
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < outF; o++) {
        let s = bd ? bd[o] : 0;
        const wBase = o * inF;
        const xBase = i * inF;
        for (let k = 0; k < inF; k++) s += xd[xBase + k] * wd[wBase + k];
        od[i * outF + o] = s;
      }
    }
    return this.keepForBackward(x, out);
  }

  backward(gradOut: Tensor): Tensor {
    const { weight, gradWeight, x } = this.backwardState(gradOut);
    const n = x.shape[0];
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    const gy = gradOut.data;
    const xd = x.data;
    const wd = weight.data;
    // db[o] = sum_i gy[i, o] (overwritten, not accumulated)
    if (this.gradBias) {
      const gb = this.gradBias.data;
      for (let o = 0; o < outF; o++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += gy[i * outF + o];
        gb[o] = s;
      }
    }
    // One pass over gy gives both dW[o, k] = sum_i gy[i, o] x[i, k] and dX[i, k] = sum_o gy[i, o] W[o, k]:
    // each sum still runs in ascending i (dW) and ascending o (dX), so the numbers are those of two passes.
    const gw = gradWeight.data;
    gw.fill(0);
    const gradIn = this.gradInput.get(x.shape);
    const gx = gradIn.data;
    gx.fill(0);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < outF; o++) {
        const g = gy[i * outF + o];
        if (g === 0) continue;
        const wBase = o * inF;
        const xBase = i * inF;
        for (let k = 0; k < inF; k++) {
          gw[wBase + k] += g * xd[xBase + k];
          gx[xBase + k] += g * wd[wBase + k];
        }
      }
    }
    return gradIn;
  }
}
