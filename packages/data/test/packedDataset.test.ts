import * as fs from 'fs';
import * as path from 'path';
import { imageBytes, isUnfinishedPacking, loadImageFolder, packDataset, readPackedDataset, type ImageSet, type PackDatasetOptions } from '../src';
import { fileSha256 } from '../src/packedFormat';
import { datasetError, madeFolder, makeTempDir } from './helpers';
import { encodeImage, rawPixels, writeFile } from './imageFiles';

const R = 12;
const BYTES = 3 * R * R;
/** Three images per training shard: 8 + 4 + 8 training images give several shards, test two. */
const SHARD = 12 + 3 * (1 + BYTES);
const quiet: Partial<PackDatasetOptions> = { concurrency: 3, onProgress: () => undefined };

/** Distinct, lossless images: each one's pixels depend on its class and number. */
async function writeFolder(root: string, counts: Record<string, [number, number]>): Promise<void> {
  for (const [name, [train, test]] of Object.entries(counts)) {
    for (let i = 0; i < train + test; i++) {
      const split = i < train ? 'train' : 'test';
      const raw = rawPixels(R + i, R, 3, (x, y, c) => (x * 7 + y * 3 + c * 50 + i * 11 + name.length * 40) % 256);
      writeFile(path.join(root, split, name, `${i}.png`), await encodeImage(raw, R + i, R, 3, 'png'));
    }
  }
}

/** The (label, pixels) pairs of a set, sorted: the same images whatever their order. */
function contents(set: ImageSet): string[] {
  const b = imageBytes(set);
  return Array.from({ length: set.count }, (_, i) => `${set.labels[i]}:${Buffer.from(set.images.subarray(i * b, (i + 1) * b)).toString('hex')}`).sort();
}

