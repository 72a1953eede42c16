// Tile geometry of Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions, in one place for the
// forward pass (and input gradient), the input transform and the weight gradient. The host mirrors
// these formulas one to one when it sizes workspaces (src/wasm/workspaces.ts).
//   output tile TILE x TILE, input tile ALPHA x ALPHA (TILE + 3 - 1), ALPHA^2 = 16 element-wise
//   products per tile; tiles overlap by 2 input rows/columns, so tile (ty, tx) starts at
//   (TILE * ty, TILE * tx) in the zero-padded input.

export const TILE: i32 = 2;
export const ALPHA: i32 = 4;

/** Output side of the 3x3 stride-1 conv of a `size` side with padding `pad`. */
@inline
export function outputSide(size: i32, pad: i32): i32 {
  return size + 2 * pad - 2;
}

/** Tiles along one side: partial tiles at odd output sizes count. */
@inline
export function tileCount(outSide: i32): i32 {
  return (outSide + TILE - 1) / TILE;
}

/** Side of the padded input plane the tiles read: every tile's ALPHA x ALPHA window fits. */
@inline
export function paddedSide(tiles: i32): i32 {
  return TILE * tiles + ALPHA - TILE;
}

/** The sides a 3x3 stride-1 conv's Winograd pass works with (see tileGeometry). */
@unmanaged
export class TileGeometry {
  outH: i32;
  outW: i32;
  tilesH: i32;
  tilesW: i32;
  tiles: i32;
  paddedH: i32;
  paddedW: i32;
}

// One static record: the kernels read it into locals right after asking, and nothing allocates.
const geometry = changetype<TileGeometry>(memory.data(offsetof<TileGeometry>(), 4));

/** Output, tile and padded-input sides of the 3x3 stride-1 conv of a height x width input with padding `pad`. */
export function tileGeometry(height: i32, width: i32, pad: i32): TileGeometry {
  geometry.outH = outputSide(height, pad);
  geometry.outW = outputSide(width, pad);
  geometry.tilesH = tileCount(geometry.outH);
  geometry.tilesW = tileCount(geometry.outW);
  geometry.tiles = geometry.tilesH * geometry.tilesW;
  geometry.paddedH = paddedSide(geometry.tilesH);
  geometry.paddedW = paddedSide(geometry.tilesW);
  return geometry;
}

/** Byte offset of tile t's top-left input corner in a padded plane; tiles past the end repeat the last. */
@inline
export function tileOffset(t: i32, tilesW: i32, tiles: i32, rowBytes: usize): usize {
  const q = min(t, tiles - 1);
  const ty = q / tilesW;
  const tx = q - ty * tilesW;
  return <usize>(TILE * ty) * rowBytes + (<usize>(TILE * tx) << 2);
}

@inline
export function roundUp(value: i32, multiple: i32): i32 {
  return (value + multiple - 1) / multiple * multiple;
}
