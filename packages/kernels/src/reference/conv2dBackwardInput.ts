import { Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth } from '../shapes';

/** Scatters each output gradient back through the window that produced it (transposed convolution). */
export function conv2dBackwardInput(
  g: Conv2dGeometry,
  gradOutput: Float32Array,
  weight: Float32Array,
  gradInput: Float32Array,
): void {
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  const { batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth } = g;
  gradInput.fill(0, 0, batch * inChannels * inHeight * inWidth);
  for (let n = 0; n < batch; n++) {
    for (let oc = 0; oc < outChannels; oc++) {
      const outBase = (n * outChannels + oc) * outH * outW;
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const grad = gradOutput[outBase + oy * outW + ox];
          if (grad === 0) continue;
          for (let ic = 0; ic < inChannels; ic++) {
            const inBase = (n * inChannels + ic) * inHeight * inWidth;
            const wBase = (oc * inChannels + ic) * kernelHeight * kernelWidth;
            for (let ky = 0; ky < kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padHeight + ky;
              if (iy < 0 || iy >= inHeight) continue;
              for (let kx = 0; kx < kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padWidth + kx;
                if (ix < 0 || ix >= inWidth) continue;
                gradInput[inBase + iy * inWidth + ix] += grad * weight[wBase + ky * kernelWidth + kx];
              }
            }
          }
        }
      }
    }
  }
}
