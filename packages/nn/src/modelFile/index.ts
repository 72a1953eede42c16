export { checkModelFile, checkModelInput, ModelFileError } from './parse';
export type { CheckedModelFile, LayerRow } from './parse';
export { formatModelSummary } from './summary';
export { formatModelFile } from './format';
export { MODEL_PRESETS, presetModelFile, recipeModelFile, recipeParameterNames } from './presets';
export type { ModelPreset, RecipePresetOptions } from './presets';
