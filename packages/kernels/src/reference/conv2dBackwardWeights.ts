import { Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth } from '../shapes';

/** dL/dW[oc, ic, ky, kx] = sum over batch and output positions of dY * X at the matching input position. */
export function conv2dBackwardWeights(
  g: Conv2dGeometry, input: Float32Array, gradOutput: Float32Array, gradWeight: Float32Array, gradBias: Float32Array | null,
): void {
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  const { batch, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth } = g;
  for (let oc = 0; oc < outChannels; oc++) {
    for (let ic = 0; ic < inChannels; ic++) {
      for (let ky = 0; ky < kernelHeight; ky++) {
        for (let kx = 0; kx < kernelWidth; kx++) {
          let sum = 0;
          for (let n = 0; n < batch; n++) {
            const outBase = (n * outChannels + oc) * outH * outW;
            const inBase = (n * inChannels + ic) * inHeight * inWidth;
            for (let oy = 0; oy < outH; oy++) {
              const iy = oy * g.strideHeight - g.padHeight + ky;
              if (iy < 0 || iy >= inHeight) continue;
              for (let ox = 0; ox < outW; ox++) {
                const ix = ox * g.strideWidth - g.padWidth + kx;
                if (ix < 0 || ix >= inWidth) continue;
                sum += gradOutput[outBase + oy * outW + ox] * input[inBase + iy * inWidth + ix];
              }
            }
          }
          gradWeight[((oc * inChannels + ic) * kernelHeight + ky) * kernelWidth + kx] = sum;
        }
      }
    }
    if (gradBias) {
      let sum = 0;
      for (let n = 0; n < batch; n++) {
        const outBase = (n * outChannels + oc) * outH * outW;
        for (let i = 0; i < outH * outW; i++) sum += gradOutput[outBase + i];
      }
      gradBias[oc] = sum;
    }
  }
}
