import { Pool2dGeometry, pool2dOutputHeight, pool2dOutputWidth } from '../shapes';
import { forEachWindowCell } from './windows';

/** Max over each window; argmax records the winner's index within its (n, c) plane for the backward pass. */
export function maxPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void {
  const outH = pool2dOutputHeight(g);
  const outW = pool2dOutputWidth(g);
  const planes = g.batch * g.channels;
  const planeSize = g.inHeight * g.inWidth;
  for (let p = 0; p < planes; p++) {
    const inBase = p * planeSize;
    const outBase = p * outH * outW;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let best = -Infinity;
        let bestIndex = -1;
        forEachWindowCell(g, oy, ox, (iy, ix) => {
          // `> best` keeps the first maximum; the NaN tests make the first NaN win and stay, as in PyTorch.
          if (Number.isNaN(best)) return;
          const value = input[inBase + iy * g.inWidth + ix];
          if (value > best || bestIndex < 0 || Number.isNaN(value)) {
            best = value;
            bestIndex = iy * g.inWidth + ix;
          }
        });
        output[outBase + oy * outW + ox] = best;
        argmax[outBase + oy * outW + ox] = bestIndex;
      }
    }
  }
}

export function maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
  const outPlane = pool2dOutputHeight(g) * pool2dOutputWidth(g);
  const planes = g.batch * g.channels;
  const planeSize = g.inHeight * g.inWidth;
  gradInput.fill(0, 0, planes * planeSize);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < outPlane; i++) {
      gradInput[p * planeSize + argmax[p * outPlane + i]] += gradOutput[p * outPlane + i];
    }
  }
}
