import { Cifar10 } from './readCifar10';
import { parseClasses, subset } from './subset';

export interface SubsetFlags {
  /** --classes: 'cat,dog', '3,5', or labels; the kept classes are relabelled 0..k-1 in this order. */
  classes?: string | readonly number[];
  /** --limit-train N / --limit-test N: class-balanced caps. */
  limitTrain?: number;
  limitTest?: number;
}

/**
 * The trainer's data flags in one call: restricts both sets to the same classes (relabelled
 * alike, with `classNames` narrowed to match) and caps each set class-balanced. Without flags the
 * input is returned as is (no copy).
 */
export function selectSubsets(data: Cifar10, flags: SubsetFlags): Cifar10 {
  const classes =
    flags.classes === undefined ? undefined : typeof flags.classes === 'string' ? parseClasses(flags.classes, data.classNames) : [...flags.classes];
  const pick = (set: Cifar10['train'], limit: number | undefined) =>
    classes === undefined && limit === undefined ? set : subset(set, { classes, limit });
  return {
    train: pick(data.train, flags.limitTrain),
    test: pick(data.test, flags.limitTest),
    classNames: classes ? classes.map((c) => data.classNames[c]) : data.classNames,
    dataDir: data.dataDir,
  };
}
