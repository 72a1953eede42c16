import type { KernelExports } from './kernelModule';

const PAGE_BYTES = 65536;
const ALIGN_BYTES = 64;
/** Room kept between the per-call regions' high-water mark and the resident arrays, for calls larger than any seen yet. */
const RESIDENT_MARGIN_BYTES = 64 << 20;

/**
 * The wasm instance's linear memory, handed out as consecutive regions per call. Memory grows to the
 * largest call seen and is then reused, so steady-state training allocates nothing in wasm.
 *
 * With a reservation (`reserve`), memory is grown once to its full size, which costs address space,
 * not RAM (pages are mapped when first written), and never again: growing would detach every array
 * over the old buffer. Resident arrays (`allocate`) are then taken from the top down and kept for
 * the instance's life; the per-call regions stay below them.
 */
export class WasmArena {
  private readonly base: number;
  private end: number;
  private f32: Float32Array;
  private i32: Int32Array;
  /** The lowest byte of the resident arrays (memory's end when there are none); 0 before `reserve`. */
  private residentStart = 0;
  private highWater: number;

  constructor(private readonly kernels: KernelExports) {
    this.base = alignUp(kernels.heapBase(), ALIGN_BYTES);
    this.end = this.base;
    this.highWater = this.base;
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

  /**
   * Grows memory to `bytes` once, for resident arrays; false when the engine refuses (address space
   * or a memory limit), and then there are none. Call it before any array over this memory is kept.
   */
  reserve(bytes: number): boolean {
    if (this.residentStart !== 0) return true;
    const memory = this.kernels.memory;
    const pages = Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES);
    try {
      if (pages > 0) memory.grow(pages);
    } catch {
      return false;
    }
    this.residentStart = memory.buffer.byteLength;
    this.ensure(this.end);
    return true;
  }

  /**
   * A zero-filled array of `length` floats in reserved memory, kept for good (never freed: layers
   * keep and reuse theirs), or null without a reservation or room for it above the per-call regions.
   */
  allocate(length: number): Float32Array | null {
    const start = Math.floor((this.residentStart - length * 4) / ALIGN_BYTES) * ALIGN_BYTES;
    if (this.residentStart === 0 || start < this.highWater + RESIDENT_MARGIN_BYTES) return null;
    this.residentStart = start;
    return new Float32Array(this.kernels.memory.buffer, start, length);
  }

  /** `array`'s byte address when it lies in this memory (an `allocate` array or a view of one), else -1. */
  addressOf(array: Float32Array | Int32Array): number {
    return this.residentStart !== 0 && array.buffer === this.kernels.memory.buffer ? array.byteOffset : -1;
  }

  private ensure(at: number): void {
    const memory = this.kernels.memory;
    this.highWater = Math.max(this.highWater, at);
    if (this.residentStart !== 0 && at > this.residentStart) {
      throw new RangeError(`wasm kernels: a call needs ${at} bytes of workspace, but resident arrays hold memory above ${this.residentStart}; reserve more`);
    }
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
