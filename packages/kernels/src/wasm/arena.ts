import type { KernelExports } from './kernelModule';

const PAGE_BYTES = 65536;
const ALIGN_BYTES = 64;

/**
 * The wasm instance's linear memory, handed out as consecutive regions per call. Memory grows to the
 * largest call seen and is then reused, so steady-state training allocates nothing in wasm.
 */
export class WasmArena {
  private readonly base: number;
  private end: number;
  private f32: Float32Array;
  private i32: Int32Array;

  constructor(private readonly kernels: KernelExports) {
    this.base = alignUp(kernels.heapBase(), ALIGN_BYTES);
    this.end = this.base;
    this.f32 = new Float32Array(kernels.memory.buffer);
    this.i32 = new Int32Array(kernels.memory.buffer);
  }

  /** Lays out regions of the given sizes (in 4-byte elements) from the start of the heap and grows
   *  memory to hold them; returns their byte offsets. Earlier layouts are forgotten. */
  layout(...elementCounts: number[]): number[] {
    this.end = this.base;
    return this.extend(...elementCounts);
  }

  /** Lays out more regions after those of the last `layout`; returns only the new ones' offsets. */
  extend(...elementCounts: number[]): number[] {
    let at = this.end;
    const added: number[] = [];
    for (const count of elementCounts) {
      added.push(at);
      at = alignUp(at + count * 4, ALIGN_BYTES);
    }
    this.end = at;
    this.ensure(at);
    return added;
  }

  private ensure(at: number): void {
    const memory = this.kernels.memory;
    if (at > memory.buffer.byteLength) {
      memory.grow(Math.ceil((at - memory.buffer.byteLength) / PAGE_BYTES));
    }
    if (this.f32.buffer !== memory.buffer) {
      this.f32 = new Float32Array(memory.buffer);
      this.i32 = new Int32Array(memory.buffer);
    }
  }

  /** Copies the first `count` elements of `data` to byte address `offset`. */
  write(offset: number, data: Float32Array | Int32Array, count: number): void {
    const view = data instanceof Float32Array ? this.f32 : this.i32;
    view.set(count === data.length ? data : data.subarray(0, count), offset >> 2);
  }

  /** Copies `count` elements at byte address `offset` into the front of `target`. */
  read(offset: number, target: Float32Array | Int32Array, count: number): void {
    const view = target instanceof Float32Array ? this.f32 : this.i32;
    target.set(view.subarray(offset >> 2, (offset >> 2) + count));
  }

  /** Bytes of linear memory now held. */
  get byteLength(): number {
    return this.kernels.memory.buffer.byteLength;
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
