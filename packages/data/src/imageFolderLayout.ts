import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '@convoy/tensor';
import { DatasetError } from './datasetError';

/** One image file of a folder dataset and its class label (index into `classNames`). */
export interface ImageFolderEntry {
  /** Path relative to the dataset root, with `/` separators (stable across machines, used in the cache key). */
  readonly file: string;
  readonly label: number;
}

/**
 * Which files make up the training and test sets. `entries` is the canonical order (class folders
 * and files sorted by name; train/ before test/): the order of the on-disk cache. `trainCount`
 * entries of `order` (indices into `entries`) form the training set, the rest the test set.
 */
export interface ImageFolderLayout {
  readonly root: string;
  readonly classNames: readonly string[];
  readonly entries: readonly ImageFolderEntry[];
  /** Position of every image in memory: order[k] is the entry at position k (train first, then test). */
  readonly order: readonly number[];
  readonly trainCount: number;
  /** 'train-test': root/train and root/test; 'split': class folders in root, split by `valSplit`. */
  readonly kind: 'train-test' | 'split';
}

export interface ImageFolderLayoutOptions {
  /** Hold out this fraction of each class (0 < f < 1) as the test set when root has no train/test folders. */
  valSplit?: number;
  /** Seed of the held-out choice (default 0). */
  seed?: number;
}

/** Labels are bytes in an ImageSet. */
export const MAX_CLASSES = 256;

/**
 * Reads the ImageFolder layout of `root`: either `train/<class>/*` and `test/<class>/*`, or
 * `<class>/*` plus `valSplit` (a seeded, per-class held-out fraction). Class names are the folder
 * names, sorted; hidden files and folders (names starting with '.') and files directly in
 * `train/` (or in root) are ignored; files in subfolders of a class folder belong to that class.
 * Whether a file really is an image is decided when it is decoded. Throws DatasetError
 * BAD_IMAGE_FOLDER (NOT_FOUND for a missing root) naming the folder and the fix.
 */
export function readImageFolderLayout(root: string, options: ImageFolderLayoutOptions = {}): ImageFolderLayout {
  const absRoot = path.resolve(root);
  if (!isDirectory(absRoot)) {
    throw new DatasetError('NOT_FOUND', `${absRoot}: no such folder. Fix: pass --data <folder> holding train/<class>/ and test/<class>/ folders, or <class>/ folders with --val-split.`);
  }
  const { valSplit } = options;
  if (valSplit !== undefined && !(valSplit > 0 && valSplit < 1)) {
    throw new RangeError(`--val-split must be a fraction between 0 and 1 (e.g. 0.1), got ${valSplit}`);
  }
  const trainDir = path.join(absRoot, 'train');
  const testDir = path.join(absRoot, 'test');
  if (isDirectory(trainDir)) {
    if (!isDirectory(testDir)) {
      throw folderError(`${absRoot} has train/ but no test/ folder. Fix: add test/<class>/ folders, or move the class folders up into ${absRoot} and pass --val-split 0.1.`);
    }
    if (valSplit !== undefined) {
      throw folderError(`${absRoot} has its own train/ and test/ folders, so --val-split has nothing to do. Fix: drop --val-split (or point --data at a folder of class folders).`);
    }
    const classNames = classFolders(trainDir);
    checkClassCount(classNames, trainDir);
    const testClasses = classFolders(testDir);
    const unknown = testClasses.filter((name) => !classNames.includes(name));
    if (unknown.length > 0) {
      throw folderError(
        `${testDir} has class folder${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} that ${trainDir} lacks ` +
          `(training classes: ${classNames.join(', ')}). Fix: rename or remove ${unknown.length > 1 ? 'them' : 'it'}, or add training images for ${unknown.length > 1 ? 'those classes' : 'that class'}.`,
      );
    }
    const train = classEntries(absRoot, 'train', classNames, classNames);
    const test = classEntries(absRoot, 'test', testClasses, classNames);
    const entries = [...train, ...test];
    return { root: absRoot, classNames, entries, order: entries.map((_, i) => i), trainCount: train.length, kind: 'train-test' };
  }
  if (isDirectory(testDir)) {
    throw folderError(`${absRoot} has test/ but no train/ folder. Fix: add train/<class>/ folders beside it.`);
  }
  const classNames = classFolders(absRoot);
  checkClassCount(classNames, absRoot);
  if (valSplit === undefined) {
    throw folderError(
      `${absRoot} has class folders (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? ', ...' : ''}) but no train/ and test/ folders. ` +
        `Fix: pass --val-split 0.1 to hold out 10% of each class for testing, or arrange it as train/<class>/ and test/<class>/.`,
    );
  }
  const entries = classEntries(absRoot, '', classNames, classNames);
  const { train, test } = stratifiedSplit(entries, classNames, valSplit, options.seed ?? 0, absRoot);
  return { root: absRoot, classNames, entries, order: [...train, ...test], trainCount: train.length, kind: 'split' };
}

