import { referenceBackend } from '@convoy/kernels';
import { Rng, Tensor } from '@convoy/tensor';
import { buildModel, createParameters, ttaLogits, ttaViews, writeTtaView, type ModelSpec } from '../src';

// A small recipe network whose logits are not mirror-symmetric (random weights), on 2 images of 3x8x8.
const spec: ModelSpec = { kind: 'recipe', resolution: 8, classes: 5, width: 4 };
const shape = [2, 3, 8, 8];

function network() {
  const model = buildModel(spec, { backend: referenceBackend });
  createParameters(model, { seed: 3 });
  model.eval();
  return model;
}

function images(): Tensor {
  const rng = new Rng(5);
  return Tensor.from(Array.from({ length: 2 * 3 * 64 }, () => rng.normal()), shape);
}

/** The images mirrored left-right, written out by index (independent of writeTtaView). */
function mirrored(x: Tensor): Tensor {
  const out = Tensor.zeros(x.shape);
  for (let p = 0; p < 6; p++) for (let y = 0; y < 8; y++) for (let c = 0; c < 8; c++) out.data[p * 64 + y * 8 + c] = x.data[p * 64 + y * 8 + (7 - c)];
  return out;
}

describe('test-time augmentation', () => {
  it('flip: the mean of the logits of the image and of its mirror, each computed in its own pass', () => {
    const x = images();
    const model = network();
    const plain = Float64Array.from(model.forward(x).data);
    const mirror = Float64Array.from(model.forward(mirrored(x)).data);
    const averaged = ttaLogits(network(), x, 'flip');
    expect(averaged.shape).toEqual([2, 5]);
    const expected = plain.map((v, i) => Math.fround((v + mirror[i]) / 2));
    expect(Array.from(averaged.data)).toEqual(Array.from(expected));
    // The mirror changes this network's logits: the average is not the plain pass.
    expect(plain.some((v, i) => Math.abs(v - mirror[i]) > 1e-4)).toBe(true);
  });

  it("flip-translate: airbench94's six views, 1/4 on the image and its mirror, 1/8 on each one-pixel shift (reflected) and its mirror", () => {
    const views = ttaViews('flip-translate');
    expect(views.map((v) => [v.flip, v.shift, v.weight])).toEqual([[false, 0, 0.25], [true, 0, 0.25], [false, -1, 0.125], [true, -1, 0.125], [false, 1, 0.125], [true, 1, 0.125]]);
    const x = images();
    // Shift -1: the view's (y, x) is the image's (y - 1, x - 1), row and column -1 reflected to 1 (PyTorch's 'reflect' pad, then a crop).
    const up = writeTtaView(x, { flip: false, shift: -1, weight: 1 }, Tensor.zeros(x.shape)).data;
    expect(up[3 * 8 + 5]).toBe(x.data[2 * 8 + 4]);
    expect(up[0]).toBe(x.data[1 * 8 + 1]);
    const down = writeTtaView(x, { flip: false, shift: 1, weight: 1 }, Tensor.zeros(x.shape)).data;
    expect(down[7 * 8 + 7]).toBe(x.data[6 * 8 + 6]);
    expect(down[2 * 8 + 3]).toBe(x.data[3 * 8 + 4]);
    // Mirror after the shift: the mirrored view of the shifted image.
    const both = writeTtaView(x, { flip: true, shift: 1, weight: 1 }, Tensor.zeros(x.shape)).data;
    const shiftedThenMirrored = mirrored(new Tensor(Float32Array.from(down), x.shape)).data;
    expect(Array.from(both)).toEqual(Array.from(shiftedThenMirrored));

    const model = network();
    const sum = new Float64Array(10);
    for (const view of views) {
      const logits = model.forward(writeTtaView(x, view, Tensor.zeros(x.shape))).data;
      for (let i = 0; i < 10; i++) sum[i] += view.weight * logits[i];
    }
    expect(Array.from(ttaLogits(network(), x, 'flip-translate').data)).toEqual(Array.from(Float32Array.from(sum)));
  });

  it("none is the plain forward; the caller's plain logits stand in for the unshifted view", () => {
    const x = images();
    const plain = network().forward(x);
    expect(Array.from(ttaLogits(network(), x, 'none').data)).toEqual(Array.from(plain.data));
    const given = ttaLogits(network(), x, 'flip', Tensor.from(Array.from(plain.data), plain.shape));
    expect(Array.from(given.data)).toEqual(Array.from(ttaLogits(network(), x, 'flip').data));
    expect(() => ttaViews('rotate' as never)).toThrow(/none, flip, flip-translate.*"rotate"/);
  });
});
