import { Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth } from '../shapes';
import { forEachConvTap } from './windows';

/** Scatters each output gradient back through the window that produced it (transposed convolution). */
export function conv2dBackwardInput(
  g: Conv2dGeometry,
  gradOutput: Float32Array,
  weight: Float32Array,
  gradInput: Float32Array,
): void {
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  gradInput.fill(0, 0, g.batch * g.inChannels * g.inHeight * g.inWidth);
  for (let n = 0; n < g.batch; n++) {
    for (let oc = 0; oc < g.outChannels; oc++) {
      const outBase = (n * g.outChannels + oc) * outH * outW;
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const grad = gradOutput[outBase + oy * outW + ox];
          if (grad === 0) continue;
          forEachConvTap(g, n, oc, oy, ox, (inputIndex, weightIndex) => {
            gradInput[inputIndex] += grad * weight[weightIndex];
          });
        }
      }
    }
  }
}
