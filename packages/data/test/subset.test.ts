import { countPerClass, CIFAR10_CLASS_NAMES, imageAt, isSharedImageSet, parseClasses, selectSubsets, subset } from '../src';
import { syntheticSet } from './helpers';

describe('subset', () => {
  const set = syntheticSet(200); // labels i mod 10: 20 per class

  test('limit is class-balanced, first images in file order, on shared memory', () => {
    const small = subset(set, { limit: 50 });
    expect(small.count).toBe(50);
    expect(countPerClass(small, 10)).toEqual(new Array(10).fill(5));
    expect(isSharedImageSet(small)).toBe(true);
    // Label 3's images are 3, 13, 23, ...: the subset keeps the first five, in order.
    expect(Buffer.from(imageAt(small, 3)).equals(Buffer.from(imageAt(set, 3)))).toBe(true);
    expect(Buffer.from(imageAt(small, 13)).equals(Buffer.from(imageAt(set, 13)))).toBe(true);
  });

  test('a limit not divisible by the class count gives the first classes one more', () => {
    expect(countPerClass(subset(set, { limit: 23 }), 10)).toEqual([3, 3, 3, 2, 2, 2, 2, 2, 2, 2]);
  });

  test('classes keeps only those labels, relabelled 0..k-1 in the order given', () => {
    const dogCat = subset(set, { classes: [5, 3] });
    expect(dogCat.count).toBe(40);
    expect(countPerClass(dogCat, 2)).toEqual([20, 20]);
    // Images keep file order: 3 (cat, now 1) comes first, then 5 (dog, now 0), then 13, 15, ...
    expect(Array.from(dogCat.labels.subarray(0, 4))).toEqual([1, 0, 1, 0]);
    expect(Buffer.from(imageAt(dogCat, 0)).equals(Buffer.from(imageAt(set, 3)))).toBe(true);
    expect(Buffer.from(imageAt(dogCat, 3)).equals(Buffer.from(imageAt(set, 15)))).toBe(true);
    const limited = subset(set, { classes: [3, 5], limit: 10 });
    expect(countPerClass(limited, 2)).toEqual([5, 5]);
  });

  test('rejects limits it cannot balance and bad class lists', () => {
    expect(() => subset(set, { limit: 201 })).toThrow(/\blimit 201\b.*\b200 images\b/);
    expect(() => subset(set, { limit: 0 })).toThrow(/limit must be a positive integer/);
    expect(() => subset(set, { classes: [3, 3] })).toThrow(/class 3 is listed twice/);
    const skewed = syntheticSet(30, 10);
    skewed.labels[9] = 0; // label 9 now has 2 images, label 0 has 4
    expect(() => subset(skewed, { limit: 30 })).toThrow(/\b3 images of label 9\b.*\bonly 2\b.*\blimit of at most 20\b/);
  });
});

describe('parseClasses', () => {
  test('names (any case) or indices, in the order given', () => {
    expect(parseClasses('cat,dog', CIFAR10_CLASS_NAMES)).toEqual([3, 5]);
    expect(parseClasses(' Dog , CAT ', CIFAR10_CLASS_NAMES)).toEqual([5, 3]);
    expect(parseClasses('3,5', CIFAR10_CLASS_NAMES)).toEqual([3, 5]);
    expect(parseClasses('airplane,9,ship', CIFAR10_CLASS_NAMES)).toEqual([0, 9, 8]);
  });

  test('unknown names, out-of-range indices, duplicates and single classes are errors that list the choices', () => {
    expect(() => parseClasses('cat,wolf', CIFAR10_CLASS_NAMES)).toThrow(/"wolf".*\bairplane, automobile\b/);
    expect(() => parseClasses('3,10', CIFAR10_CLASS_NAMES)).toThrow(/\b10\b.*\b0-9\b/);
    expect(() => parseClasses('cat,3', CIFAR10_CLASS_NAMES)).toThrow(/cat \(3\) is listed twice/);
    expect(() => parseClasses('cat', CIFAR10_CLASS_NAMES)).toThrow(/need at least 2 classes/);
  });
});

describe('selectSubsets (the trainer flags)', () => {
  const data = { train: syntheticSet(200), test: syntheticSet(50), classNames: [...CIFAR10_CLASS_NAMES], dataDir: '/d' };

  test('--classes cat,dog --limit-train 20 --limit-test 6: same relabelling on both sets, names narrowed', () => {
    const sel = selectSubsets(data, { classes: 'cat,dog', limitTrain: 20, limitTest: 6 });
    expect(sel.classNames).toEqual(['cat', 'dog']);
    expect(countPerClass(sel.train, 2)).toEqual([10, 10]);
    expect(countPerClass(sel.test, 2)).toEqual([3, 3]);
    expect(Buffer.from(imageAt(sel.test, 0)).equals(Buffer.from(imageAt(data.test, 3)))).toBe(true);
  });

  test('limits alone keep all classes; no flags return the sets untouched', () => {
    const sel = selectSubsets(data, { limitTrain: 30 });
    expect(countPerClass(sel.train, 10)).toEqual(new Array(10).fill(3));
    expect(sel.test).toBe(data.test);
    expect(selectSubsets(data, {}).train).toBe(data.train);
  });
});
