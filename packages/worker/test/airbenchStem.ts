import type { LayerSpec } from '@convoy/nn';

/**
 * The front of an airbench-shaped network at test size: a frozen 2x2 whitening conv (its filters
 * from the training images), GELU, an identity-initialised conv of `maps` maps, max-pool and a
 * weightless BatchNorm (momentum 0.4, eps 1e-12, ghost groups of `groupSize`), GELU. The checks of
 * airbench's pieces (the pool's whitening and frozen parameters; the optimizer's groups and
 * Lookahead against PyTorch) each add their own tail.
 */
export function airbenchStem(maps: number, groupSize: number): LayerSpec[] {
  return [
    { type: 'conv2d', out: 24, kernel: 2, init: 'whitening', frozen: ['weight'] },
    { type: 'gelu' },
    { type: 'conv2d', out: maps, kernel: 3, padding: 1, bias: false, init: 'identity' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'batchnorm2d', weight: false, groupSize, momentum: 0.4, eps: 1e-12 },
    { type: 'gelu' },
  ];
}
