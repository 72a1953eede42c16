import { checkModelFile, checkModelInput, formatModelFile, formatModelSummary, ModelFileError, presetModelFile, type LayerListSpec, type LayerModelSpec } from '@convoy/nn';
import allconv from '../../../models/allconv.json';
import mlpHead from '../../../models/mlp-head.json';
import resnet9Half from '../../../models/resnet9-half.json';

/** CIFAR-10's images, which every network the page trains must take. */
export const PAGE_INPUT = { channels: 3, resolution: 32 } as const;

/**
 * The networks the page offers, as model files (docs/ARCHITECTURE.md, "The model file"): the two
 * presets `convoy train --model` knows, built for the form's width, and example files of models/
 * that take CIFAR-10's 3 x 32 x 32 images. `cli` is what `--model` takes for the same network.
 */
export interface PagePreset {
  name: string;
  label: string;
  /** The model file for the form's width (only the recipe presets use it). */
  file: (width: number) => LayerListSpec;
  cli: string;
}

const recipePreset = (name: 'recipe' | 'recipe-bn') => (width: number) => presetModelFile(name, { resolution: PAGE_INPUT.resolution, width, inChannels: PAGE_INPUT.channels }) as LayerListSpec;
const example = (json: unknown) => () => json as LayerListSpec;

export const PAGE_PRESETS: readonly PagePreset[] = [
  { name: 'recipe', label: 'recipe (conv-conv-pool blocks, the CLI default)', file: recipePreset('recipe'), cli: 'recipe' },
  { name: 'recipe-bn', label: 'recipe-bn (BatchNorm after every conv)', file: recipePreset('recipe-bn'), cli: 'recipe-bn' },
  { name: 'allconv', label: 'allconv (stride-2 convs instead of max-pooling)', file: example(allconv), cli: 'models/allconv.json' },
  { name: 'mlp-head', label: 'mlp-head (conv blocks, then linear 256, ReLU, dropout 0.5)', file: example(mlpHead), cli: 'models/mlp-head.json' },
  { name: 'resnet9-half', label: 'resnet9-half (BatchNorm + residual blocks; about 2.5x the recipe\'s work)', file: example(resnet9Half), cli: 'models/resnet9-half.json' },
];

/** A preset's model file as the text box shows it (one layer per line, as `convoy model recipe` prints). */
export function presetText(name: string, width: number): string {
  const preset = PAGE_PRESETS.find((p) => p.name === name);
  if (!preset) throw new RangeError(`no preset named ${JSON.stringify(name)}; the presets are ${PAGE_PRESETS.map((p) => p.name).join(', ')}`);
  return formatModelFile(preset.file(width));
}

/** The text box's model file checked for the run's classes: the network to train, or what is wrong and where. */
export type ModelCheck =
  | { ok: true; spec: LayerModelSpec; summary: string; parameters: number; multiplyAdds: number }
  /** `path` is the layer or field at fault (`layers[3].layers[0]`), null when the text is not JSON at all. */
  | { ok: false; path: string | null; message: string };

/**
 * nn's checkModelFile and checkModelInput on the text: every problem they find (unknown type or
 * field, a shape that does not fit, a network that does not end in the class scores, an input that
 * is not CIFAR-10's) comes back with the layer's path, before anything is trained.
 */
export function checkModelText(text: string, classes: number): ModelCheck {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (error) {
    return { ok: false, path: null, message: `not valid JSON: ${(error as Error).message}` };
  }
  try {
    const checked = checkModelFile(json, classes);
    checkModelInput(checked.spec, PAGE_INPUT, 'CIFAR-10');
    return {
      ok: true,
      spec: { kind: 'layers', classes, ...checked.spec },
      summary: formatModelSummary(checked, classes),
      parameters: checked.parameters,
      multiplyAdds: checked.multiplyAdds,
    };
  } catch (error) {
    if (error instanceof ModelFileError) return { ok: false, path: error.path, message: error.message };
    throw error;
  }
}
