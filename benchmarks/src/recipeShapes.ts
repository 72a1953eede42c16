import type { Conv2dGeometry, Pool2dGeometry } from '@convoy/kernels';

/** The CIFAR-10 recipe network (docs/ARCHITECTURE.md, "The recipe network"): blocks 3->32->64->128 at 32, 16, 8; GAP at 4. */
export const RECIPE_CONVS: readonly { inChannels: number; outChannels: number; side: number }[] = [
  { inChannels: 3, outChannels: 32, side: 32 },
  { inChannels: 32, outChannels: 32, side: 32 },
  { inChannels: 32, outChannels: 64, side: 16 },
  { inChannels: 64, outChannels: 64, side: 16 },
  { inChannels: 64, outChannels: 128, side: 8 },
  { inChannels: 128, outChannels: 128, side: 8 },
];

/** 2x2 stride-2 max-pools closing each block: channels and input side. */
export const RECIPE_POOLS: readonly { channels: number; side: number }[] = [
  { channels: 32, side: 32 },
  { channels: 64, side: 16 },
  { channels: 128, side: 8 },
];

/** Global average pooling before the classifier. */
export const RECIPE_GAP = { channels: 128, side: 4 } as const;

export function conv3x3(batch: number, inChannels: number, outChannels: number, side: number): Conv2dGeometry {
  return {
    batch, inChannels, outChannels, inHeight: side, inWidth: side, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1,
  };
}

export function maxPool2x2(batch: number, channels: number, side: number): Pool2dGeometry {
  return {
    batch, channels, inHeight: side, inWidth: side, kernelHeight: 2, kernelWidth: 2,
    strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0,
  };
}
