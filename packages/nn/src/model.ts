import { referenceBackend } from '@convoy/kernels';
import { ParameterArena, type Rng } from '@convoy/tensor';
import { buildLayerList, type LayerListSpec } from './layerList';
import type { Module } from './module';
import { recipeNet, type BuildOptions } from './recipe';
import { initializeFromImages, type ImageSample } from './whitening';

/** The recipe network (docs/ARCHITECTURE.md, "The recipe network") at a resolution, class count and width. */
export type RecipeModelSpec = { kind: 'recipe'; resolution: number; classes: number; width: number; inChannels?: number };

/** A layer list (the layers of a model file; see layerList.ts) for `classes` classes. */
export type LayerModelSpec = { kind: 'layers'; classes: number } & LayerListSpec;

/**
 * A model described as plain JSON, so a worker rebuilds exactly the coordinator's model from a
 * message (parameters travel separately, in the shared arena): the recipe's, or a layer list.
 */
export type ModelSpec = RecipeModelSpec | LayerModelSpec;

/** The input a model takes per image: `channels` planes of `resolution` x `resolution`. */
export function modelInputOf(spec: ModelSpec): { channels: number; resolution: number } {
  return spec.kind === 'layers' ? { channels: spec.input.channels, resolution: spec.input.resolution } : { channels: spec.inChannels ?? 3, resolution: spec.resolution };
}

/** `options`: the kernel backend, and whether backward computes the input gradient (see BuildOptions). */
export function buildModel(spec: ModelSpec, options: BuildOptions = {}): Module {
  if (spec === null || typeof spec !== 'object') {
    throw new TypeError(`buildModel: spec must be an object like { kind: 'recipe', resolution, classes, width }, got ${JSON.stringify(spec)}`);
  }
  const { kind, ...rest } = spec as ModelSpec & Record<string, unknown>;
  switch (kind) {
    case 'recipe':
      return recipeNet(rest as Omit<RecipeModelSpec, 'kind'>, { backend: options.backend, inputGradient: options.inputGradient });
    case 'layers': {
      const { classes, ...list } = rest as Omit<LayerModelSpec, 'kind'>;
      // buildLayerList runs the model file's checks (with their layer paths) on every list it builds.
      return buildLayerList(list, classes, { backend: options.backend, inputGradient: options.inputGradient });
    }
    default:
      throw new RangeError(`buildModel: unknown model kind ${JSON.stringify(kind)}; expected 'recipe' or 'layers'`);
  }
}

/**
 * The parameters of a model of this spec, initialised from `rng` (PyTorch's default initialisation,
 * or a layer's `init`), in a fresh arena (on a SharedArrayBuffer with `shared`): the starting point
 * of a run, made without keeping a model around. A whitening layer then takes its filters from
 * `images` (initImagesWanted(spec) of the training set); without them it keeps its drawn start
 * (for a caller about to copy in a checkpoint's parameters).
 */
export function initialParameters(spec: ModelSpec, rng: Rng, options: { shared?: boolean; images?: ImageSample } = {}): ParameterArena {
  const model = buildModel(spec, { backend: referenceBackend });
  const specs = model.parameterSpecs();
  const params = new ParameterArena(specs, options.shared ? { shared: true } : {});
  model.bind(params, new ParameterArena(specs));
  model.initialize(rng);
  if (options.images) initializeFromImages(model, params, options.images);
  return params;
}
