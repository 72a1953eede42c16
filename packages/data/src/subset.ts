import { ImageSet, takeImages } from './imageSet';

export interface SubsetOptions {
  /** Keep at most this many images, the same number per class (the first ones in file order). */
  limit?: number;
  /** Keep only these labels, relabelled 0..k-1 in the order given (e.g. [3, 5]: cat -> 0, dog -> 1). */
  classes?: readonly number[];
}

/**
 * A class-balanced and/or class-restricted copy of `set` (on new shared buffers), images kept in
 * their original order. With `limit`, each of the k classes gets floor(limit/k) images and the
 * first limit mod k classes one more, so `--limit-train 1000` on CIFAR-10 is 100 per class.
 * Deterministic (no RNG): the same flags give the same subset on every run.
 */
export function subset(set: ImageSet, options: SubsetOptions = {}): ImageSet {
  const { chosen, newLabel } = chooseSubset(set.labels.subarray(0, set.count), options);
  return takeImages(set, chosen, (label) => newLabel[label]);
}

/**
 * Which images `subset` keeps of a set with these labels (their indices, in order) and each old
 * label's new one (-1: dropped): what a reader that streams a split needs, from its labels alone.
 */
export function chooseSubset(labels: Uint8Array, options: SubsetOptions = {}): { chosen: number[]; newLabel: Int16Array } {
  const classCount = options.classes ? 0 : maxLabel(labels) + 1;
  const classes = options.classes ? [...options.classes] : Array.from({ length: classCount }, (_, i) => i);
  validateClasses(classes, options.classes !== undefined);
  // newLabel[oldLabel] = position in `classes`, or -1 to drop.
  const newLabel = new Int16Array(256).fill(-1);
  classes.forEach((c, i) => (newLabel[c] = i));

  const available = new Array<number>(classes.length).fill(0);
  for (const label of labels) {
    const l = newLabel[label];
    if (l >= 0) available[l]++;
  }
  const kept = available.reduce((a, b) => a + b, 0);
  const quota = quotas(options.limit, classes, available, kept);

  const taken = new Array<number>(classes.length).fill(0);
  const chosen: number[] = [];
  labels.forEach((label, i) => {
    const l = newLabel[label];
    if (l >= 0 && taken[l] < quota[l]) {
      taken[l]++;
      chosen.push(i);
    }
  });
  return { chosen, newLabel };
}

function quotas(limit: number | undefined, classes: number[], available: number[], kept: number): number[] {
  if (limit === undefined) return available;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new RangeError(`subset: limit must be a positive integer, got ${limit}`);
  }
  if (limit > kept) {
    throw new RangeError(`subset: limit ${limit} is more than the ${kept} images of the selected classes; use at most ${kept}`);
  }
  const k = classes.length;
  return classes.map((c, i) => {
    const want = Math.floor(limit / k) + (i < limit % k ? 1 : 0);
    if (want > available[i]) {
      const most = Math.min(...available) * k;
      throw new RangeError(
        `subset: a class-balanced limit of ${limit} needs ${want} images of label ${c}, which has only ${available[i]}; ` +
          `use a limit of at most ${most}`,
      );
    }
    return want;
  });
}

function validateClasses(classes: number[], given: boolean): void {
  if (given && classes.length === 0) throw new RangeError('subset: classes is empty; give at least one label');
  const seen = new Set<number>();
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c > 255) throw new RangeError(`subset: class ${c} is not a label (0-255)`);
    if (seen.has(c)) throw new RangeError(`subset: class ${c} is listed twice`);
    seen.add(c);
  }
}

function maxLabel(labels: Uint8Array): number {
  let max = -1;
  for (const label of labels) if (label > max) max = label;
  return max;
}

/**
 * Parses `--classes`: comma-separated names (case-insensitive) or label indices, e.g. 'cat,dog'
 * or '3,5', into labels in the order given. At least two classes (a classifier needs them).
 */
export function parseClasses(spec: string, classNames: readonly string[]): number[] {
  const parts = spec.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const lower = classNames.map((n) => n.toLowerCase());
  const labels = parts.map((part) => {
    if (/^\d+$/.test(part)) {
      const index = Number(part);
      if (index >= classNames.length) {
        throw new RangeError(`--classes: index ${index} is out of range; expected 0-${classNames.length - 1} or a name (${classNames.join(', ')})`);
      }
      return index;
    }
    const index = lower.indexOf(part.toLowerCase());
    if (index < 0) throw new RangeError(`--classes: unknown class ${JSON.stringify(part)}; expected one of ${classNames.join(', ')} or 0-${classNames.length - 1}`);
    return index;
  });
  const duplicate = labels.find((l, i) => labels.indexOf(l) !== i);
  if (duplicate !== undefined) throw new RangeError(`--classes: ${classNames[duplicate]} (${duplicate}) is listed twice in ${JSON.stringify(spec)}`);
  if (labels.length < 2) {
    throw new RangeError(`--classes: need at least 2 classes to train a classifier, got ${JSON.stringify(spec)} (e.g. --classes cat,dog)`);
  }
  return labels;
}
