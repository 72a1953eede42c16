import { createHash } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { imageBytes, type ImageSet } from '@convoy/data';
import type { Cluster } from '@convoy/cluster';

/** What every rank of a multi-host run must agree on before the first step. */
export interface DatasetFingerprint {
  trainCount: number;
  testCount: number;
  /** sha256 over the train and test images and labels, as selected (classes, limits). */
  sha256: string;
}

export class DatasetMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetMismatchError';
  }
}

function hashSet(hash: ReturnType<typeof createHash>, set: ImageSet): void {
  hash.update(set.images.subarray(0, set.count * imageBytes(set)));
  hash.update(set.labels.subarray(0, set.count));
}

/**
 * `streamed`: a training split streamed from shards, which no rank holds whole: its image count and
 * what identifies it (the index's shard list with their SHA-256s and the plan), hashed instead of its pixels.
 * `streamedTestLabels`: a test split read a window at a time, given by its labels instead of `test`.
 */
export function datasetFingerprint(train: ImageSet, test: ImageSet | null, streamed?: { count: number; identity: string }, streamedTestLabels?: Uint8Array): DatasetFingerprint {
  const hash = createHash('sha256');
  if (streamed) hash.update(streamed.identity);
  else hashSet(hash, train);
  if (test) hashSet(hash, test);
  // A streamed test split: its images' labels (the shards were checked against the index's SHA-256 when opened).
  if (streamedTestLabels) hash.update(streamedTestLabels);
  return { trainCount: streamed?.count ?? train.count, testCount: test?.count ?? streamedTestLabels?.length ?? 0, sha256: hash.digest('hex') };
}

/** Bytes each rank contributes to the all-gather (msgpack, length-prefixed, zero-padded). */
const RECORD_BYTES = 1024;

function describeFingerprint(f: DatasetFingerprint): string {
  return `${f.trainCount} training and ${f.testCount} test images, sha256 ${f.sha256.slice(0, 16)}`;
}

/**
 * Every rank gathers every rank's fingerprint and host; all stop with the same error naming each
 * rank (and its host) whose dataset differs from rank 0's.
 */
export async function checkSameDataset(cluster: Cluster, mine: DatasetFingerprint): Promise<void> {
  const body = encode({ host: cluster.host, ...mine });
  if (body.length + 2 > RECORD_BYTES) throw new Error(`dataset fingerprint of ${body.length} bytes does not fit the ${RECORD_BYTES}-byte record`);
  const record = new Uint8Array(RECORD_BYTES);
  record[0] = body.length >> 8;
  record[1] = body.length & 0xff;
  record.set(body, 2);
  // Ranks finish loading their data at different times (an image folder may decode for minutes
  // on one host while another reads its cache): the step time-out starts with the first step.
  const stepTimeout = cluster.timeoutSeconds;
  cluster.timeoutSeconds = null;
  let gathered: Uint8Array[];
  try {
    gathered = await cluster.allGather(record);
  } finally {
    cluster.timeoutSeconds = stepTimeout;
  }
  const records = gathered.map((r) => decode(r.subarray(2, 2 + ((r[0] << 8) | r[1]))) as DatasetFingerprint & { host: string });
  const lead = records[0];
  const differing = records
    .map((r, rank) => ({ ...r, rank }))
    .filter((r) => r.trainCount !== lead.trainCount || r.testCount !== lead.testCount || r.sha256 !== lead.sha256);
  if (differing.length === 0) return;
  const lines = differing.map((r) => `rank ${r.rank}/${cluster.size} on host ${r.host} holds ${describeFingerprint(r)}`);
  throw new DatasetMismatchError(
    `the ranks do not hold the same dataset: ${lines.join('; ')}; rank 0 on host ${lead.host} holds ${describeFingerprint(lead)}. ` +
      'Give every rank the same data in its --data-dir (and the same --classes, --limit-train, --limit-test).',
  );
}