describe('convoy pack: an image folder into shards and an index', () => {
  let source: string;
  beforeAll(async () => {
    source = await madeFolder('convoy-pack-src-', (dir) => writeFolder(dir, { cat: [8, 2], dog: [4, 1], eel: [8, 2] }));
  });

  it('packs into shards of the size asked, with counts, classes, statistics and a SHA-256 per shard; reads back as the folder loads', async () => {
    const out = path.join(makeTempDir('convoy-pack-'), 'packed');
    const shards: string[] = [];
    const result = await packDataset(source, out, { resolution: R, shardBytes: SHARD, ...quiet, onShard: (e) => shards.push(e.shard.file) });
    const { index } = result;
    expect(result).toMatchObject({ outcome: 'packed', written: 7 + 2, reused: 0 });
    expect(index.classNames).toEqual(['cat', 'dog', 'eel']);
    expect(index.splits.train.count).toBe(20);
    expect(index.splits.test.count).toBe(5);
    expect(index.splits.train.shards.map((s) => s.count)).toEqual([3, 3, 3, 3, 3, 3, 2]);
    expect(shards).toEqual([...index.splits.train.shards, ...index.splits.test.shards].map((s) => s.file));
    for (const shard of [...index.splits.train.shards, ...index.splits.test.shards]) {
      expect(fs.statSync(path.join(out, shard.file)).size).toBe(shard.bytes);
      expect(shard.bytes).toBeLessThanOrEqual(SHARD);
      expect(fileSha256(path.join(out, shard.file))).toBe(shard.sha256);
    }
    expect(fs.readdirSync(out).filter((f) => !f.endsWith('.shard')).sort()).toEqual(['index.json']); // no state or temporaries left
    expect(JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'))).toEqual(index);

    const folder = await loadImageFolder(source, { resolution: R, cacheDir: null, concurrency: 3, onProgress: () => undefined });
    const packed = readPackedDataset(out);
    expect(contents(packed.train)).toEqual(contents(folder.train));
    expect(contents(packed.test)).toEqual(contents(folder.test));
    expect(packed.normalization.mean).toEqual(folder.normalization.mean.map((m) => expect.closeTo(m, 12)));
    expect(packed.normalization.std).toEqual(folder.normalization.std.map((s) => expect.closeTo(s, 12)));
    expect(packed.lost).toEqual({ shards: [], images: 0 });
    // testLimit: only the first test shards that hold that many images are read.
    const limited = readPackedDataset(out, { splits: ['test'], testLimit: 2 });
    expect([limited.train.count, limited.test.count, limited.bytesRead]).toEqual([0, 3, index.splits.test.shards[0].bytes]);
    expect(contents(limited.test).every((image) => contents(packed.test).includes(image))).toBe(true);
    // The packing order mixes the classes (a streaming reader's shuffle buffer relies on it).
    expect(new Set(packed.train.labels.subarray(0, 6)).size).toBeGreaterThan(1);
    // Packing the same again finds it complete.
    expect((await packDataset(source, out, { resolution: R, shardBytes: SHARD, ...quiet })).outcome).toBe('complete');
  });

  it('resumes an interrupted packing: finished shards whose SHA-256 still matches are kept, a damaged one is packed again', async () => {
    const fresh = await packDataset(source, path.join(makeTempDir('convoy-pack-'), 'p'), { resolution: R, shardBytes: SHARD, ...quiet });
    const out = path.join(makeTempDir('convoy-pack-'), 'p');
    let seen = 0;
    const interrupted = await packDataset(source, out, {
      resolution: R, shardBytes: SHARD, ...quiet,
      onShard: () => {
        if (++seen === 3) throw new Error('interrupted');
      },
    }).then(() => null, (e: Error) => e);
    expect(interrupted?.message).toBe('interrupted');
    expect(fs.existsSync(path.join(out, 'index.json'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'pack-state.json'))).toBe(true);
    expect(isUnfinishedPacking(out)).toBe(true);
    const second = path.join(out, 'train-00001.shard');
    const bytes = fs.readFileSync(second);
    bytes[100] ^= 0xff;
    fs.writeFileSync(second, bytes);
    const resumed = await packDataset(source, out, { resolution: R, shardBytes: SHARD, ...quiet });
    expect(resumed).toMatchObject({ outcome: 'packed', reused: 2, written: 7 });
    expect(resumed.index).toEqual({ ...fresh.index });
    expect(fs.existsSync(path.join(out, 'pack-state.json'))).toBe(false);
    expect(isUnfinishedPacking(out)).toBe(false);
  });

  it('refuses to pack into a folder that holds something else, and names bad image files', async () => {
    const out = makeTempDir('convoy-pack-');
    fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
    expect((await datasetError(() => packDataset(source, out, { resolution: R, ...quiet }))).message).toMatch(/is not empty and holds no packing/);
    const broken = makeTempDir('convoy-pack-src-');
    await writeFolder(broken, { cat: [2, 1], dog: [2, 1] });
    writeFile(path.join(broken, 'train/dog/z.jpg'), 'not a jpeg');
    const error = await datasetError(() => packDataset(broken, path.join(out, 'p'), { resolution: R, ...quiet }));
    expect(error.message).toMatch(/train\/dog\/z\.jpg: not an image[\s\S]*--skip-bad-images/);
    const skipped = await packDataset(broken, path.join(out, 'q'), { resolution: R, ...quiet, skipBadImages: true });
    expect(skipped.skipped.map((b) => b.file)).toEqual(['train/dog/z.jpg']);
    expect(skipped.index.splits.train.count).toBe(4);
  });
});

describe('a damaged packed dataset', () => {
  let packed: string;
  beforeAll(async () => {
    const source = makeTempDir('convoy-pack-src-');
    await writeFolder(source, { cat: [5, 1], dog: [4, 1] });
    packed = path.join(makeTempDir('convoy-pack-'), 'p');
    await packDataset(source, packed, { resolution: R, shardBytes: SHARD, ...quiet });
  });
  function copy(): string {
    const dir = makeTempDir('convoy-pack-damaged-');
    for (const f of fs.readdirSync(packed)) fs.copyFileSync(path.join(packed, f), path.join(dir, f));
    return dir;
  }

  it('a cut shard is named with its file and place before anything is read', async () => {
    const dir = copy();
    fs.truncateSync(path.join(dir, 'train-00001.shard'), 100);
    const error = await datasetError(() => readPackedDataset(dir));
    expect(error.code).toBe('BAD_SHARD');
    expect(error.message).toMatch(new RegExp(`${path.join(dir, 'train-00001.shard')}: 100 bytes\\b.*\\b${12 + 3 * (1 + BYTES)}\\b.*\\bshard 2 of 3 of the train split, 3 images\\b`));
    expect(error.message).toMatch(/--skip-bad-shards/);
  });

  it('a missing shard is named', async () => {
    const dir = copy();
    fs.rmSync(path.join(dir, 'test-00000.shard'));
    expect((await datasetError(() => readPackedDataset(dir))).message).toMatch(new RegExp(`${path.join(dir, 'test-00000.shard')}: missing\\b.*\\bshard 1 of 1 of the test split, 2 images\\b`));
  });

  it('a flipped byte is found by the SHA-256 when the shard is read', async () => {
    const dir = copy();
    const file = path.join(dir, 'train-00002.shard');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 5] ^= 1;
    fs.writeFileSync(file, bytes);
    expect((await datasetError(() => readPackedDataset(dir))).message).toMatch(new RegExp(`${file}: .*\\bSHA-256\\b.*\\bshard 3 of 3 of the train split, 3 images\\b`));
  });

  it('--skip-bad-shards goes on without them and counts the images lost', () => {
    const dir = copy();
    fs.truncateSync(path.join(dir, 'train-00000.shard'), 10);
    const file = path.join(dir, 'train-00002.shard');
    const bytes = fs.readFileSync(file);
    bytes[50] ^= 1;
    fs.writeFileSync(file, bytes);
    const whole = readPackedDataset(packed);
    const read = readPackedDataset(dir, { skipBadShards: true });
    expect(read.lost.images).toBe(6);
    expect(read.lost.shards.map((s) => path.basename(s.file))).toEqual(['train-00000.shard', 'train-00002.shard']);
    expect(read.train.count).toBe(3);
    expect(Buffer.from(read.train.images)).toEqual(Buffer.from(whole.train.images.subarray(3 * BYTES, 6 * BYTES)));
    expect(read.test.count).toBe(2);
  });

  it('a missing or foreign index says to pack again', async () => {
    const dir = copy();
    fs.writeFileSync(path.join(dir, 'index.json'), '{"format":"something else"}');
    expect((await datasetError(() => readPackedDataset(dir))).message).toMatch(/not a well-formed packed dataset index.*convoy pack/);
  });
});
