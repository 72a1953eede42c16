import { Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth } from '../shapes';
import { forEachConvTap } from './windows';

/** Direct convolution, the textbook loop nest: slow and obviously right. */
export function conv2d(
  g: Conv2dGeometry,
  input: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  output: Float32Array,
): void {
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  for (let n = 0; n < g.batch; n++) {
    for (let oc = 0; oc < g.outChannels; oc++) {
      const outBase = (n * g.outChannels + oc) * outH * outW;
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let sum = bias ? bias[oc] : 0;
          forEachConvTap(g, n, oc, oy, ox, (inputIndex, weightIndex) => {
            sum += input[inputIndex] * weight[weightIndex];
          });
          output[outBase + oy * outW + ox] = sum;
        }
      }
    }
  }
}
