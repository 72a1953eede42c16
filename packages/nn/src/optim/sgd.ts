import { checkOptions, checkFiniteNumber } from '../options';
import { Optimizer, OptimizerStateOptions, OptimizerStateStore, OptimizerStepArgs, resolveStep, StatefulOptimizer, STATE_OPTION_KEYS } from './optimizer';

export interface SGDOptions extends OptimizerStateOptions {
  /** Default 0 (plain SGD, no state used). */
  momentum?: number;
  /** Nesterov momentum; needs momentum > 0. Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, as torch.optim.SGD). Default 0. */
  weightDecay?: number;
}

/**
 * torch.optim.SGD with dampening 0:
 *   d = g + weightDecay * p
 *   buf = momentum * buf + d        (buf starts at 0, so the first step gives buf = d, as PyTorch)
 *   d = nesterov ? d + momentum * buf : buf
 *   p = p - lr * d
 * State: `momentumBuffer`. A step's `momentum` lets a one-cycle schedule vary momentum per step.
 */
export class SGD extends StatefulOptimizer implements Optimizer {
  readonly kind = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(options: SGDOptions) {
    super();
    checkOptions('SGD', options, [...STATE_OPTION_KEYS, 'momentum', 'nesterov', 'weightDecay']);
    this.momentum = checkFiniteNumber('SGD: momentum', options.momentum ?? 0, 0);
    this.weightDecay = checkFiniteNumber('SGD: weightDecay', options.weightDecay ?? 0, 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && this.momentum <= 0) throw new RangeError('SGD: nesterov needs momentum > 0');
    this.store = new OptimizerStateStore('SGD', ['momentumBuffer'], options);
  }

  /** Updates params[start, end). `momentum` and `weightDecay` override the constructor's values for this step. */
  step(args: OptimizerStepArgs): void {
    const { p, g, lr, start, end } = resolveStep('SGD', args);
    const momentum = args.momentum === undefined ? this.momentum : checkFiniteNumber('SGD.step: momentum', args.momentum, 0);
    const wd = args.weightDecay === undefined ? this.weightDecay : checkFiniteNumber('SGD.step: weightDecay', args.weightDecay, 0);
    if (momentum === 0) {
      for (let i = start; i < end; i++) p[i] -= lr * (g[i] + wd * p[i]);
      return;
    }
    const buf = this.store.ensure(p.length).momentumBuffer;
    const nesterov = this.nesterov;
    for (let i = start; i < end; i++) {
      const d = g[i] + wd * p[i];
      buf[i] = momentum * buf[i] + d;
      const b = buf[i]; // the stored float32 value, as PyTorch keeps its buffer in float32
      p[i] -= lr * (nesterov ? d + momentum * b : b);
    }
  }
}
