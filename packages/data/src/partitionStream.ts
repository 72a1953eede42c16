import { promises as fsp } from 'fs';
import * as path from 'path';
import { Rng } from '@convoy/tensor';
import { DatasetError } from './datasetError';
import { SHARD_HEADER_BYTES } from './packedFormat';
import { ShuffleBuffer } from './shuffleBuffer';
import type { StreamShard } from './streamPlan';
import { verifyShard } from './verifyShard';

/** A partition's seeded shard permutation of an epoch (positions into its shard list). */
function shardOrder(seed: number, epoch: number, partition: number, shards: number): number[] {
  return Rng.forKey(seed, SHARD_ORDER_STREAM, epoch, partition).shuffle(Array.from({ length: shards }, (_, i) => i));
}

// Keep the streams' draws apart from the whole-set shuffle (batching.ts) and the augmentation keys.
const SHARD_ORDER_STREAM = 0x53544f52; // "STOR"
const SHUFFLE_BUFFER_STREAM = 0x53425546; // "SBUF"

/** What a process's streams read and left out, for its report (which shards a rank read). */
export interface StreamReport {
  /** Shard files opened, in the order first opened. */
  readonly files: string[];
  /** Bytes of those shards verified (each read once for its SHA-256, again for its images). */
  shardBytes: number;
  /** Shards left out under skipBadShards (file and why), and the images they held; each counted once. */
  readonly lost: { shards: { file: string; reason: string }[]; images: number };
}

export function emptyStreamReport(): StreamReport {
  return { files: [], shardBytes: 0, lost: { shards: [], images: 0 } };
}

/** Where drawn samples go: pixels, labels and sample keys of a batch, at a position. */
export interface SampleSink {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly keys: Uint32Array;
}

export interface PartitionStreamOptions {
  root: string;
  /** This partition's shards (StreamPlan.partitions[partition]). */
  shards: readonly StreamShard[];
  /** The partition's number: with the seed and epoch, it keys the partition's draws. */
  partition: number;
  seed: number;
  imageBytes: number;
  classes: number;
  shuffleImages: number;
  chunkImages: number;
  maxShardImages: number;
  skipBadShards: boolean;
  /** Epochs the run trains: the last one checks no next epoch's shards ahead. Default: no end. */
  epochs?: number;
  /** Shared by a process's partitions. */
  report: StreamReport;
}

interface Chunk {
  index: number;
  /** Resolves when the chunk's pixels are in `buffer` (or to a problem). */
  ready: Promise<string | null>;
  buffer: Uint8Array;
}

/**
 * One partition of a streamed training split: each epoch its shards in a seeded permutation, every
 * image through a seeded shuffle buffer (ShuffleBuffer), drawn out by take(). A shard is verified
 * (SHA-256, asynchronously, while the one before it is being drawn from) before any of its images is
 * used, then read in chunks, the next chunk read while the current one is drawn from. Memory is
 * fixed at construction: the shuffle buffer, three chunk buffers and one shard's labels.
 */
export class PartitionStream {
  private readonly pixels: Uint8Array;
  private readonly labels: Uint8Array;
  private readonly keys: Uint32Array;
  private readonly chunkBuffers: [Uint8Array, Uint8Array];
  private readonly scratch: Uint8Array;
  private readonly shardLabels: Uint8Array;
  private readonly knownBad = new Set<string>();
  private buffer: ShuffleBuffer | null = null;
  private order: number[] = [];
  private next = 0;
  private current: { shard: StreamShard; handle: fsp.FileHandle; cursor: number } | null = null;
  private chunk: Chunk | null = null;
  private ahead: Chunk | null = null;
  private verifying: { at: number; result: Promise<string | null> } | null = null;
  /** Every check reads through `scratch`, so one runs at a time: each starts when this settles. */
  private scratchFree: Promise<unknown> = Promise.resolve();
  private epoch = -1;
  /** The next epoch's first shards (as many as fill the shuffle buffer), checked ahead: shard number -> problem. */
  private nextEpochChecks: { epoch: number; results: Map<number, Promise<string | null>> } | null = null;
  /** This epoch's shards checked during the last one. */
  private checkedAhead = new Map<number, Promise<string | null>>();

  constructor(private readonly options: PartitionStreamOptions) {
    const { shuffleImages, imageBytes, chunkImages, maxShardImages } = options;
    if (options.shards.length === 0) throw new RangeError(`partition ${options.partition} has no shards`);
    this.pixels = new Uint8Array(shuffleImages * imageBytes);
    this.labels = new Uint8Array(shuffleImages);
    this.keys = new Uint32Array(shuffleImages);
    this.chunkBuffers = [new Uint8Array(chunkImages * imageBytes), new Uint8Array(chunkImages * imageBytes)];
    this.scratch = new Uint8Array(chunkImages * imageBytes);
    this.shardLabels = new Uint8Array(maxShardImages);
  }

