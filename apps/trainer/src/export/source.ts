import { buildModel, modelInputOf, type Module, type ModelSpec } from '@convoy/nn';
import type { NamedTensor } from './safetensors';
import { NO_TENSORS, stateDictOf, type TensorTable, type TensorTableEntry } from './stateDict';

/**
 * What an export needs from a checkpoint: the network's spec, its self-description (class names,
 * input side, normalisation) and its tensors. `buffers` (BatchNorm's running statistics) may be
 * absent only for a network without buffers.
 */
export interface ExportSource {
  modelSpec: ModelSpec;
  classNames: readonly string[];
  resolution: number;
  normalization: { readonly mean: readonly number[]; readonly std: readonly number[] };
  parameters: readonly TensorTableEntry[];
  params: Float32Array;
  buffers?: TensorTable;
}

/** The network an export describes, built from its spec (in eval mode: exports are for inference). */
export function exportedModel(source: ExportSource): Module {
  return buildModel(source.modelSpec).eval();
}

/** Per-image input shape [C, R, R] of the network. */
export function exportedInputShape(source: ExportSource): [number, number, number] {
  const { channels, resolution } = modelInputOf(source.modelSpec);
  return [channels, resolution, resolution];
}

/** The source's tensors as PyTorch's state_dict of the same network (see stateDictOf). */
export function exportedStateDict(source: ExportSource, model: Module = exportedModel(source)): NamedTensor[] {
  return stateDictOf(model, { entries: source.parameters, data: source.params }, source.buffers ?? NO_TENSORS);
}

/**
 * The self-description every export carries, as strings (safetensors metadata and ONNX
 * metadata_props are string maps): `modelSpec` is the JSON a reader rebuilds the network from,
 * then the class names, the input side and the pixel normalisation, JSON-encoded.
 */
export function exportMetadata(source: ExportSource): Record<string, string> {
  return {
    modelSpec: JSON.stringify(source.modelSpec),
    classNames: JSON.stringify(source.classNames),
    resolution: String(source.resolution),
    normalization: JSON.stringify(source.normalization),
  };
}
