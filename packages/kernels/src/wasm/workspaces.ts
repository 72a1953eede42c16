import { conv2dOutputHeight, conv2dOutputWidth, type Conv2dGeometry } from '../shapes';

/**
 * Workspace sizes, in floats, of the assembly kernels: one function per kernel, each mirroring the
 * "Workspaces" line of that kernel's doc comment in assembly/ one to one, and the Winograd tile
 * geometry of assembly/winogradTiles.ts. The host lays these out in wasm memory before each call
 * (the kernels never allocate). `Tiling` is the micro-kernel's MR x NR, read from the globals the
 * module exports (assembly/gemm.ts), so the two sides cannot disagree about it.
 */
export interface Tiling {
  /** Rows of A per micro-tile: packed A is padded to a multiple of it. */
  mr: number;
  /** Columns of B per micro-tile: packed B panels are this wide. */
  nr: number;
}

/** im2col weight gradient: pixels per GEMM depth (measured flat from 256 to 4096 on the recipe shapes). */
const WEIGHT_GRAD_DEPTH = 1024;
/** Winograd weight gradient: tiles per GEMM depth (measured flat, 60-63 GFLOP/s, from 64 to 1024). */
const WINOGRAD_GRAD_TILES = 256;
/** Tiles per input-transform vector in the Winograd weight gradient (one per f32x4 lane). */
const LANES = 4;
/** Element-wise products per Winograd F(2x2, 3x3) tile (4 x 4 input tile). */
const XI = 16;

export function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** assembly/winogradTiles.ts: sides of a 3x3 stride-1 conv's output, its 2x2 tiles and the padded input they read. */
export interface WinogradTiles {
  outH: number;
  outW: number;
  tilesH: number;
  tilesW: number;
  tiles: number;
  paddedH: number;
  paddedW: number;
}

export function winogradTiles(height: number, width: number, pad: number): WinogradTiles {
  const outH = height + 2 * pad - 2;
  const outW = width + 2 * pad - 2;
  const tilesH = Math.ceil(outH / 2);
  const tilesW = Math.ceil(outW / 2);
  return { outH, outW, tilesH, tilesW, tiles: tilesH * tilesW, paddedH: 2 * tilesH + 2, paddedW: 2 * tilesW + 2 };
}

/** winogradWeights (uPack) + conv3x3Winograd (padded, panel, products). */
export function winogradForwardWorkspaces(
  t: Tiling, channels: number, height: number, width: number, outChannels: number, pad: number,
): { uPack: number; padded: number; panel: number; products: number } {
  const { paddedH, paddedW } = winogradTiles(height, width, pad);
  const rows = roundUp(outChannels, t.mr);
  return { uPack: XI * rows * channels, padded: channels * paddedH * paddedW + 16, panel: XI * channels * t.nr, products: XI * rows * t.nr };
}

/** Images per group of conv3x3WeightGradWinograd: a GEMM depth of about WINOGRAD_GRAD_TILES tiles. */
export function winogradWeightGradGroup(g: Conv2dGeometry): number {
  const { tiles } = winogradTiles(g.inHeight, g.inWidth, g.padHeight);
  return Math.max(1, Math.min(g.batch, Math.floor(WINOGRAD_GRAD_TILES / roundUp(tiles, LANES))));
}

/** conv3x3WeightGradWinograd with `group` images per GEMM. */
export function winogradWeightGradWorkspaces(
  t: Tiling, g: Conv2dGeometry, group: number,
): { padded: number; dyEven: number; aPack: number; bPack: number; products: number } {
  const { tilesH, tilesW, tiles, paddedH, paddedW } = winogradTiles(g.inHeight, g.inWidth, g.padHeight);
  const depth = group * roundUp(tiles, LANES);
  return {
    padded: group * (g.inChannels * paddedH * paddedW + 16),
    dyEven: g.outChannels * 4 * tilesH * tilesW,
    aPack: XI * roundUp(g.outChannels, t.mr) * depth,
    bPack: XI * roundUp(g.inChannels, t.nr) * depth,
    products: XI * g.outChannels * g.inChannels,
  };
}

function im2colDims(g: Conv2dGeometry): { pixels: number; depth: number; paddedImage: number } {
  return {
    pixels: conv2dOutputHeight(g) * conv2dOutputWidth(g),
    depth: g.inChannels * g.kernelHeight * g.kernelWidth,
    paddedImage: g.inChannels * (g.inHeight + 2 * g.padHeight) * (g.inWidth + 2 * g.padWidth),
  };
}

/** conv2dForward (im2col + GEMM). */
export function im2colForwardWorkspaces(t: Tiling, g: Conv2dGeometry): { aPack: number; padded: number; panel: number } {
  const { depth, paddedImage } = im2colDims(g);
  return { aPack: roundUp(g.outChannels, t.mr) * depth, padded: paddedImage, panel: depth * t.nr };
}

/** conv2dBackwardInput (W^T x dY, then col2im). */
export function im2colBackwardInputWorkspaces(t: Tiling, g: Conv2dGeometry): { aPack: number; bPack: number; col: number } {
  const { pixels, depth } = im2colDims(g);
  return { aPack: roundUp(depth, t.mr) * g.outChannels, bPack: roundUp(pixels, t.nr) * g.outChannels, col: depth * pixels };
}

/** Images per group of conv2dBackwardWeights: a GEMM depth of about WEIGHT_GRAD_DEPTH pixels. */
export function im2colWeightGradGroup(g: Conv2dGeometry): number {
  return Math.max(1, Math.min(g.batch, Math.floor(WEIGHT_GRAD_DEPTH / im2colDims(g).pixels)));
}

/** conv2dBackwardWeights with `group` images per GEMM. */
export function im2colWeightGradWorkspaces(t: Tiling, g: Conv2dGeometry, group: number): { aPack: number; padded: number; panel: number } {
  const { pixels, paddedImage } = im2colDims(g);
  return { aPack: roundUp(g.outChannels, t.mr) * group * pixels, padded: group * paddedImage, panel: group * pixels * t.nr };
}
