import { Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth } from '../shapes';

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
  const { batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth } = g;
  for (let n = 0; n < batch; n++) {
    for (let oc = 0; oc < outChannels; oc++) {
      const outBase = (n * outChannels + oc) * outH * outW;
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let sum = bias ? bias[oc] : 0;
          for (let ic = 0; ic < inChannels; ic++) {
            const inBase = (n * inChannels + ic) * inHeight * inWidth;
            const wBase = (oc * inChannels + ic) * kernelHeight * kernelWidth;
            for (let ky = 0; ky < kernelHeight; ky++) {
              const iy = oy * g.strideHeight - g.padHeight + ky;
              if (iy < 0 || iy >= inHeight) continue;
              for (let kx = 0; kx < kernelWidth; kx++) {
                const ix = ox * g.strideWidth - g.padWidth + kx;
                if (ix < 0 || ix >= inWidth) continue;
                sum += input[inBase + iy * inWidth + ix] * weight[wBase + ky * kernelWidth + kx];
              }
            }
          }
          output[outBase + oy * outW + ox] = sum;
        }
      }
    }
  }
}
