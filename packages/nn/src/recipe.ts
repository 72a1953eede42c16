import type { KernelBackend } from '@convoy/kernels';
import { Conv2d } from './layers/conv2d';
import { Flatten } from './layers/flatten';
import { Linear } from './layers/linear';
import { GlobalAvgPool2d, MaxPool2d } from './layers/pooling';
import { ReLU } from './layers/relu';
import { Sequential } from './layers/sequential';
import type { Module } from './module';
import { checkOptions, checkPositiveInteger } from './options';

/**
 * The recipe network of docs/ARCHITECTURE.md, from builders that mirror the classic PyTorch definition
 * (tools/pytorch/make_fixtures.py builds the same thing, so parameter names match state_dict keys).
 */

export interface BuildOptions {
  /** Kernel backend for every conv and pooling layer; default the plain-TS reference. */
  backend?: KernelBackend;
  /**
   * Whether backward returns the gradient with respect to the network's input (default true).
   * Training never needs it: false lets the first conv skip its input-gradient pass, and the
   * network's backward then returns NO_INPUT_GRADIENT. (Only the first conv of a network uses it.)
   */
  inputGradient?: boolean;
}

/** 3x3 convolution, stride 1, padding 1 (keeps the side). */
export function conv3(inChannels: number, outChannels: number, options: BuildOptions = {}): Conv2d {
  return new Conv2d(inChannels, outChannels, 3, { padding: 1, backend: options.backend, inputGradient: options.inputGradient });
}

/**
 * conv => conv => pool: two 3x3 convs with ReLU, then a 2x2 max-pool halving the side. The ReLUs run
 * inside the kernels around them (Sequential's fuseReLU).
 */
export function block(inChannels: number, outChannels: number, options: BuildOptions = {}): Sequential {
  return new Sequential({
    conv1: conv3(inChannels, outChannels, options),
    relu1: new ReLU(),
    conv2: conv3(outChannels, outChannels, { backend: options.backend }),
    relu2: new ReLU(),
    pool: new MaxPool2d(2, { backend: options.backend }),
  }, { fuseReLU: true });
}

/** The aggressive front end for large inputs: 7x7 conv stride 2 (padding 3), ReLU, 2x2 max-pool: side / 4. */
export function frontend(inChannels: number, outChannels: number, options: BuildOptions = {}): Sequential {
  return new Sequential({
    conv: new Conv2d(inChannels, outChannels, 7, { stride: 2, padding: 3, backend: options.backend, inputGradient: options.inputGradient }),
    relu: new ReLU(),
    pool: new MaxPool2d(2, { backend: options.backend }),
  }, { fuseReLU: true });
}

export function sequential(children: Module[] | Record<string, Module>): Sequential {
  return new Sequential(children);
}

export interface RecipeOptions {
  /** Side R of the square input (>= 8). */
  resolution: number;
  classes: number;
  /** Feature maps of the first block (32 or 64 in docs/ARCHITECTURE.md). */
  width: number;
  /** Input channels; default 3 (RGB). */
  inChannels?: number;
}

export interface RecipePlan {
  /** Whether the 7x7 stride-2 front end is used (resolution >= 100). */
  frontend: boolean;
  /** Side after the front end (or the resolution when there is none). */
  sideAfterFrontend: number;
  blocks: { inChannels: number; outChannels: number; inSide: number; outSide: number }[];
  /** Channels into global average pooling and the classifier. */
  features: number;
  /** Multiply-adds of one forward pass per image (convolutions and the classifier). */
  multiplyAdds: number;
}

/** Maximum feature maps per block (docs/ARCHITECTURE.md: double per block, at most 512). */
export const MAX_RECIPE_WIDTH = 512;
/** The front end is used from this resolution up. */
export const FRONTEND_MIN_RESOLUTION = 100;

/**
 * The layer plan for a resolution: the front end when R >= 100 (it outputs `width` maps, side
 * floor(floor((R-1)/2+1)/2)); then blocks with width * 2^i maps (capped at 512), each halving the side,
 * until the side is below 7.
 */
export function recipePlan(options: RecipeOptions): RecipePlan {
  checkOptions('recipeNet', options, ['resolution', 'classes', 'width', 'inChannels']);
  const resolution = checkPositiveInteger('recipeNet: resolution', options.resolution);
  checkPositiveInteger('recipeNet: classes', options.classes);
  const width = checkPositiveInteger('recipeNet: width', options.width);
  const inChannels = checkPositiveInteger('recipeNet: inChannels', options.inChannels ?? 3);
  if (resolution < 8) throw new RangeError(`recipeNet: resolution must be at least 8 so that one conv-conv-pool block fits, got ${resolution}`);
  if (width > MAX_RECIPE_WIDTH) throw new RangeError(`recipeNet: width must be at most ${MAX_RECIPE_WIDTH}, got ${width}`);
  const useFrontend = resolution >= FRONTEND_MIN_RESOLUTION;
  let side = resolution;
  let channels = inChannels;
  let multiplyAdds = 0;
  if (useFrontend) {
    const convSide = Math.floor((side + 2 * 3 - 7) / 2) + 1;
    multiplyAdds += convSide * convSide * width * inChannels * 49;
    side = Math.floor(convSide / 2);
    channels = width;
  }
  const sideAfterFrontend = side;
  const blocks: RecipePlan['blocks'] = [];
  for (let i = 0; side >= 7; i++) {
    const outChannels = Math.min(width * 2 ** i, MAX_RECIPE_WIDTH);
    blocks.push({ inChannels: channels, outChannels, inSide: side, outSide: Math.floor(side / 2) });
    multiplyAdds += side * side * 9 * (channels * outChannels + outChannels * outChannels);
    channels = outChannels;
    side = Math.floor(side / 2);
  }
  multiplyAdds += channels * options.classes;
  return { frontend: useFrontend, sideAfterFrontend, blocks, features: channels, multiplyAdds };
}

/**
 * The recipe network: `features` (front end and blocks), `pool` (global average), `flatten`,
 * `classifier` (Linear features -> classes). CIFAR-10 (R=32, width 32): blocks 3->32->64->128
 * (32->16->8->4), GAP, Linear 128->10: 288,298 parameters.
 */
export function recipeNet(options: RecipeOptions, build: BuildOptions = {}): Sequential {
  const plan = recipePlan(options);
  const features: Module[] = [];
  // Only the first layer sees the network's input, so only it takes `inputGradient`.
  const inner: BuildOptions = { backend: build.backend };
  if (plan.frontend) features.push(frontend(options.inChannels ?? 3, options.width, build));
  plan.blocks.forEach((b, i) => features.push(block(b.inChannels, b.outChannels, i === 0 && !plan.frontend ? build : inner)));
  return sequential({
    features: sequential(features),
    pool: new GlobalAvgPool2d({ backend: build.backend }),
    flatten: new Flatten(),
    classifier: new Linear(plan.features, options.classes),
  });
}
