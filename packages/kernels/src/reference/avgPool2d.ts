import { Pool2dGeometry, pool2dOutputHeight, pool2dOutputWidth } from '../shapes';
import { forEachWindowCell } from './windows';

/**
 * Mean over each window. Padded cells count in the divisor (count_include_pad=True, PyTorch's
 * default); the divisor is the window clipped to the padded input, as PyTorch computes it.
 */
function windowDivisor(g: Pool2dGeometry, oy: number, ox: number): number {
  const y0 = oy * g.strideHeight - g.padHeight;
  const x0 = ox * g.strideWidth - g.padWidth;
  const y1 = Math.min(y0 + g.kernelHeight, g.inHeight + g.padHeight);
  const x1 = Math.min(x0 + g.kernelWidth, g.inWidth + g.padWidth);
  return (y1 - y0) * (x1 - x0);
}

export function avgPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array): void {
  const outH = pool2dOutputHeight(g);
  const outW = pool2dOutputWidth(g);
  const planes = g.batch * g.channels;
  const planeSize = g.inHeight * g.inWidth;
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let sum = 0;
        forEachWindowCell(g, oy, ox, (iy, ix) => {
          sum += input[p * planeSize + iy * g.inWidth + ix];
        });
        output[(p * outH + oy) * outW + ox] = sum / windowDivisor(g, oy, ox);
      }
    }
  }
}

export function avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void {
  const outH = pool2dOutputHeight(g);
  const outW = pool2dOutputWidth(g);
  const planes = g.batch * g.channels;
  const planeSize = g.inHeight * g.inWidth;
  gradInput.fill(0, 0, planes * planeSize);
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const share = gradOutput[(p * outH + oy) * outW + ox] / windowDivisor(g, oy, ox);
        forEachWindowCell(g, oy, ox, (iy, ix) => {
          gradInput[p * planeSize + iy * g.inWidth + ix] += share;
        });
      }
    }
  }
}
