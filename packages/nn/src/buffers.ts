import type { KernelBackend } from '@convoy/kernels';
import { shapeSize, shapesEqual, Tensor } from '@convoy/tensor';
import { checkGradOut } from './checks';

/**
 * A layer-owned output buffer that grows with the largest batch seen and is reused otherwise:
 * a smaller batch (the last partial batch, evaluation) gets a view over the front of the same
 * storage, so steady-state training allocates nothing but, on a shape change, one small view.
 */
export class ReusableTensor {
  private storage: Float32Array = new Float32Array(0);
  private view: Tensor | null = null;

  /**
   * `backend`: the kernel backend the owning layer runs (read when storage grows, so a layer may
   * change it); its `allocate` gives storage its kernels use in place (KernelBackend.allocate).
   */
  constructor(private readonly backend?: () => KernelBackend | undefined) {}

  get(shape: number[]): Tensor {
    if (this.view && shapesEqual(this.view.shape, shape)) return this.view;
    const size = shapeSize(shape);
    if (size > this.storage.length) this.storage = this.backend?.()?.allocate?.(size) ?? new Float32Array(size);
    this.view = new Tensor(this.storage.subarray(0, size), shape);
    return this.view;
  }
}

/** The same for integer side data (max-pool argmax). */
export class ReusableInt32 {
  private storage = new Int32Array(0);
  private view: Int32Array | null = null;

  get(size: number): Int32Array {
    if (this.view && this.view.length === size) return this.view;
    if (size > this.storage.length) this.storage = new Int32Array(size);
    this.view = this.storage.subarray(0, size);
    return this.view;
  }
}

/** Int32Array views over Float32Arrays, remade only when a slot's array changes (no allocation per step). */
export class Int32Views {
  private readonly floats: (Float32Array | null)[] = [null, null, null, null];
  private readonly ints: Int32Array[] = [];

  of(slot: number, data: Float32Array): Int32Array {
    if (this.floats[slot] !== data) {
      this.floats[slot] = data;
      this.ints[slot] = new Int32Array(data.buffer, data.byteOffset, data.length);
    }
    return this.ints[slot];
  }
}

/**
 * What a layer's two passes return, in reused storage: forward's output and backward's input
 * gradient, and the output forward last returned, whose shape backward's gradOut must have (the
 * bookkeeping each layer that owns its output would otherwise repeat).
 */
export class LayerOutputs {
  private readonly forwardOutputs = new ReusableTensor();
  private readonly gradInputs = new ReusableTensor();
  private lastOutput: Tensor | null = null;

  /** `label` names the layer in errors (read when one is thrown: a layer is named after it is built). */
  constructor(private readonly label: () => string) {}

  /** forward's output buffer of `shape`, kept as what backward checks gradOut against. */
  output(shape: number[]): Tensor {
    this.lastOutput = this.forwardOutputs.get(shape);
    return this.lastOutput;
  }

  /** backward's input-gradient buffer of `shape`, once gradOut has the shape of forward's output. */
  gradInput(gradOut: Tensor, shape: number[]): Tensor {
    checkGradOut(this.label(), gradOut, this.lastOutput);
    return this.gradInputs.get(shape);
  }

  /** The output forward last returned (after gradInput has checked that there is one). */
  get last(): Tensor {
    return this.lastOutput as Tensor;
  }
}
