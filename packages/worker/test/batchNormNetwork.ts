import type { LayerModelSpec } from '@convoy/nn';

/**
 * A small network with BatchNorm (ghost groups of 4 images: running statistics as buffers), a
 * residual block and dropout, on 3 x 32 x 32 images and 10 classes: what the checks that a split
 * run trains as the whole one train, at each level: the pool (threads, in-process hosts), the
 * trainer's runTraining (threads, a resume) and the trainer's MPI e2e (ranks).
 */
export const BATCHNORM_NETWORK: LayerModelSpec = {
  kind: 'layers',
  classes: 10,
  input: { channels: 3, resolution: 32 },
  layers: [
    { type: 'conv2d', out: 4, kernel: 3, stride: 2, padding: 1, bias: false },
    { type: 'batchnorm2d', groupSize: 4 },
    { type: 'relu' },
    { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false }, { type: 'batchnorm2d', groupSize: 4 }, { type: 'relu' }] },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'dropout', p: 0.25 },
    { type: 'globalavgpool2d' },
    { type: 'flatten' },
    { type: 'linear', out: 'classes' },
  ],
};
