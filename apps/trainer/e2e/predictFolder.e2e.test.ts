import { basename, dirname, join } from 'node:path';
import { catDogWork } from './catDog';

/**
 * `convoy predict` over an image folder's test images gives `convoy eval --data`'s accuracy: a
 * short run on a linked subset of the real cat-dog JPEGs ($CATDOG_DIR, else cat-dog-jpeg beside
 * $CIFAR10_DIR), then both commands of the built CLI on its test folder.
 */
const { dir: work, convoy, linkedSubset } = catDogWork('convoy-predict-e2e-');

describe('convoy predict on an image folder (built CLI, real JPEGs)', () => {
  it("gives convoy eval --data's accuracy on the folder's test images", () => {
    const root = linkedSubset('cat-dog', { train: 200, test: 50 });
    const run = join(work, 'run');
    const trained = convoy(['train', '--data', root, '--threads', '2', '--epochs', '4', '--batch-size', '32', '--width', '8',
      '--optimizer', 'adamw', '--lr', '0.002', '--schedule', 'constant', '--no-augment', '--checkpoint-dir', run]);
    expect(trained.code).toBe(0);

    const evaluated = convoy(['eval', run, '--data', root, '--threads', '2', '--json']);
    expect(evaluated.code).toBe(0);
    const { images, testAccuracy } = JSON.parse(evaluated.out);
    expect(images).toBe(100);

    const predicted = convoy(['predict', run, join(root, 'test'), '--threads', '2', '--json']);
    expect(predicted.code).toBe(0);
    const lines = predicted.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; top: Array<{ className: string }> });
    expect(lines).toHaveLength(100);
    expect(new Set(lines.map((l) => l.top[0].className)).size).toBe(2); // not a constant answer: the comparison means something
    const correct = lines.filter((l) => l.top[0].className === basename(dirname(l.file))).length;
    expect(correct / 100).toBe(testAccuracy);
    expect(predicted.err).toMatch(new RegExp(`accuracy ${(100 * testAccuracy).toFixed(2)}% \\(${correct}/100\\)`));
  });
});
