import { Rng, Tensor } from '@convoy/tensor';
import { ReusableTensor } from '../buffers';
import { checkGradOut } from '../checks';
import { Module } from '../module';
import { checkFiniteNumber, checkOptions } from '../options';

export interface DropoutOptions {
  /** Key of this layer's masks; default a hash of the layer's dotted name (layerKey). */
  key?: number;
}

/**
 * FNV-1a (32 bit) of a layer's dotted name: a stable number that tells two dropout layers' masks
 * apart. tools/pytorch/model_file.py computes the same.
 */
export function layerKey(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * torch.nn.Dropout(p): in training, each element is zeroed with probability p and the rest scaled
 * by 1/(1 − p) (inverted dropout); in eval, the identity. The masks are drawn from
 * `Rng.forKey(seed, step, sample, key)` per image, `sample` being the image's position in the global
 * batch (see StepContext), one uniform per element in order: whichever thread or host holds an image
 * draws the same mask for it.
 */
export class Dropout extends Module {
  readonly kind = 'Dropout';
  readonly p: number;
  private readonly fixedKey: number | undefined;
  private readonly output = new ReusableTensor();
  private readonly mask = new ReusableTensor();
  private readonly gradInput = new ReusableTensor();
  private lastOutput: Tensor | null = null;
  private masked = false;

  constructor(p = 0.5, options: DropoutOptions = {}) {
    super();
    checkOptions('Dropout', options, ['key']);
    this.p = checkFiniteNumber('Dropout: p', p, 0);
    if (this.p > 1) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    if (options.key !== undefined && (!Number.isInteger(options.key) || options.key < 0 || options.key >= 2 ** 32)) {
      throw new RangeError(`Dropout: key must be an integer in [0, 2^32), got ${JSON.stringify(options.key)}`);
    }
    this.fixedKey = options.key;
  }

  get key(): number {
    return this.fixedKey ?? layerKey(this.name);
  }

  forward(x: Tensor): Tensor {
    this.masked = this.training && this.p > 0;
    if (!this.masked) {
      this.lastOutput = x;
      return x;
    }
    const ctx = this.stepContext;
    if (!ctx) {
      throw new Error(`${this.label}: training needs the step's seed and number for its masks; call model.setStepContext({ seed, step }) before forward (or model.eval())`);
    }
    const out = this.output.get(x.shape);
    const mask = this.mask.get(x.shape);
    const n = x.shape[0];
    const perSample = x.size / n;
    const keep = this.p < 1 ? 1 / (1 - this.p) : 0;
    const offset = ctx.batchOffset ?? 0;
    const key = this.key;
    const xd = x.data;
    const od = out.data;
    const md = mask.data;
    for (let i = 0; i < n; i++) {
      const rng = Rng.forKey(ctx.seed, ctx.step, offset + i, key);
      const base = i * perSample;
      for (let j = 0; j < perSample; j++) {
        const m = rng.uniform() < this.p ? 0 : keep;
        md[base + j] = m;
        od[base + j] = xd[base + j] * m;
      }
    }
    this.lastOutput = out;
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    if (!this.masked) return gradOut;
    const gradIn = this.gradInput.get(gradOut.shape);
    const md = this.mask.get(gradOut.shape).data;
    const dy = gradOut.data;
    const dx = gradIn.data;
    for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * md[i];
    return gradIn;
  }
}