  /**
   * Starts epoch `epoch` from its beginning (after any reads still in flight have finished). Its
   * first shards were checked during the last epoch's end when that was the one before it.
   */
  async startEpoch(epoch: number): Promise<void> {
    await this.settle();
    const { seed, partition, shards, shuffleImages } = this.options;
    this.checkedAhead = this.nextEpochChecks?.epoch === epoch ? this.nextEpochChecks.results : new Map<number, Promise<string | null>>();
    this.nextEpochChecks = null;
    this.epoch = epoch;
    this.order = shardOrder(seed, epoch, partition, shards.length);
    this.next = 0;
    this.buffer = new ShuffleBuffer(shuffleImages, Rng.forKey(seed, SHUFFLE_BUFFER_STREAM, epoch, partition));
  }

  /** Draws the next `count` samples into `sink` from position `at` on (or discards them: a resumed epoch's past steps). */
  async take(count: number, sink: SampleSink | null, at = 0): Promise<void> {
    for (let i = 0; i < count; i++) await this.drawOne(sink, at + i);
  }

  /**
   * Positions a just-started epoch after its first `count` draws without reading the shards those
   * draws emptied: the shuffle buffer's bookkeeping is replayed on (shard, image) places alone (its
   * draws are the same Rng calls), then only the images still in the buffer are read (their shards
   * checked first) and the stream goes on from the shard it had reached. What an unbroken epoch
   * holds at that point, so the draws after it are the same. With damaged shards to skip, which
   * images passed through is known only by reading them: then the draws are made and discarded.
   */
  async skip(count: number): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) throw new Error('PartitionStream: startEpoch() first');
    if (this.options.skipBadShards || this.knownBad.size > 0 || count === 0) return this.take(count, null);
    const { shards, shuffleImages } = this.options;
    const shardOf = new Int32Array(shuffleImages);
    const imageOf = new Int32Array(shuffleImages);
    let at = 0;
    let cursor = 0;
    const incoming = () => {
      while (at < this.order.length && cursor >= shards[this.order[at]].used) [at, cursor] = [at + 1, 0];
      return at < this.order.length;
    };
    const into = (slot: number) => {
      shardOf[slot] = this.order[at];
      imageOf[slot] = cursor++;
    };
    for (let i = 0; i < count; i++) {
      while (!buffer.full && incoming()) into(buffer.add());
      const slot = buffer.draw();
      if (incoming()) {
        into(slot);
      } else {
        const last = buffer.remove(slot);
        [shardOf[slot], imageOf[slot]] = [shardOf[last], imageOf[last]];
      }
    }
    const reached = incoming() ? this.order[at] : -1;
    const slotsOf = new Map<number, number[]>();
    for (let slot = 0; slot < buffer.size; slot++) slotsOf.set(shardOf[slot], [...(slotsOf.get(shardOf[slot]) ?? []), slot]);
    for (const [n, slots] of slotsOf) {
      if (n === reached) continue;
      const shard = shards[n];
      const problem = await this.verify(shard);
      this.noteRead(shard);
      if (problem) return this.badShard(shard, path.join(this.options.root, shard.file), problem);
      const handle = await fsp.open(path.join(this.options.root, shard.file), 'r');
      try {
        await this.readSlots(handle, shard, slots, imageOf);
      } finally {
        await handle.close();
      }
    }
    this.next = at + 1;
    if (reached < 0) return this.verifyAhead();
    await this.openShard(reached);
    const current = this.current!;
    await this.readSlots(current.handle, current.shard, slotsOf.get(reached) ?? [], imageOf);
    current.cursor = cursor;
    if (cursor < current.shard.used) await this.enterChunk(Math.floor(cursor / this.options.chunkImages));
  }

  /** Reads a shard's images `imageOf[slot]` into the buffer's `slots` (their labels too: the shard's label block is read first). */
  private async readSlots(handle: fsp.FileHandle, shard: StreamShard, slots: readonly number[], imageOf: Int32Array): Promise<void> {
    const b = this.options.imageBytes;
    const labels = this.shardLabels.subarray(0, shard.count);
    if ((await handle.read(labels, 0, shard.count, SHARD_HEADER_BYTES)).bytesRead < shard.count) throw new DatasetError('BAD_SHARD', `${shard.file} ends early: cut (${shard.place})`);
    for (const slot of slots) {
      const image = imageOf[slot];
      const into = this.pixels.subarray(slot * b, (slot + 1) * b);
      if ((await handle.read(into, 0, b, SHARD_HEADER_BYTES + shard.count + image * b)).bytesRead < b) throw new DatasetError('BAD_SHARD', `${shard.file} ends early: cut (${shard.place})`);
      this.labels[slot] = labels[image];
      this.keys[slot] = shard.first + image;
    }
  }

  /** Waits for reads in flight and closes the open shard. */
  async close(): Promise<void> {
    await this.settle();
  }

  private async drawOne(sink: SampleSink | null, at: number): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) throw new Error('PartitionStream: startEpoch() first');
    while (!buffer.full && (await this.hasIncoming())) this.incomingInto(buffer.add());
    if (buffer.size === 0) {
      // Only when damaged shards (skipped) left this partition fewer images than an epoch takes:
      // its shards are read again, in the same order, to fill the epoch's last steps.
      this.next = 0;
      while (!buffer.full && (await this.hasIncoming())) this.incomingInto(buffer.add());
      if (buffer.size === 0) throw new DatasetError('BAD_SHARD', `every shard of partition ${this.options.partition} of the training split was left out: nothing left to train on`);
    }
    const slot = buffer.draw();
    if (sink) {
      const b = this.options.imageBytes;
      sink.images.set(this.pixels.subarray(slot * b, (slot + 1) * b), at * b);
      sink.labels[at] = this.labels[slot];
      sink.keys[at] = this.keys[slot];
    }
    if (await this.hasIncoming()) {
      this.incomingInto(slot);
    } else {
      const last = buffer.remove(slot);
      if (last !== slot) this.moveSlot(last, slot);
    }
  }

  private moveSlot(from: number, to: number): void {
    const b = this.options.imageBytes;
    this.pixels.copyWithin(to * b, from * b, (from + 1) * b);
    this.labels[to] = this.labels[from];
    this.keys[to] = this.keys[from];
  }

  /** Copies the incoming image (the current shard's image at its cursor) into a slot and moves on. */
  private incomingInto(slot: number): void {
    const current = this.current!;
    const chunk = this.chunk!;
    const { imageBytes: b, chunkImages } = this.options;
    const inChunk = current.cursor - chunk.index * chunkImages;
    this.pixels.set(chunk.buffer.subarray(inChunk * b, (inChunk + 1) * b), slot * b);
    this.labels[slot] = this.shardLabels[current.cursor];
    this.keys[slot] = current.shard.first + current.cursor;
    current.cursor++;
  }

  /** True when an incoming image is ready at the cursor (opening the next usable shard, or loading the next chunk, first); false at the end of the epoch's shards. */
  private async hasIncoming(): Promise<boolean> {
    const { chunkImages } = this.options;
    for (;;) {
      const current = this.current;
      if (current && current.cursor < current.shard.used) {
        const wanted = Math.floor(current.cursor / chunkImages);
        if (this.chunk?.index !== wanted) await this.enterChunk(wanted);
        return true;
      }
      if (current) await this.closeShard();
      if (this.next >= this.order.length) return false;
      await this.openShard(this.order[this.next++]);
    }
  }

  /** Opens shard `order` position `n`'s shard once it is verified (verifying the following one meanwhile); a damaged one is reported or skipped. */
  private async openShard(n: number): Promise<void> {
    const { root, shards } = this.options;
    const shard = shards[n];
    if (this.knownBad.has(shard.file)) return;
    const file = path.join(root, shard.file);
    const verified = this.verifying?.at === this.next - 1 ? this.verifying.result : (this.checkedAhead.get(n) ?? this.verify(shard));
    this.verifying = null;
    const problem = await verified;
    this.noteRead(shard);
    this.verifyAhead();
    if (problem) return this.badShard(shard, file, problem);
    const handle = await fsp.open(file, 'r');
    const labels = this.shardLabels.subarray(0, shard.count);
    const { bytesRead } = await handle.read(labels, 0, shard.count, SHARD_HEADER_BYTES);
    const badLabel = bytesRead < shard.count ? -1 : labels.findIndex((l) => l >= this.options.classes);
    if (bytesRead < shard.count || badLabel >= 0) {
      await handle.close();
      return this.badShard(shard, file, bytesRead < shard.count ? 'ends early: cut' : `image ${badLabel} has label ${labels[badLabel]}, but there are ${this.options.classes} classes`);
    }
    this.current = { shard, handle, cursor: 0 };
    await this.enterChunk(0);
  }

  /**
   * Starts verifying the next shard of the order that is not known to be bad, into the scratch
   * buffer; after the epoch's last one, the next epoch's first shards (checkNextEpoch).
   */
  private verifyAhead(): void {
    let at = this.next;
    while (at < this.order.length && this.knownBad.has(this.options.shards[this.order[at]].file)) at++;
    if (at >= this.order.length) return this.checkNextEpoch();
    this.verifying = { at, result: this.checkedAhead.get(this.order[at]) ?? this.verify(this.options.shards[this.order[at]]) };
  }

  /**
   * Verifies the shards the next epoch starts with, as many as fill its shuffle buffer, while this
   * epoch's last shard is drawn from and its buffer drained: the next epoch's first step then
   * finds them checked and in the page cache instead of waiting for their SHA-256.
   */
  private checkNextEpoch(): void {
    const epoch = this.epoch + 1;
    if (this.nextEpochChecks?.epoch === epoch || epoch >= (this.options.epochs ?? Infinity)) return;
    const { seed, partition, shards, shuffleImages } = this.options;
    const results = new Map<number, Promise<string | null>>();
    let images = 0;
    for (const n of shardOrder(seed, epoch, partition, shards.length)) {
      if (images >= shuffleImages) break;
      if (this.knownBad.has(shards[n].file)) continue;
      results.set(n, this.verify(shards[n]));
      images += shards[n].used;
    }
    this.nextEpochChecks = { epoch, results };
  }

  /** Checks a shard against the index through the scratch buffer, after the checks before it. */
  private verify(shard: StreamShard): Promise<string | null> {
    const file = path.join(this.options.root, shard.file);
    const result = this.scratchFree.then(() => verifyShard(file, shard, this.scratch)).catch((error: unknown) => `cannot be read (${(error as Error).message})`);
    this.scratchFree = result;
    return result;
  }

  /** Counts a shard reached (verified, to be read for its images, or found bad) in the report. */
  private noteRead(shard: StreamShard): void {
    const file = path.join(this.options.root, shard.file);
    const report = this.options.report;
    if (!report.files.includes(file)) report.files.push(file);
    report.shardBytes += shard.bytes;
  }

  private badShard(shard: StreamShard, file: string, problem: string): void {
    const reason = `${problem} (${shard.place})`;
    if (!this.options.skipBadShards) {
      throw new DatasetError(
        'BAD_SHARD',
        `a shard of the packed dataset cannot be used:\n  ${file}: ${reason}\n` +
          'Fix: pack the dataset again with `convoy pack` (finished shards are checked and kept), copy the shard again from where it came, or pass --skip-bad-shards to train without it (the images lost are reported).',
      );
    }
    this.knownBad.add(shard.file);
    const lost = this.options.report.lost;
    if (!lost.shards.some((s) => s.file === file)) {
      lost.shards.push({ file, reason });
      lost.images += shard.used;
    }
  }

  /** Makes chunk `index` of the current shard the one drawn from (waiting for its read) and reads the one after it ahead. */
  private async enterChunk(index: number): Promise<void> {
    const current = this.current!;
    const chunk = this.ahead?.index === index ? this.ahead : this.readChunk(index, this.chunkBuffers[index % 2]);
    this.ahead = null;
    const problem = await chunk.ready;
    if (problem) throw new DatasetError('BAD_SHARD', `${path.join(this.options.root, current.shard.file)}: ${problem} (${current.shard.place}); it changed after it was verified`);
    this.chunk = chunk;
    if ((index + 1) * this.options.chunkImages < current.shard.used) this.ahead = this.readChunk(index + 1, this.chunkBuffers[(index + 1) % 2]);
  }

  private readChunk(index: number, buffer: Uint8Array): Chunk {
    const { shard, handle } = this.current!;
    const { imageBytes: b, chunkImages } = this.options;
    const first = index * chunkImages;
    const length = Math.min(chunkImages, shard.used - first) * b;
    const position = SHARD_HEADER_BYTES + shard.count + first * b;
    const ready = (async () => {
      for (let done = 0; done < length; ) {
        const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
        if (bytesRead <= 0) return 'ends early: cut';
        done += bytesRead;
      }
      return null;
    })().catch((error: unknown) => `cannot be read (${(error as Error).message})`);
    return { index, ready, buffer };
  }

  private async closeShard(): Promise<void> {
    const current = this.current;
    if (!current) return;
    if (this.ahead) await this.ahead.ready;
    this.ahead = null;
    this.chunk = null;
    this.current = null;
    await current.handle.close();
  }

  /** Lets every read in flight finish (they write into this stream's buffers) and closes the open shard. */
  private async settle(): Promise<void> {
    await this.scratchFree;
    this.verifying = null;
    await this.closeShard();
  }
}
