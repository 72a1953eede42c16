import { chanceAccuracyBound, chanceLevel, describeCollapse, detectCollapse, warmupEpochs, type EpochSignals } from '../src/collapse';

const balanced = (classes: number, perClass: number): Uint8Array => Uint8Array.from({ length: classes * perClass }, (_, i) => i % classes);

describe('chanceLevel', () => {
  it('is ln k and 1/k for balanced labels', () => {
    const ten = chanceLevel(balanced(10, 100), balanced(10, 50), 10);
    expect(ten.loss).toBeCloseTo(Math.log(10), 12);
    expect(ten.accuracy).toBeCloseTo(0.1, 12);
    const two = chanceLevel(balanced(2, 5), balanced(2, 3), 2);
    expect(two.loss).toBeCloseTo(Math.log(2), 12);
    expect(two.accuracy).toBeCloseTo(0.5, 12);
  });

  it('is the label entropy and the commonest test share for unbalanced labels', () => {
    // 3:1 training labels: entropy -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.5623 nats; test 2 of 5 in class 1.
    const chance = chanceLevel(Uint8Array.from([0, 0, 0, 1]), Uint8Array.from([0, 1, 1, 2, 2]), 3);
    expect(chance.loss).toBeCloseTo(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)), 12);
    expect(chance.accuracy).toBeCloseTo(0.4, 12);
  });

  it('takes 1/k without a test set and refuses labels outside the classes', () => {
    expect(chanceLevel(balanced(4, 2), null, 4).accuracy).toBe(0.25);
    expect(() => chanceLevel(Uint8Array.from([0, 3]), null, 3)).toThrow(/\blabel 3 at 1\b.*\b0\.\.2\b/);
    expect(() => chanceLevel(Uint8Array.from([0]), null, 0)).toThrow(/positive integer/);
  });
});

describe('chanceAccuracyBound', () => {
  it('is chance plus three binomial standard errors, narrowing with the test size', () => {
    const chance = { loss: Math.log(10), accuracy: 0.1 };
    expect(chanceAccuracyBound(chance, 10_000)).toBeCloseTo(0.1 + 3 * Math.sqrt(0.09 / 10_000), 12); // 10.90%
    expect(chanceAccuracyBound({ loss: Math.log(2), accuracy: 0.5 }, 2000)).toBeCloseTo(0.5 + 3 * Math.sqrt(0.25 / 2000), 12); // 53.35%
    expect(chanceAccuracyBound(chance, 100)).toBeGreaterThan(chanceAccuracyBound(chance, 1000));
  });
});

describe('warmupEpochs', () => {
  it('is the warm-up fraction of the run for onecycle and cosine, none for step and constant', () => {
    expect(warmupEpochs({ schedule: 'onecycle', warmup: 0.3, epochs: 15 })).toBeCloseTo(4.5, 12);
    expect(warmupEpochs({ schedule: 'cosine', warmup: 0.1, epochs: 10 })).toBeCloseTo(1, 12);
    expect(warmupEpochs({ schedule: 'step', warmup: 0.3, epochs: 15 })).toBe(0);
    expect(warmupEpochs({ schedule: 'constant', warmup: 0.3, epochs: 15 })).toBe(0);
  });
});