/**
 * Per class: round(n * fraction) images (at least 1, at most n - 1) drawn by a seeded shuffle of
 * that class's files go to the test set. Both parts keep the canonical order.
 */
function stratifiedSplit(entries: readonly ImageFolderEntry[], classNames: readonly string[], fraction: number, seed: number, root: string) {
  const isTest = new Array<boolean>(entries.length).fill(false);
  classNames.forEach((name, label) => {
    const members = entries.map((e, i) => (e.label === label ? i : -1)).filter((i) => i >= 0);
    if (members.length < 2) {
      throw folderError(`${path.join(root, name)} has ${members.length} image file${members.length === 1 ? '' : 's'}; --val-split needs at least 2 per class (one to train on, one to test). Fix: add images to it.`);
    }
    const held = Math.min(members.length - 1, Math.max(1, Math.round(members.length * fraction)));
    // Keyed by (seed, class): adding images to one class leaves the other classes' splits alone.
    const rng = Rng.forKey(seed, 0x5e1ec7, label);
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
    for (let k = 0; k < held; k++) isTest[members[k]] = true;
  });
  const train: number[] = [];
  const test: number[] = [];
  isTest.forEach((t, i) => (t ? test : train).push(i));
  return { train, test };
}

function classEntries(root: string, part: string, classes: readonly string[], classNames: readonly string[]): ImageFolderEntry[] {
  const entries: ImageFolderEntry[] = [];
  for (const name of classes) {
    const dir = path.join(root, part, name);
    const files = filesUnder(dir);
    if (files.length === 0) {
      throw folderError(`${dir} is an empty class folder (no files). Fix: put the class's images in it, or delete the folder if the class should not exist.`);
    }
    const label = classNames.indexOf(name);
    for (const file of files) entries.push({ file: [part, name, file].filter(Boolean).join('/'), label });
  }
  return entries;
}

/** Non-hidden files under `dir` (recursively), relative with '/' separators, sorted. */
function filesUnder(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full, rel));
    else if (entry.isFile() || (entry.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isFile())) out.push(rel);
  }
  return out.sort(byCodePoint);
}

/** Non-hidden subfolders of `dir`, sorted: the class names. */
function classFolders(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && isDirectory(path.join(dir, e.name)))))
    .map((e) => e.name)
    .sort(byCodePoint);
}

function checkClassCount(classNames: readonly string[], dir: string): void {
  if (classNames.length === 0) {
    throw folderError(`${dir} has no class folders. Fix: put each class's images in a folder named after the class (e.g. ${dir}/cat/, ${dir}/dog/).`);
  }
  if (classNames.length === 1) {
    throw folderError(`${dir} has one class folder ("${classNames[0]}"); a classifier needs at least two classes. Fix: add a folder of images for each other class.`);
  }
  if (classNames.length > MAX_CLASSES) {
    throw folderError(`${dir} has ${classNames.length} class folders; at most ${MAX_CLASSES} are supported.`);
  }
}

/** Sort by code point (as Python's sorted(), which torchvision's ImageFolder uses), not by locale. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function folderError(message: string): DatasetError {
  return new DatasetError('BAD_IMAGE_FOLDER', message);
}
