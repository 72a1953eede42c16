import { checkModelFile, presetModelFile, type ModelSpec } from '@convoy/nn';
import { modelSpecFor, type RunConfig } from '@convoy/run';

/**
 * The preset an image folder (`--data`) trains: the recipe with a BatchNorm after every conv. Data
 * nobody tuned the recipe for (grey 28x28 images, cat vs dog) leaves the unnormalised recipe at
 * chance under the default one-cycle peak rate, where this network trains (benchmarks/RESULTS.md,
 * "Defaults for image folders").
 */
export const IMAGE_FOLDER_MODEL = 'recipe-bn';

/**
 * The network of a new run: for an image folder the IMAGE_FOLDER_MODEL preset at the run's
 * resolution and width for the data's channels, defaults filled in (what the checkpoint stores);
 * for CIFAR-10 the recipe network, whose published numbers its defaults reproduce.
 */
export function defaultModelSpec(config: RunConfig, data: { imageFolder: boolean; classes: number; channels: number }): ModelSpec {
  if (!data.imageFolder) return modelSpecFor(config, data.classes);
  const file = presetModelFile(IMAGE_FOLDER_MODEL, { resolution: config.resolution, width: config.width, inChannels: data.channels });
  if (!file) throw new Error(`${IMAGE_FOLDER_MODEL} is not one of nn's model presets`);
  return { kind: 'layers', classes: data.classes, ...checkModelFile(file, data.classes).spec };
}
