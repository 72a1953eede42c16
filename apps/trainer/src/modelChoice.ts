import { checkModelFile, checkModelInput, MODEL_PRESETS, ModelFileError, type LayerModelSpec, type RecipePresetOptions } from '@convoy/nn';
import { readModelSource } from './modelSource';
import { UsageError } from './usageError';

/** What `--model` named: a preset or a model file, read as JSON but not yet checked against the data. */
export interface ModelChoice {
  /** The name as given (a preset's, or the file's path), for messages. */
  name: string;
  preset: boolean;
  json: unknown;
}

/** Reads `--model`: a preset built for the run's recipe options, or a JSON file (a missing file or bad JSON is a usage error). */
export function readModelChoice(name: string, preset: Omit<RecipePresetOptions, 'batchNorm'>): ModelChoice {
  const { json } = readModelSource(name, preset);
  return { name, preset: (MODEL_PRESETS as readonly string[]).includes(name), json };
}

/**
 * A whole number a model file (or a preset's file) declares in its `input`: `resolution`, the side
 * `--data` decodes images to when `--resolution` is not given, or `channels`, the colours it decodes
 * to; null when the file declares none (the full check reports that).
 */
export function declaredInput(choice: ModelChoice, field: 'resolution' | 'channels'): number | null {
  const { json } = choice;
  if (typeof json !== 'object' || json === null || !('input' in json)) return null;
  const input = json.input;
  if (typeof input !== 'object' || input === null || !(field in input)) return null;
  const value = (input as Record<string, unknown>)[field];
  return Number.isInteger(value) ? (value as number) : null;
}

/** What a model file must fit: the data's class count and its images, and the data's name for messages ("CIFAR-10", "--data photos"). */
export interface ModelData {
  classes: number;
  channels: number;
  resolution: number;
  name: string;
}

/**
 * The network of a model file for this data, defaults filled in (nn's checkModelFile and
 * checkModelInput): a file that does not check out or does not fit the data (channels, side,
 * classes) is a usage error naming the file and the layer's path, raised before any training work.
 */
export function modelSpecForData(choice: ModelChoice, data: ModelData): LayerModelSpec {
  try {
    const { spec } = checkModelFile(choice.json, data.classes);
    checkModelInput(spec, data, data.name);
    return { kind: 'layers', classes: data.classes, ...spec };
  } catch (err) {
    if (err instanceof ModelFileError) throw new UsageError(`--model ${choice.name}: ${err.message}`);
    throw err;
  }
}
