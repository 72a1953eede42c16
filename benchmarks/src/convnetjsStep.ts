import * as convnetjs from 'convnetjs';

export interface ConvNetJsMeasurement {
  imagesPerSecond: number;
  imagesPerCpuSecond: number;
  images: number;
}

/**
 * The same training step in ConvNetJS 0.3 (pure JS, one image at a time, updates every batch_size
 * images). Layers as the recipe network: three conv-conv-pool blocks 32/64/128 with ReLU, then the
 * classifier. ConvNetJS has no global average pooling, so a 4x4 max-pool stands in for it (its
 * cost is negligible either way). ConvNetJS runs about 4 images/s here, so this times a few images
 * after a warm-up instead of whole batches.
 */
export function measureConvNetJsStep(budgetSeconds: number, maxImages = 32): ConvNetJsMeasurement {
  const layers: convnetjs.LayerDef[] = [{ type: 'input', out_sx: 32, out_sy: 32, out_depth: 3 }];
  for (const filters of [32, 64, 128]) {
    layers.push({ type: 'conv', sx: 3, filters, stride: 1, pad: 1, activation: 'relu' });
    layers.push({ type: 'conv', sx: 3, filters, stride: 1, pad: 1, activation: 'relu' });
    layers.push({ type: 'pool', sx: 2, stride: 2 });
  }
  layers.push({ type: 'pool', sx: 4, stride: 4 });
  layers.push({ type: 'softmax', num_classes: 10 });
  const net = new convnetjs.Net();
  net.makeLayers(layers);
  const trainer = new convnetjs.SGDTrainer(net, { method: 'sgd', learning_rate: 0.01, momentum: 0.9, batch_size: 32, l2_decay: 5e-4 });
  const image = new convnetjs.Vol(32, 32, 3, 0);
  for (let i = 0; i < image.w.length; i++) image.w[i] = Math.sin(i * 0.37) * 1.5;

  trainer.train(image, 0); // warm-up: JIT and allocation of every layer's buffers
  let images = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (images < maxImages && (images < 3 || elapsed < budgetSeconds)) {
    trainer.train(image, images % 10);
    images++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  return { imagesPerSecond: images / elapsed, imagesPerCpuSecond: images / ((cpu.user + cpu.system) / 1e6), images };
}
