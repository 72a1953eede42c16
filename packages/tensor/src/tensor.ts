import { formatShape, Shape, shapeSize, validateShape } from './shape';

/**
 * A dense, contiguous, row-major float32 tensor (images are NCHW). `data` may be a view into a
 * larger buffer (an arena, a shared batch buffer): Tensor never copies unless asked to (`clone`).
 */
export class Tensor {
  readonly shape: number[];
  readonly data: Float32Array;

  constructor(data: Float32Array, shape: Shape) {
    validateShape(shape);
    const size = shapeSize(shape);
    if (!(data instanceof Float32Array)) {
      throw new TypeError(`Tensor: data must be a Float32Array, got ${Object.prototype.toString.call(data)}`);
    }
    if (data.length !== size) {
      throw new RangeError(`Tensor: shape ${formatShape(shape)} needs ${size} elements, data has ${data.length}`);
    }
    this.data = data;
    this.shape = shape.slice();
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  static zeros(shape: Shape): Tensor {
    validateShape(shape);
    return new Tensor(new Float32Array(shapeSize(shape)), shape);
  }

  static full(shape: Shape, value: number): Tensor {
    const t = Tensor.zeros(shape);
    t.data.fill(value);
    return t;
  }

  /** Wraps a Float32Array (no copy) or copies a plain number array into a new tensor. */
  static from(data: Float32Array | ArrayLike<number>, shape: Shape): Tensor {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    return new Tensor(arr, shape);
  }

  /** A view with a new shape over the same data; one dimension may be -1 (inferred). */
  reshape(shape: Shape): Tensor {
    const inferred = shape.filter((d) => d === -1).length;
    if (inferred > 1) throw new RangeError(`reshape: at most one dimension may be -1, got ${formatShape(shape)}`);
    let resolved: number[] = shape.slice();
    if (inferred === 1) {
      const known = shapeSize(shape.filter((d) => d !== -1));
      if (known === 0 || this.size % known !== 0) {
        throw new RangeError(`reshape: cannot view ${formatShape(this.shape)} (${this.size} elements) as ${formatShape(shape)}`);
      }
      resolved = shape.map((d) => (d === -1 ? this.size / known : d));
    }
    validateShape(resolved, 'reshape');
    if (shapeSize(resolved) !== this.size) {
      throw new RangeError(`reshape: cannot view ${formatShape(this.shape)} (${this.size} elements) as ${formatShape(shape)}`);
    }
    return new Tensor(this.data, resolved);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Element at a full multi-index (bounds-checked; for tests and debugging, not hot loops). */
  get(...index: number[]): number {
    return this.data[this.flatIndex(index)];
  }

  set(value: number, ...index: number[]): void {
    this.data[this.flatIndex(index)] = value;
  }

  private flatIndex(index: number[]): number {
    if (index.length !== this.shape.length) {
      throw new RangeError(`Tensor ${formatShape(this.shape)}: index [${index.join(', ')}] needs ${this.shape.length} coordinates`);
    }
    let flat = 0;
    for (let i = 0; i < index.length; i++) {
      const k = index[i];
      if (!Number.isInteger(k) || k < 0 || k >= this.shape[i]) {
        throw new RangeError(`Tensor ${formatShape(this.shape)}: index [${index.join(', ')}] is out of bounds`);
      }
      flat = flat * this.shape[i] + k;
    }
    return flat;
  }

  toString(): string {
    return `Tensor${formatShape(this.shape)}`;
  }
}
