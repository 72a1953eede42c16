import { existsSync, readFileSync } from 'node:fs';
import { MODEL_PRESETS, presetModelFile, type RecipePresetOptions } from '@convoy/nn';
import { userPath } from './config';
import { UsageError } from './usageError';

/**
 * What `--model` (or `convoy model summary`) names: a preset (`recipe`, `recipe-bn`, built for
 * `preset`'s resolution, width and channels) or a model file's path. Returns the parsed JSON,
 * unchecked (nn's checkModelFile checks it), and a name for messages.
 */
export function readModelSource(name: string, preset: Omit<RecipePresetOptions, 'batchNorm'>): { json: unknown; source: string } {
  const fromPreset = presetModelFile(name, preset);
  if (fromPreset) return { json: fromPreset, source: `the ${name} preset` };
  const file = userPath(name);
  if (!existsSync(file)) {
    throw new UsageError(`model file ${name} not found; give a JSON model file (docs/ARCHITECTURE.md, "The model file") or a preset: ${MODEL_PRESETS.join(', ')}`);
  }
  const text = readFileSync(file, 'utf8');
  try {
    return { json: JSON.parse(text) as unknown, source: name };
  } catch (error) {
    throw new UsageError(`model file ${name} is not valid JSON: ${(error as Error).message}`);
  }
}
