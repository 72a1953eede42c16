import { DNNL, MEMORY_DESC_BYTES, OP_DESC_BYTES, type Dnnl, type Pointer, check } from './dnnl';

/** An NCHW (or OIHW, or 1-D) float32 memory descriptor: the layout at the backend's boundary. */
export function plainDesc(dnnl: Dnnl, dims: number[]): Uint8Array {
  return memoryDesc(dnnl, dims, dims.length === 1 ? DNNL.tag.x : DNNL.tag.nchw);
}

/**
 * A descriptor that lets the primitive choose its layout (`format_tag_any`), of float32 or (for the
 * bf16 precision's inputs) bfloat16 elements.
 */
export function anyDesc(dnnl: Dnnl, dims: number[], dataType: number = DNNL.f32): Uint8Array {
  return memoryDesc(dnnl, dims, DNNL.tag.any, dataType);
}

function memoryDesc(dnnl: Dnnl, dims: number[], tag: number, dataType: number = DNNL.f32): Uint8Array {
  const md = new Uint8Array(MEMORY_DESC_BYTES);
  check(dnnl.memory_desc_init_by_tag(md, dims.length, BigInt64Array.from(dims.map(BigInt)), dataType, tag), `memory_desc_init_by_tag [${dims.join(',')}]`);
  return md;
}

export function dims64(values: number[]): BigInt64Array {
  return BigInt64Array.from(values.map(BigInt));
}

export function newOpDesc(): Uint8Array {
  return new Uint8Array(OP_DESC_BYTES);
}

/** A primitive descriptor from an operation descriptor, optionally with a fused ReLU post-op. */
export function createPrimitiveDesc(dnnl: Dnnl, opDesc: Uint8Array, { relu = false, hint = null as Pointer | null } = {}): Pointer {
  let attr: Pointer | null = null;
  let postOps: Pointer | null = null;
  try {
    if (relu) {
      const attrOut: Array<Pointer | null> = [null];
      check(dnnl.primitive_attr_create(attrOut), 'primitive_attr_create');
      attr = attrOut[0];
      const postOut: Array<Pointer | null> = [null];
      check(dnnl.post_ops_create(postOut), 'post_ops_create');
      postOps = postOut[0];
      // oneDNN's ReLU is x > 0 ? x : alpha * x. With alpha = -0 a negative x (or -0) gives +0, as the
      // contract's ReLU on the float bits; alpha = +0 would give -0.
      check(dnnl.post_ops_append_eltwise(postOps, 1, DNNL.alg.eltwiseRelu, -0, 0), 'post_ops_append_eltwise(relu)');
      check(dnnl.primitive_attr_set_post_ops(attr, postOps), 'primitive_attr_set_post_ops');
    }
    const pdOut: Array<Pointer | null> = [null];
    check(dnnl.primitive_desc_create(pdOut, opDesc, attr, dnnl.engine, hint), 'primitive_desc_create');
    return pdOut[0] as Pointer;
  } finally {
    if (postOps !== null) dnnl.post_ops_destroy(postOps);
    if (attr !== null) dnnl.primitive_attr_destroy(attr);
  }
}

/** The implementation oneDNN chose (e.g. `jit:avx512_core`), for reports. */
export function implementationName(dnnl: Dnnl, pd: Pointer): string {
  const out: Array<string | null> = [null];
  return dnnl.primitive_desc_query_str(pd, DNNL.query.implInfoStr, 0, out) === DNNL.success ? String(out[0]) : 'unknown';
}

/** One execution argument: its DNNL_ARG_* and the layout the caller's array has (plain NCHW/OIHW). */
export interface ArgSpec {
  arg: number;
  md: Uint8Array | Pointer;
  /** Written by the primitive (reordered back to the caller's layout after it runs). */
  output?: boolean;
}

/** A reorder between the caller's layout and the one the primitive chose, into (or out of) a region of the scratch. */
interface Reorder {
  index: number;
  output: boolean;
  primitive: Primitive;
}

/** Regions start on 64-byte boundaries (oneDNN's kernels read whole cache lines). */
const REGION_ALIGN_FLOATS = 16;

/**
 * The buffers the reorders of a backend's primitives convert into and out of: one storage, grown to
 * the most any one primitive needs at once and shared by all of them. A primitive uses its reordered
 * copies only inside execute(), and a backend runs one primitive at a time (one per thread), so a
 * buffer per primitive and shape would only hold memory: the sum over every primitive ever made
 * (each shape of each op, forward and backward, evaluation's batch sizes too) where the largest one
 * is enough.
 */
export class ReorderScratch {
  private storage = new Float32Array(0);

  /** Floats held now. */
  get length(): number {
    return this.storage.length;
  }

  /**
   * Consecutive regions of the given lengths (in floats), the storage grown to hold them. `previous`
   * (the same lengths' regions from an earlier call) is returned as is while the storage has not
   * been replaced, so a primitive's steady-state calls allocate nothing.
   */
  regions(lengths: readonly number[], previous: readonly Float32Array[]): readonly Float32Array[] {
    const offsets: number[] = [];
    let end = 0;
    for (const length of lengths) {
      offsets.push(end);
      end += Math.ceil(length / REGION_ALIGN_FLOATS) * REGION_ALIGN_FLOATS;
    }
    if (end > this.storage.length) this.storage = new Float32Array(end);
    if (previous.length === lengths.length && previous.every((view) => view.buffer === this.storage.buffer)) return previous;
    return lengths.map((length, i) => this.storage.subarray(offsets[i], offsets[i] + length));
  }
}

