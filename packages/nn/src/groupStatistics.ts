import { ParameterArena } from '@convoy/tensor';
import { BatchNorm2d } from './layers/batchnorm2d';
import type { Module } from './module';

/**
 * The non-trainable buffers of a model (BatchNorm running statistics) in a fresh arena, bound to the
 * model and reset to their initial values. `shared` puts the arena on a SharedArrayBuffer.
 */
export function createBuffers(model: Module, options: { shared?: boolean } = {}): ParameterArena {
  const buffers = new ParameterArena(model.bufferSpecs(), options.shared ? { shared: true } : {});
  model.bindBuffers(buffers);
  model.resetBuffers();
  return buffers;
}

/**
 * Applies `groups` rows of group statistics (as written by Module.writeGroupStatistics, row k =
 * ghost group k of the global batch) to the model's bound buffers, in group order: the one fixed
 * order that makes the running statistics independent of how the batch was split.
 */
export function applyGroupStatisticsInOrder(model: Module, rows: Float32Array, groups: number): void {
  const size = model.groupStatisticsSize();
  if (rows.length < groups * size) {
    throw new RangeError(`applyGroupStatisticsInOrder: ${groups} groups of ${size} floats need ${groups * size}, got ${rows.length}`);
  }
  for (let g = 0; g < groups; g++) model.applyGroupStatistics(rows.subarray(g * size, (g + 1) * size), 0);
}

/**
 * The ghost-group size of a model's BatchNorm layers (images per group of batch statistics), or 1
 * when it has none: a batch must be split into shards (threads, hosts) on multiples of it. Every
 * BatchNorm of one model must use the same size, so that one split serves them all.
 */
export function ghostGroupSize(model: Module): number {
  const sizes = new Set<number>();
  const visit = (m: Module): void => {
    if (m instanceof BatchNorm2d) sizes.add(m.groupSize);
    for (const child of m.childModules()) visit(child);
  };
  visit(model);
  if (sizes.size > 1) {
    throw new RangeError(`the model's BatchNorm layers use different group sizes (${[...sizes].join(', ')}); give them all the same groupSize`);
  }
  return sizes.size === 1 ? [...sizes][0] : 1;
}
