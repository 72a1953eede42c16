import { formatShape, Shape, shapeSize, shapesEqual, validateShape } from './shape';
import { Tensor } from './tensor';

export interface ParameterSpec {
  name: string;
  shape: number[];
}

export interface ArenaEntry {
  name: string;
  shape: number[];
  /** First element of this parameter within the arena (in floats, not bytes). */
  offset: number;
  size: number;
}

export interface ParameterArenaOptions {
  /** Allocate a fresh SharedArrayBuffer (ignored when `buffer` is given). */
  shared?: boolean;
  /** Place the arena inside an existing buffer, e.g. one slot of a shared gradient buffer. */
  buffer?: ArrayBufferLike;
  /** Where the arena starts in `buffer`, in bytes (multiple of 4). Default 0. */
  byteOffset?: number;
}

/**
 * All parameters of a model in one flat Float32Array, with named, shaped views into it. Parameters
 * lie back to back in spec order, so an optimizer or an all-reduce can work on a flat [start, end)
 * range regardless of layer boundaries. A gradient arena is another ParameterArena with the same specs.
 */
export class ParameterArena {
  readonly data: Float32Array;
  readonly entries: readonly ArenaEntry[];
  private readonly byName: Map<string, ArenaEntry>;
  private readonly views = new Map<string, Tensor>();

  constructor(specs: readonly ParameterSpec[], options: ParameterArenaOptions = {}) {
    const entries: ArenaEntry[] = [];
    const byName = new Map<string, ArenaEntry>();
    let offset = 0;
    for (const spec of specs) {
      if (typeof spec?.name !== 'string' || spec.name === '') {
        throw new TypeError(`ParameterArena: every spec needs a non-empty name, got ${JSON.stringify(spec)}`);
      }
      validateShape(spec.shape, `ParameterArena: ${spec.name}`);
      if (byName.has(spec.name)) throw new RangeError(`ParameterArena: duplicate parameter name '${spec.name}'`);
      const entry: ArenaEntry = { name: spec.name, shape: spec.shape.slice(), offset, size: shapeSize(spec.shape) };
      entries.push(entry);
      byName.set(spec.name, entry);
      offset += entry.size;
    }
    const size = offset;
    const unknown = Object.keys(options).filter((k) => !['shared', 'buffer', 'byteOffset'].includes(k));
    if (unknown.length > 0) {
      throw new RangeError(`ParameterArena: unknown option(s) ${unknown.join(', ')}; expected shared, buffer, byteOffset`);
    }
    const byteOffset = options.byteOffset ?? 0;
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RangeError(`ParameterArena: byteOffset must be a non-negative multiple of 4, got ${byteOffset}`);
    }
    if (options.buffer) {
      const needed = byteOffset + size * 4;
      if (options.buffer.byteLength < needed) {
        throw new RangeError(
          `ParameterArena: buffer of ${options.buffer.byteLength} bytes is too small: ${size} parameters at byteOffset ${byteOffset} need ${needed} bytes`,
        );
      }
      this.data = new Float32Array(options.buffer, byteOffset, size);
    } else {
      if (byteOffset !== 0) throw new RangeError('ParameterArena: byteOffset needs a buffer');
      this.data = options.shared ? new Float32Array(new SharedArrayBuffer(size * 4)) : new Float32Array(size);
    }
    this.entries = entries;
    this.byName = byName;
  }

  /** Number of floats needed by these specs (bytes = 4x): size a shared buffer of k slots with it. */
  static sizeOf(specs: readonly ParameterSpec[]): number {
    let n = 0;
    for (const s of specs) n += shapeSize(s.shape);
    return n;
  }

  get size(): number {
    return this.data.length;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  get buffer(): ArrayBufferLike {
    return this.data.buffer;
  }

  get isShared(): boolean {
    return typeof SharedArrayBuffer !== 'undefined' && this.data.buffer instanceof SharedArrayBuffer;
  }

  /** The specs this arena was built from (to build a matching gradient arena). */
  specs(): ParameterSpec[] {
    return this.entries.map((e) => ({ name: e.name, shape: e.shape.slice() }));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ArenaEntry {
    const e = this.byName.get(name);
    if (!e) {
      const known = this.entries.map((x) => x.name);
      const list = known.length > 12 ? `${known.slice(0, 12).join(', ')}, ...` : known.join(', ');
      throw new RangeError(`ParameterArena: no parameter named '${name}'; known: ${list || '(none)'}`);
    }
    return e;
  }

  /** A Tensor view (no copy) of one parameter; the same object on every call. */
  tensor(name: string): Tensor {
    let view = this.views.get(name);
    if (!view) {
      const e = this.entry(name);
      view = new Tensor(this.data.subarray(e.offset, e.offset + e.size), e.shape);
      this.views.set(name, view);
    }
    return view;
  }

  /** Copies values into one parameter, checking the shape when one is given. */
  set(name: string, values: ArrayLike<number>, shape?: Shape): void {
    const e = this.entry(name);
    if (shape && !shapesEqual(shape, e.shape)) {
      throw new RangeError(`${name}: expected shape ${formatShape(e.shape)}, got ${formatShape(shape)}`);
    }
    if (values.length !== e.size) {
      throw new RangeError(`${name}: expected ${e.size} values for shape ${formatShape(e.shape)}, got ${values.length}`);
    }
    this.data.set(values, e.offset);
  }

  zero(): void {
    this.data.fill(0);
  }

  /** Copies all values from an arena with the same layout. */
  copyFrom(other: ParameterArena): void {
    if (other.size !== this.size || other.entries.some((e, i) => e.name !== this.entries[i]?.name)) {
      throw new RangeError(`ParameterArena.copyFrom: layouts differ (${other.size} vs ${this.size} parameters)`);
    }
    this.data.set(other.data);
  }
}