/**
 * A primitive with one memory object per execution argument, created once per shape. Each call
 * points the memory objects at the caller's arrays (zero copy: koffi passes a typed array's own
 * storage, SharedArrayBuffers included) and executes synchronously; the arrays are referenced by
 * the caller for the whole call, and no handle is used after it returns. Where the primitive
 * descriptor chose another layout for an argument (created from `format_tag_any`: oneDNN's blocked
 * layouts), a cached reorder primitive converts into (or, for outputs, out of) a region of the
 * backend's ReorderScratch, bound on each call.
 */
export class Primitive {
  private readonly primitive: Pointer;
  private readonly memories: Pointer[];
  private readonly args: Uint8Array;
  private readonly reorders: Reorder[] = [];
  /** Per caller array: true where the primitive reads or writes it in place, false where it goes through a reorder. */
  private readonly direct: boolean[];
  /** The reorders' regions of the scratch, as last handed out. */
  private regions: readonly Float32Array[] = [];
  private readonly reorderFloats: number[] = [];
  readonly implementation: string;

  /** `scratch`: where reordered arguments live during a call; a backend passes one for all its primitives. */
  constructor(
    private readonly dnnl: Dnnl,
    readonly pd: Pointer,
    specs: ArgSpec[],
    private readonly scratch: ReorderScratch = new ReorderScratch(),
  ) {
    this.implementation = implementationName(dnnl, pd);
    const primOut: Array<Pointer | null> = [null];
    check(dnnl.primitive_create(primOut, pd), 'primitive_create');
    this.primitive = primOut[0] as Pointer;
    this.memories = [];
    this.direct = [];
    this.args = new Uint8Array(16 * specs.length);
    const view = new DataView(this.args.buffer);
    specs.forEach(({ arg, md, output = false }, i) => {
      const chosen = dnnl.primitive_desc_query_md(pd, DNNL.query.execArgMd, arg) as Pointer | null;
      const reordered = chosen !== null && chosen !== 0n && dnnl.memory_desc_equal(chosen, md) === 0;
      const memOut: Array<Pointer | null> = [null];
      check(dnnl.memory_create(memOut, reordered ? chosen : md, dnnl.engine, null), 'memory_create');
      this.memories.push(memOut[0] as Pointer);
      view.setInt32(16 * i, arg, true);
      view.setBigUint64(16 * i + 8, BigInt.asUintN(64, memOut[0] as Pointer), true);
      this.direct.push(!reordered);
      if (reordered) {
        const floats = Math.ceil(Number(dnnl.memory_desc_get_size(chosen)) / 4);
        const [from, to] = output ? [chosen, md] : [md, chosen];
        const rpdOut: Array<Pointer | null> = [null];
        check(dnnl.reorder_primitive_desc_create(rpdOut, from, dnnl.engine, to, dnnl.engine, null), 'reorder_primitive_desc_create');
        const primitive = new Primitive(dnnl, rpdOut[0] as Pointer, [{ arg: DNNL.arg.from, md: from }, { arg: DNNL.arg.to, md: to, output: true }]);
        this.reorders.push({ index: i, output, primitive });
        this.reorderFloats.push(floats);
      }
    });
  }

  execute(stream: Pointer, buffers: ArrayBufferView[]): void {
    if (buffers.length !== this.memories.length) throw new Error(`primitive takes ${this.memories.length} arrays, got ${buffers.length}`);
    const reorders = this.reorders;
    if (reorders.length > 0) {
      this.regions = this.scratch.regions(this.reorderFloats, this.regions);
      reorders.forEach((r, k) => check(this.dnnl.memory_set_data_handle(this.memories[r.index], this.regions[k]), 'memory_set_data_handle'));
    }
    reorders.forEach((r, k) => {
      if (!r.output) r.primitive.execute(stream, [buffers[r.index], this.regions[k]]);
    });
    for (let i = 0; i < buffers.length; i++) {
      if (!this.direct[i]) continue;
      const buffer = buffers[i];
      // Reading .buffer moves a small typed array's storage off V8's heap, where GC cannot move it.
      void buffer.buffer;
      check(this.dnnl.memory_set_data_handle(this.memories[i], buffer), 'memory_set_data_handle');
    }
    check(this.dnnl.primitive_execute(this.primitive, stream, buffers.length, this.args), `primitive_execute (${this.implementation})`);
    check(this.dnnl.stream_wait(stream), 'stream_wait');
    reorders.forEach((r, k) => {
      if (r.output) r.primitive.execute(stream, [this.regions[k], buffers[r.index]]);
    });
  }

  dispose(): void {
    for (const r of this.reorders) r.primitive.dispose();
    for (const memory of this.memories) this.dnnl.memory_destroy(memory);
    this.dnnl.primitive_destroy(this.primitive);
    this.dnnl.primitive_desc_destroy(this.pd);
  }
}
