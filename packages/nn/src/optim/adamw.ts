import { checkFiniteNumber, checkOptions } from '../options';
import { Optimizer, OptimizerStateOptions, OptimizerStateStore, OptimizerStepArgs, resolveStep, StatefulOptimizer, STATE_OPTION_KEYS } from './optimizer';

export interface AdamWOptions extends OptimizerStateOptions {
  /** Defaults as PyTorch: beta1 0.9, beta2 0.999, eps 1e-8, weightDecay 0.01. */
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * torch.optim.AdamW (amsgrad off), decoupled weight decay:
 *   p = p * (1 - lr * weightDecay)
 *   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
 *   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State: `expAvg` (m), `expAvgSq` (v). `step` (t) is the 1-based step count.
 */
export class AdamW extends StatefulOptimizer implements Optimizer {
  readonly kind = 'AdamW';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(options: AdamWOptions) {
    super();
    checkOptions('AdamW', options, [...STATE_OPTION_KEYS, 'beta1', 'beta2', 'eps', 'weightDecay']);
    this.beta1 = checkFiniteNumber('AdamW: beta1', options.beta1 ?? 0.9, 0);
    this.beta2 = checkFiniteNumber('AdamW: beta2', options.beta2 ?? 0.999, 0);
    if (this.beta1 >= 1 || this.beta2 >= 1) throw new RangeError(`AdamW: betas must be in [0, 1), got ${this.beta1}, ${this.beta2}`);
    this.eps = checkFiniteNumber('AdamW: eps', options.eps ?? 1e-8, 0);
    this.weightDecay = checkFiniteNumber('AdamW: weightDecay', options.weightDecay ?? 0.01, 0);
    this.store = new OptimizerStateStore('AdamW', ['expAvg', 'expAvgSq'], options);
  }

  step(args: OptimizerStepArgs): void {
    const { p, g, lr, start, end } = resolveStep('AdamW', args);
    const { beta1, beta2, eps } = this;
    const { expAvg: m, expAvgSq: v } = this.store.ensure(p.length);
    const weightDecay = args.weightDecay === undefined ? this.weightDecay : checkFiniteNumber('AdamW.step: weightDecay', args.weightDecay, 0);
    const decay = 1 - lr * weightDecay;
    const stepSize = lr / (1 - beta1 ** args.step);
    const correction2Sqrt = Math.sqrt(1 - beta2 ** args.step);
    for (let i = start; i < end; i++) {
      const gi = g[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      // read back the stored float32 values, as PyTorch computes with its float32 state
      const mi = m[i];
      const vi = v[i];
      p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / correction2Sqrt + eps);
    }
  }
}
