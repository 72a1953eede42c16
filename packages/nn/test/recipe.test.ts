import { Tensor } from '@convoy/tensor';
import { buildModel, countParameters, createParameters, recipeNet, recipePlan, softmaxCrossEntropy } from '../src';

describe('recipeNet', () => {
  it('CIFAR (R=32, width 32): blocks 3->32->64->128 over sides 32->16->8->4, GAP, Linear 128->10, 288,298 parameters', () => {
    const plan = recipePlan({ resolution: 32, classes: 10, width: 32 });
    expect(plan.frontend).toBe(false);
    expect(plan.blocks).toEqual([
      { inChannels: 3, outChannels: 32, inSide: 32, outSide: 16 },
      { inChannels: 32, outChannels: 64, inSide: 16, outSide: 8 },
      { inChannels: 64, outChannels: 128, inSide: 8, outSide: 4 },
    ]);
    // docs/ARCHITECTURE.md: 38.6 M multiply-adds per image forward
    expect(plan.multiplyAdds).toBe(32 * 32 * 9 * (3 * 32 + 32 * 32) + 16 * 16 * 9 * (32 * 64 + 64 * 64) + 8 * 8 * 9 * (64 * 128 + 128 * 128) + 128 * 10);
    expect(plan.multiplyAdds / 1e6).toBeCloseTo(38.6, 1);
    const model = recipeNet({ resolution: 32, classes: 10, width: 32 });
    // 3*32*9+32 + 32*32*9+32 + 32*64*9+64 + 64*64*9+64 + 64*128*9+128 + 128*128*9+128 + 128*10+10
    expect(countParameters(model)).toBe(896 + 9248 + 18496 + 36928 + 73856 + 147584 + 1290);
    expect(countParameters(model)).toBe(288298);
  });

  it('R=224: the 7x7 stride-2 front end, then blocks until the side is below 7, widths capped at 512', () => {
    const plan = recipePlan({ resolution: 224, classes: 1000, width: 128 });
    expect(plan.frontend).toBe(true);
    expect(plan.sideAfterFrontend).toBe(56);
    expect(plan.blocks.map((b) => [b.inChannels, b.outChannels, b.inSide])).toEqual([
      [128, 128, 56], [128, 256, 28], [256, 512, 14], [512, 512, 7],
    ]);
    expect(plan.features).toBe(512);
    expect(plan.multiplyAdds).toBe(
      112 * 112 * 128 * 3 * 49 + 56 * 56 * 9 * (128 * 128 * 2) + 28 * 28 * 9 * (128 * 256 + 256 * 256) + 14 * 14 * 9 * (256 * 512 + 512 * 512) + 7 * 7 * 9 * (512 * 512 * 2) + 512 * 1000,
    );
    expect(recipePlan({ resolution: 99, classes: 2, width: 8 }).frontend).toBe(false);
    expect(recipePlan({ resolution: 100, classes: 2, width: 8 }).blocks.map((b) => b.inSide)).toEqual([25, 12]);
  });

  it('buildModel rebuilds the same model from plain JSON', () => {
    const spec = JSON.parse(JSON.stringify({ kind: 'recipe', resolution: 16, classes: 4, width: 4 }));
    const a = buildModel(spec);
    const b = buildModel(spec);
    expect(a.parameterSpecs()).toEqual(b.parameterSpecs());
    const pa = createParameters(a, { seed: 9 });
    const pb = createParameters(b, { seed: 9 });
    expect(Array.from(pb.params.data)).toEqual(Array.from(pa.params.data));
  });

  it('the CIFAR network runs forward and backward on a batch', () => {
    const model = recipeNet({ resolution: 32, classes: 10, width: 32 });
    const { grads } = createParameters(model, { seed: 1 });
    const x = Tensor.zeros([2, 3, 32, 32]);
    x.data.forEach((_, i) => (x.data[i] = Math.sin(i)));
    const logits = model.forward(x);
    expect(logits.shape).toEqual([2, 10]);
    const { loss, gradLogits } = softmaxCrossEntropy(logits, [3, 7]);
    expect(loss).toBeGreaterThan(1.5);
    expect(loss).toBeLessThan(3.5);
    const gx = model.backward(gradLogits);
    expect(gx.shape).toEqual([2, 3, 32, 32]);
    expect(grads.tensor('features.0.conv1.weight').data.some((v) => v !== 0)).toBe(true);
    expect(grads.tensor('classifier.bias').data.some((v) => v !== 0)).toBe(true);
  });
});
