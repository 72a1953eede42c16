import type { Normalization } from '@convoy/data';
import { modelInputOf, type ModelSpec } from '@convoy/nn';
import type { CheckpointState } from './checkpoint';
import type { CheckpointParameterEntry } from './checkpointModel';
import type { RunConfig } from './config';

/** What a checkpoint takes from a live run; a gradient pool has the `params` and `optimizerState` fields. */
export interface CheckpointSource {
  config: RunConfig;
  modelSpec: ModelSpec;
  classNames: readonly string[];
  normalization: Normalization;
  /** The parameter arena (a GradientPool's `params`): its layout and its values. */
  params: { entries: readonly CheckpointParameterEntry[]; data: Float32Array };
  /** The network's buffers (a GradientPool's `buffers`: BatchNorm's running statistics), laid out as `params`. */
  buffers: { entries: readonly CheckpointParameterEntry[]; data: Float32Array };
  optimizerState: Readonly<Record<string, Float32Array>>;
  /** Lookahead's slow copy of the parameters and buffers (a GradientPool's `lookahead`); null without Lookahead. */
  lookahead?: { params: Float32Array; buffers: Float32Array } | null;
  position: { step: number; epoch: number; stepInEpoch: number };
  /** The coordinator's random generator state after parameter initialisation. */
  rngState: number[];
  summary: Record<string, unknown>;
}

/**
 * The checkpoint of a run at its current position, as `convoy train` writes it and the playground
 * offers it for download (one function, so both write the same fields). Arrays are referenced, not
 * copied: encode it before the run steps again.
 */
export function checkpointStateOf(source: CheckpointSource): CheckpointState {
  const { config, modelSpec, normalization, position } = source;
  return {
    config: { ...config },
    modelSpec,
    classNames: [...source.classNames],
    resolution: modelInputOf(modelSpec).resolution,
    normalization: { mean: [...normalization.mean], std: [...normalization.std] },
    parameters: source.params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
    params: source.params.data,
    buffers: { entries: source.buffers.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })), data: source.buffers.data },
    optimizer: { name: config.optimizer, state: { ...source.optimizerState } },
    ...(source.lookahead ? { lookahead: { params: source.lookahead.params, buffers: source.lookahead.buffers } } : {}),
    step: position.step,
    epoch: position.epoch,
    stepInEpoch: position.stepInEpoch,
    rng: { seed: config.seed, state: source.rngState },
    summary: source.summary,
    createdAt: new Date().toISOString(),
  };
}