describe('detectCollapse', () => {
  const ten = { loss: Math.log(10), accuracy: 0.1 };
  const epoch = (over: Partial<EpochSignals>): EpochSignals => ({
    epoch: 2, epochs: 2, warmupEpochs: 0.6, trainLoss: 1.2, test: { accuracy: 0.6, count: 10_000 }, ...over,
  });

  it('finds nothing in a run that learns', () => {
    expect(detectCollapse(ten, epoch({}))).toBeNull();
  });

  it("flags the issue's run: loss 2.3030 and 10.00% on 10,000 test images after 2 epochs", () => {
    const found = detectCollapse(ten, epoch({ trainLoss: 2.303, test: { accuracy: 0.1, count: 10_000 } }));
    expect(found).toMatchObject({ epoch: 2, lossAtChance: true, accuracyAtChance: true, testAccuracy: 0.1, testCount: 10_000 });
    expect(describeCollapse(found!)).toBe(
      'training loss 2.3030 is at the loss of a constant guess (2.3026); ' +
        'test accuracy 10.00% on 10000 images is at chance (10.00%; up to 10.90% is within 3 standard errors of it)',
    );
  });

  it('flags each signal on its own', () => {
    const lossOnly = detectCollapse(ten, epoch({ trainLoss: 2.29, test: null }));
    expect(lossOnly).toMatchObject({ lossAtChance: true, accuracyAtChance: false });
    expect(detectCollapse(ten, epoch({ epoch: 1, trainLoss: 2.29, test: { accuracy: 0.1, count: 10_000 } }))).toMatchObject({ lossAtChance: true, accuracyAtChance: false });
    expect(describeCollapse(lossOnly!)).not.toMatch(/test accuracy/);
    // A loss above chance (worse than a constant guess) is a collapse too.
    const diverged = detectCollapse(ten, epoch({ trainLoss: 3.5, test: null }));
    expect(diverged).toMatchObject({ lossAtChance: true });
    expect(describeCollapse(diverged!)).toMatch(/^training loss 3\.5000 is above the loss of a constant guess \(2\.3026\)/);
    const accuracyOnly = detectCollapse(ten, epoch({ trainLoss: 1.5, test: { accuracy: 0.105, count: 10_000 } }));
    expect(accuracyOnly).toMatchObject({ lossAtChance: false, accuracyAtChance: true });
    expect(describeCollapse(accuracyOnly!)).toMatch(/^test accuracy 10\.50% on 10000 images is at chance/);
  });

  it('takes a test accuracy clearly above chance over a loss near it (a slow start, not a collapse)', () => {
    // Measured: the recipe on 10,000 CIFAR-10 images, epoch 5 of 5: loss 2.2813, 17.45% of 2,000 test images.
    expect(detectCollapse(ten, epoch({ epoch: 5, epochs: 5, warmupEpochs: 1.5, trainLoss: 2.2813, test: { accuracy: 0.1745, count: 2000 } }))).toBeNull();
    // Its epoch 3: loss 2.3028, 10.20%: both at chance.
    expect(detectCollapse(ten, epoch({ epoch: 3, epochs: 5, warmupEpochs: 1.5, trainLoss: 2.3028, test: { accuracy: 0.102, count: 2000 } }))).toMatchObject({ lossAtChance: true, accuracyAtChance: false });
  });

  it('draws the loss line at 1% below the chance loss', () => {
    expect(detectCollapse(ten, epoch({ trainLoss: Math.log(10) * 0.991, test: null }))?.lossAtChance).toBe(true);
    expect(detectCollapse(ten, epoch({ trainLoss: Math.log(10) * 0.985, test: null }))).toBeNull();
  });

  it('draws the accuracy line by the test size: 12% is chance on 200 images, not on 10,000', () => {
    expect(detectCollapse(ten, epoch({ test: { accuracy: 0.12, count: 200 } }))?.accuracyAtChance).toBe(true);
    expect(detectCollapse(ten, epoch({ test: { accuracy: 0.12, count: 10_000 } }))).toBeNull();
  });

  it('counts the test accuracy in the last epoch only (mid-run it lags a network whose loss already falls)', () => {
    const twoClasses = { loss: Math.log(2), accuracy: 0.5 };
    // Measured: epoch 1 of 2, loss 0.6828 falling, every test image still called one class (50.00% of 400).
    expect(detectCollapse(twoClasses, epoch({ epoch: 1, trainLoss: 0.6828, test: { accuracy: 0.5, count: 400 } }))).toBeNull();
    expect(detectCollapse(twoClasses, epoch({ epoch: 2, trainLoss: 0.55, test: { accuracy: 0.5, count: 400 } }))).toMatchObject({ accuracyAtChance: true });
  });

  it('judges nothing before warm-up ends, except in the last epoch', () => {
    const stalled = { trainLoss: 2.31, test: { accuracy: 0.1, count: 10_000 } };
    expect(detectCollapse(ten, epoch({ ...stalled, epoch: 3, epochs: 15, warmupEpochs: 4.5 }))).toBeNull();
    expect(detectCollapse(ten, epoch({ ...stalled, epoch: 5, epochs: 15, warmupEpochs: 4.5 }))).not.toBeNull();
    expect(detectCollapse(ten, epoch({ ...stalled, epoch: 1, epochs: 1, warmupEpochs: 1 }))).not.toBeNull();
  });

  it('judges the loss alone without a test set, and ignores a non-finite loss (divergence is its own error)', () => {
    expect(detectCollapse(ten, epoch({ trainLoss: 2.31, test: null }))).toMatchObject({ lossAtChance: true, accuracyAtChance: false, testAccuracy: null });
    expect(detectCollapse(ten, epoch({ trainLoss: 1.0, test: null }))).toBeNull();
    expect(detectCollapse(ten, epoch({ trainLoss: Number.NaN }))).toBeNull();
  });
});
