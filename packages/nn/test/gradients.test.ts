import {
  AvgPool2d, Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, recipeNet, ReLU, Sequential,
} from '../src';
import { distinctValues, gradCheck } from './gradcheck';

/** float32 backward vs float64 differences: float32 rounding gives ~1e-7 here, a real bug O(1e-2) or more. */
const TOL = 1e-5;

function expectGradients(result: ReturnType<typeof gradCheck>, maxSkippedFraction = 0): void {
  if (process.env.CONVOY_GRAD_REPORT) console.log(`${expect.getState().currentTestName}: worst ${result.worst.toExponential(2)} (${result.worstName}), forward ${result.forwardError.toExponential(2)}, checked ${result.checked}, skipped ${result.skipped}`);
  if (result.worst > TOL) throw new Error(`gradient mismatch in ${result.worstName}: relative error ${result.worst}`);
  expect(result.forwardError).toBeLessThan(1e-5);
  expect(result.checked).toBeGreaterThan(0);
  expect(result.skipped).toBeLessThanOrEqual(maxSkippedFraction * (result.checked + result.skipped));
}

describe('Conv2d gradients vs central finite differences', () => {
  const cases: [string, ConstructorParameters<typeof Conv2d>, number[]][] = [
    ['3x3 stride 1 padding 1', [3, 4, 3, { padding: 1 }], [2, 3, 5, 7]],
    ['3x3 stride 2 padding 0, odd size', [2, 3, 3, { stride: 2 }], [2, 2, 7, 9]],
    ['3x3 stride 2 padding 1, even size', [2, 3, 3, { stride: 2, padding: 1 }], [1, 2, 8, 6]],
    ['7x7 stride 2 padding 3 (the front end)', [3, 2, 7, { stride: 2, padding: 3 }], [2, 3, 11, 13]],
    ['1x1 no bias', [4, 3, 1, { bias: false }], [2, 4, 3, 3]],
    ['rectangular 2x3 kernel, stride [2, 1], padding [1, 0]', [2, 3, [2, 3], { stride: [2, 1], padding: [1, 0] }], [2, 2, 5, 6]],
    ['5x5 padding 3 wider than the kernel reach, no bias', [1, 2, 5, { padding: 3, bias: false }], [1, 1, 4, 5]],
  ];
  it.each(cases)('%s', (_name, args, shape) => {
    expectGradients(gradCheck(new Conv2d(...args), shape));
  });
});

describe('Linear gradients', () => {
  it('with bias', () => expectGradients(gradCheck(new Linear(5, 4), [3, 5])));
  it('without bias', () => expectGradients(gradCheck(new Linear(6, 2, { bias: false }), [1, 6])));
});

describe('activation, pooling and reshaping gradients', () => {
  it('ReLU', () => {
    expectGradients(gradCheck(new ReLU(), [2, 3, 4, 5]));
  });
  it.each([
    ['2x2 stride 2', 2, {}, [2, 3, 6, 8]],
    ['2x2 stride 2, odd size (last row/column dropped)', 2, {}, [1, 2, 7, 5]],
    ['3x3 stride 2 padding 1', 3, { stride: 2, padding: 1 }, [2, 2, 7, 7]],
    ['3x3 stride 1 (overlapping windows)', 3, { stride: 1 }, [1, 2, 5, 6]],
  ] as const)('MaxPool2d %s', (_name, k, opts, shape) => {
    expectGradients(gradCheck(new MaxPool2d(k, opts), [...shape], { fillInput: distinctValues(0.05) }));
  });
  it.each([
    ['2x2 stride 2', 2, {}, [2, 3, 6, 8]],
    ['3x3 stride 2 padding 1 (padding counts in the divisor)', 3, { stride: 2, padding: 1 }, [2, 2, 7, 5]],
    ['3x2 stride 1, odd size', [3, 2] as [number, number], { stride: 1 }, [1, 2, 5, 7]],
  ] as const)('AvgPool2d %s', (_name, k, opts, shape) => {
    expectGradients(gradCheck(new AvgPool2d(k, opts), [...shape]));
  });
  it('GlobalAvgPool2d', () => expectGradients(gradCheck(new GlobalAvgPool2d(), [2, 3, 5, 3])));
  it('Flatten', () => expectGradients(gradCheck(new Flatten(), [2, 3, 2, 2])));
});

describe('whole networks', () => {
  it('a small conv-relu-pool-linear stack', () => {
    const net = new Sequential([
      new Conv2d(2, 3, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2),
      new Conv2d(3, 4, 3, { stride: 2, padding: 1 }), new ReLU(), new AvgPool2d(2), new GlobalAvgPool2d(), new Flatten(), new Linear(4, 3),
    ]);
    expectGradients(gradCheck(net, [2, 2, 9, 7]), 0.02);
  });

  it('recipeNet at R=8 (one block)', () => {
    expectGradients(gradCheck(recipeNet({ resolution: 8, classes: 3, width: 2 }), [2, 3, 8, 8], { maxPerTensor: 60 }), 0.02);
  });

  it('recipeNet at R=100 (7x7 stride-2 front end, two blocks)', () => {
    expectGradients(gradCheck(recipeNet({ resolution: 100, classes: 2, width: 2 }), [1, 3, 100, 100], { maxPerTensor: 15 }), 0.02);
  });

  it('detects a wrong gradient (the check can fail)', () => {
    const net = new Sequential([new Conv2d(2, 3, 3, { padding: 1 }), new ReLU(), new Flatten(), new Linear(3 * 4 * 4, 2)]);
    const conv = net.children[0].module as Conv2d;
    const realBackward = conv.backward.bind(conv);
    conv.backward = (g) => {
      const gx = realBackward(g);
      gx.data[5] += 0.01 * Math.max(...Array.from(gx.data, Math.abs)); // one element off by 1%
      return gx;
    };
    const result = gradCheck(net, [1, 2, 4, 4]);
    expect(result.worstName).toBe('input');
    expect(result.worst).toBeGreaterThan(TOL);
  });
});
