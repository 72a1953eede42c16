/** [N, C, H, W] -> [N, C]: the mean of each plane. */
export function globalAvgPool(batch: number, channels: number, height: number, width: number, input: Float32Array, output: Float32Array): void {
  const planeSize = height * width;
  for (let p = 0; p < batch * channels; p++) {
    let sum = 0;
    for (let i = 0; i < planeSize; i++) sum += input[p * planeSize + i];
    output[p] = sum / planeSize;
  }
}

export function globalAvgPoolBackward(
  batch: number, channels: number, height: number, width: number, gradOutput: Float32Array, gradInput: Float32Array,
): void {
  const planeSize = height * width;
  for (let p = 0; p < batch * channels; p++) {
    gradInput.fill(gradOutput[p] / planeSize, p * planeSize, (p + 1) * planeSize);
  }
}
