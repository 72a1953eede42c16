import { isImageChannels, type ImageChannels } from '@convoy/data';
import { UsageError } from './usageError';

/**
 * What says how many channels the --data images are decoded to, each null when it says nothing:
 * the `--channels` flag, the `--model` file's `input.channels`, the network of the run being
 * resumed, and a packed folder (decoded when it was packed).
 */
export interface ChannelSources {
  flag: number | null;
  model: { name: string; channels: number } | null;
  resume: { path: string; channels: number } | null;
  packed: { folder: string; channels: number } | null;
}

/**
 * The channels a --data run decodes its images to: the network's (a resumed run's, or the model
 * file's), else --channels, else the packed folder's, else 3 (RGB: a grey image is repeated into
 * R, G and B, which every network of 3 channels takes). Sources that disagree are a usage error
 * saying which to drop or what to pack again; so is a network of channels images cannot be
 * decoded to (only 1 and 3 can).
 */
export function chooseInputChannels(sources: ChannelSources): ImageChannels {
  const { flag, model, resume, packed } = sources;
  if (resume && model && resume.channels !== model.channels) {
    throw new UsageError(`--resume ${resume.path} continues a network of ${resume.channels}-channel images; --model ${model.name} takes ${model.channels}. Drop --model (the checkpoint's network is used)`);
  }
  const network = resume ? { what: `the network of ${resume.path} (--resume)`, channels: resume.channels, fix: 'drop --channels (the checkpoint\'s channels are used)' } : model ? { what: `--model ${model.name} (its input.channels)`, channels: model.channels, fix: "drop --channels (the file's input.channels is used), or change the file's input.channels" } : null;
  if (network && !isImageChannels(network.channels)) {
    throw new UsageError(`${network.what} takes ${network.channels}-channel images, but images decode to 1 (grey) or 3 (RGB) channels; make its input.channels 1 or 3`);
  }
  if (network && flag !== null && flag !== network.channels) {
    throw new UsageError(`--channels ${flag} contradicts ${network.what}, which takes ${network.channels}-channel images: ${network.fix}`);
  }
  const wanted = network ? { what: network.what, channels: network.channels } : flag !== null ? { what: `--channels ${flag}`, channels: flag } : null;
  if (packed && wanted && packed.channels !== wanted.channels) {
    throw new UsageError(
      `${packed.folder} was packed with ${packed.channels}-channel images, but ${wanted.what} needs ${wanted.channels}: ` +
        `pack the images again with \`convoy pack <source> --channels ${wanted.channels} -o <new folder>\`${network ? '' : ', or drop --channels'}`,
    );
  }
  const channels = wanted?.channels ?? packed?.channels ?? 3;
  if (!isImageChannels(channels)) throw new UsageError(`--channels must be 1 (grey) or 3 (RGB), got ${channels}`);
  return channels;
}
