import {
  allocateImageSet, CIFAR10_CLASS_NAMES, CIFAR10_RECORD_BYTES, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, parseBatchRecords, type ImageSet,
} from '@convoy/data';

/** CIFAR-10 in memory (SharedArrayBuffers, so every Web Worker reads one copy), as @convoy/data's readCifar10 gives it. */
export interface BrowserCifar10 {
  train: ImageSet;
  test: ImageSet | null;
  classNames: string[];
  /** Where the files came from, in words. */
  source: string;
}

/** A named blob of bytes: a File the visitor picked, or a response of the server. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/**
 * The training files (data_batch_1..5.bin, at least one, in number order) and test_batch.bin
 * (optional: without it the page shows no test accuracy) among `files`, parsed into image sets.
 * Other names are refused with the list of names that are expected.
 */
export function parseCifar10Files(files: NamedBytes[], source: string): BrowserCifar10 {
  const known = new Set([...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES, 'batches.meta.txt']);
  const unknown = files.filter((f) => !known.has(f.name)).map((f) => f.name);
  if (unknown.length > 0) {
    throw new Error(`not CIFAR-10 binary files: ${unknown.join(', ')}; expected ${[...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES].join(', ')} (the cifar-10-batches-bin folder)`);
  }
  const byName = new Map(files.map((f) => [f.name, f.bytes]));
  const trainFiles = CIFAR10_TRAIN_FILES.filter((name) => byName.has(name)).map((name) => ({ name, bytes: byName.get(name) as Uint8Array }));
  if (trainFiles.length === 0) throw new Error(`no training file among them: pick data_batch_1.bin … data_batch_5.bin (and test_batch.bin for test accuracy)`);
  const testFile = byName.get(CIFAR10_TEST_FILES[0]);
  return {
    train: parseSet(trainFiles),
    test: testFile ? parseSet([{ name: CIFAR10_TEST_FILES[0], bytes: testFile }]) : null,
    classNames: [...CIFAR10_CLASS_NAMES],
    source,
  };
}

function parseSet(files: NamedBytes[]): ImageSet {
  for (const f of files) {
    if (f.bytes.byteLength === 0 || f.bytes.byteLength % CIFAR10_RECORD_BYTES !== 0) {
      throw new Error(`${f.name} has ${f.bytes.byteLength} bytes, not a whole number of ${CIFAR10_RECORD_BYTES}-byte CIFAR-10 records: truncated or not the binary version`);
    }
  }
  const set = allocateImageSet(files.reduce((n, f) => n + f.bytes.byteLength / CIFAR10_RECORD_BYTES, 0));
  let at = 0;
  for (const f of files) {
    parseBatchRecords(f.bytes, set, at, f.name);
    at += f.bytes.byteLength / CIFAR10_RECORD_BYTES;
  }
  return set;
}

/** The files a visitor picked or dropped. */
export async function readPickedFiles(list: FileList | File[]): Promise<BrowserCifar10> {
  const files = await Promise.all(Array.from(list, async (file) => ({ name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) })));
  return parseCifar10Files(files, `${files.length} picked file(s)`);
}

/** Whether the server has CIFAR-10 under cifar10/ (the dev and preview servers do when CIFAR10_DIR is set). */
export async function serverHasCifar10(): Promise<boolean> {
  try {
    const response = await fetch('cifar10/test_batch.bin', { method: 'HEAD' });
    return response.ok;
  } catch {
    return false;
  }
}

/** All six files from the server, reporting each one fetched. */
export async function fetchServerCifar10(onFile: (name: string, done: number, total: number) => void): Promise<BrowserCifar10> {
  const names = [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES];
  const files: NamedBytes[] = [];
  for (const name of names) {
    const response = await fetch(`cifar10/${name}`);
    if (!response.ok) throw new Error(`the server has no ${name} (${response.status}: ${await response.text()})`);
    files.push({ name, bytes: new Uint8Array(await response.arrayBuffer()) });
    onFile(name, files.length, names.length);
  }
  return parseCifar10Files(files, "the server's CIFAR10_DIR");
}
