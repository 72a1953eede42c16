import type { Conv2dGeometry, WindowGeometry } from '../shapes';

/**
 * Calls `visit(iy, ix, ky, kx)` for each cell (ky, kx) of the window of output (oy, ox) that lies
 * inside the input, at input row iy and column ix, in row-major window order: padding cells are
 * skipped. The one window walk of the reference convolutions and poolings.
 */
export function forEachWindowCell(
  g: WindowGeometry, oy: number, ox: number, visit: (iy: number, ix: number, ky: number, kx: number) => void,
): void {
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padHeight + ky;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padWidth + kx;
      if (ix < 0 || ix >= g.inWidth) continue;
      visit(iy, ix, ky, kx);
    }
  }
}

/**
 * Calls `visit(inputIndex, weightIndex)` for each input element that output (n, oc, oy, ox) of a
 * convolution reads, with the weight it is multiplied by: input channels outermost, then the window
 * in row-major order.
 */
export function forEachConvTap(
  g: Conv2dGeometry, n: number, oc: number, oy: number, ox: number, visit: (inputIndex: number, weightIndex: number) => void,
): void {
  for (let ic = 0; ic < g.inChannels; ic++) {
    const inBase = (n * g.inChannels + ic) * g.inHeight * g.inWidth;
    const wBase = (oc * g.inChannels + ic) * g.kernelHeight * g.kernelWidth;
    forEachWindowCell(g, oy, ox, (iy, ix, ky, kx) => visit(inBase + iy * g.inWidth + ix, wBase + ky * g.kernelWidth + kx));
  }
}
