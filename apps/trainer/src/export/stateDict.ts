import type { Module } from '@convoy/nn';
import type { NamedTensor } from './safetensors';

/** One tensor's place in a flat Float32Array (a checkpoint's parameter or buffer table). */
export interface TensorTableEntry {
  name: string;
  shape: readonly number[];
  offset: number;
  size: number;
}

/** Named tensors laid out in one Float32Array, as a checkpoint stores parameters and buffers. */
export interface TensorTable {
  entries: readonly TensorTableEntry[];
  data: Float32Array;
}

export const NO_TENSORS: TensorTable = { entries: [], data: new Float32Array(0) };

/**
 * Buffers PyTorch keeps as int64 scalars (convoy keeps every buffer as float32 of shape [1]):
 * BatchNorm's count of batches seen.
 */
const INTEGER_SCALAR_BUFFERS = new Set(['num_batches_tracked']);

function leaves(m: Module): Module[] {
  const children = m.childModules();
  return children.length === 0 ? [m] : children.flatMap(leaves);
}

function lookup(table: TensorTable, what: string): Map<string, TensorTableEntry> {
  const byName = new Map<string, TensorTableEntry>();
  for (const e of table.entries) {
    if (byName.has(e.name)) throw new RangeError(`${what} '${e.name}' appears twice`);
    if (e.offset < 0 || e.offset + e.size > table.data.length) throw new RangeError(`${what} '${e.name}' lies outside its ${table.data.length} values`);
    byName.set(e.name, e);
  }
  return byName;
}

/**
 * The `state_dict` of the PyTorch module that tools/pytorch builds for `model` (model_file.py for a
 * layer list, make_fixtures.py for the recipe): every leaf layer's parameters, then its buffers, in
 * the module order PyTorch walks, under convoy's names (which are PyTorch's keys). BatchNorm's
 * `num_batches_tracked` becomes an int64 scalar as PyTorch stores it. The tables must hold exactly
 * the model's tensors, with its shapes; a missing buffer table (a checkpoint from before buffers
 * were stored) is an error only for a model that has buffers.
 */
export function stateDictOf(model: Module, parameters: TensorTable, buffers: TensorTable): NamedTensor[] {
  const params = lookup(parameters, 'parameter');
  const bufs = lookup(buffers, 'buffer');
  const out: NamedTensor[] = [];
  const take = (table: TensorTable, byName: Map<string, TensorTableEntry>, what: string, name: string, shape: readonly number[]): Float32Array => {
    const e = byName.get(name);
    if (!e) throw new RangeError(`the ${what}s hold no '${name}' (they hold ${byName.size === 0 ? 'none' : [...byName.keys()].slice(0, 4).join(', ') + (byName.size > 4 ? ', ...' : '')})`);
    if (e.shape.join() !== shape.join()) throw new RangeError(`${what} '${name}' has shape [${e.shape.join(', ')}], the network's is [${shape.join(', ')}]`);
    byName.delete(name);
    return table.data.subarray(e.offset, e.offset + e.size);
  };
  for (const layer of leaves(model)) {
    for (const p of layer.parameterSpecs()) out.push({ name: p.name, shape: p.shape, data: take(parameters, params, 'parameter', p.name, p.shape) });
    for (const b of layer.bufferSpecs()) {
      const values = take(buffers, bufs, 'buffer', b.name, b.shape);
      if (INTEGER_SCALAR_BUFFERS.has(b.name.slice(b.name.lastIndexOf('.') + 1))) {
        out.push({ name: b.name, shape: [], data: BigInt64Array.of(BigInt(Math.round(values[0]))) });
      } else {
        out.push({ name: b.name, shape: b.shape, data: values });
      }
    }
  }
  const extra = [...params.keys(), ...bufs.keys()];
  if (extra.length > 0) throw new RangeError(`the network has no tensors named ${extra.slice(0, 4).join(', ')}${extra.length > 4 ? ', ...' : ''}`);
  return out;
}
