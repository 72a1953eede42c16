import * as fs from 'fs';
import * as path from 'path';
import { CIFAR10_CLASS_COUNT, CIFAR10_CLASS_NAMES, CIFAR10_META_FILE } from './cifar10Format';
import { DatasetError, redownloadHint } from './datasetError';

// A class name is a short printable word ("airplane", "automobile"); anything else means the file
// is not the meta file of the binary version (e.g. the pickled python version's batches.meta).
const CLASS_NAME = /^[A-Za-z][A-Za-z0-9 _-]{0,63}$/;

/**
 * Reads batches.meta.txt: the 10 class names, one per line, in label order (blank lines, which the
 * official file ends with, are ignored).
 */
export function readClassNames(dataDir: string): string[] {
  const file = path.join(dataDir, CIFAR10_META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    throw new DatasetError(
      'MISSING_FILE',
      `CIFAR-10 file ${CIFAR10_META_FILE} is missing from ${dataDir} (expected the ${CIFAR10_CLASS_COUNT} class names, one per line: ` +
        `${CIFAR10_CLASS_NAMES.join(', ')}). ${redownloadHint(dataDir)}`,
    );
  }
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const bad = names.find((name) => !CLASS_NAME.test(name));
  if (names.length !== CIFAR10_CLASS_COUNT || bad !== undefined) {
    const found =
      bad !== undefined
        ? `a line that is not a class name (${JSON.stringify(bad.slice(0, 40))})`
        : `${names.length} non-empty line(s)`;
    throw new DatasetError(
      'BAD_META',
      `CIFAR-10 file ${file} is garbled: expected ${CIFAR10_CLASS_COUNT} class names, one per line ` +
        `(${CIFAR10_CLASS_NAMES.join(', ')}), found ${found}. ${redownloadHint(dataDir)}`,
    );
  }
  return names;
}
