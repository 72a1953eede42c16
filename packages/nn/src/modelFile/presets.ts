import type { LayerListSpec, LayerSpec } from '../layerList';
import { recipePlan, type RecipeOptions } from '../recipe';

/** Options of the recipe presets: the recipe network's (classes is `"classes"` in the file). */
export type RecipePresetOptions = Omit<RecipeOptions, 'classes'> & {
  /** A BatchNorm after every conv (whose bias it makes redundant): the `recipe-bn` preset. */
  batchNorm?: boolean;
};

/** Names `convoy train --model` and `convoy model` take besides a file. */
export const MODEL_PRESETS = ['recipe', 'recipe-bn'] as const;
export type ModelPreset = (typeof MODEL_PRESETS)[number];

/**
 * The recipe network of docs/ARCHITECTURE.md as a model file: for R >= 100 a 7x7 stride-2 conv,
 * ReLU and 2x2 max-pool; then conv-ReLU-conv-ReLU-max-pool blocks doubling the maps; global
 * average pool, flatten, linear. Its layers draw their initial values in recipeNet's order, so the
 * same seed trains to the same numbers (`recipeParameterNames` maps recipeNet's names to these).
 * With `batchNorm`, every conv is conv (no bias) - batchnorm2d - relu.
 */
export function recipeModelFile(options: RecipePresetOptions): LayerListSpec {
  const inChannels = options.inChannels ?? 3;
  const plan = recipePlan({ resolution: options.resolution, width: options.width, inChannels, classes: 1 });
  const bn = options.batchNorm === true;
  const conv = (out: number, kernel: number, extra: Record<string, number> = {}): LayerSpec[] => [
    { type: 'conv2d', out, kernel, ...extra, ...(bn ? { bias: false } : {}) },
    ...(bn ? [{ type: 'batchnorm2d' }] : []),
    { type: 'relu' },
  ];
  const layers: LayerSpec[] = [];
  if (plan.frontend) layers.push(...conv(options.width, 7, { stride: 2, padding: 3 }), { type: 'maxpool2d', kernel: 2 });
  for (const b of plan.blocks) layers.push(...conv(b.outChannels, 3, { padding: 1 }), ...conv(b.outChannels, 3, { padding: 1 }), { type: 'maxpool2d', kernel: 2 });
  layers.push({ type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' });
  return { input: { channels: inChannels, resolution: options.resolution }, layers };
}

/** A preset by name, or null when `name` is not one. */
export function presetModelFile(name: string, options: Omit<RecipePresetOptions, 'batchNorm'>): LayerListSpec | null {
  switch (name) {
    case 'recipe': return recipeModelFile(options);
    case 'recipe-bn': return recipeModelFile({ ...options, batchNorm: true });
    default: return null;
  }
}

/**
 * recipeNet's parameter names (`features.0.conv1.weight`, `classifier.bias`) against the recipe
 * preset's (`layers.0.weight`, ...), in parameter order: how a checkpoint of the recipe network
 * reads as the preset's.
 */
export function recipeParameterNames(options: Omit<RecipeOptions, 'classes'>): Array<{ recipe: string; layers: string }> {
  const plan = recipePlan({ ...options, inChannels: options.inChannels ?? 3, classes: 1 });
  const names: Array<{ recipe: string; layers: string }> = [];
  let index = 0;
  const pair = (recipe: string) => {
    for (const p of ['weight', 'bias']) names.push({ recipe: `${recipe}.${p}`, layers: `layers.${index}.${p}` });
  };
  let feature = 0;
  if (plan.frontend) {
    pair(`features.${feature++}.conv`);
    index += 3; // conv, relu, pool
  }
  for (let b = 0; b < plan.blocks.length; b++, feature++) {
    pair(`features.${feature}.conv1`);
    index += 2;
    pair(`features.${feature}.conv2`);
    index += 3;
  }
  index += 2; // global average pool, flatten
  pair('classifier');
  return names;
}
