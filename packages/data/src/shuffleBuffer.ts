import type { Rng } from '@convoy/tensor';

/**
 * The slot bookkeeping of a streaming shuffle buffer (WebDataset's and MosaicML Streaming's): the
 * stream's samples go into `capacity` slots; once the buffer is full each incoming sample takes the
 * place of one drawn uniformly from the buffer, and when the stream ends the rest are drawn out one
 * by one. It only says which slot to read or write: the caller keeps the samples (pixels, labels,
 * keys) in arrays indexed by slot, so the same bookkeeping orders images and, in tests, plain ids.
 * Every draw comes from the one Rng given, so the order is a function of that Rng and the stream.
 */
export class ShuffleBuffer {
  private filled = 0;

  constructor(
    readonly capacity: number,
    private readonly rng: Rng,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ShuffleBuffer: capacity must be a positive integer, got ${capacity}`);
  }

  /** Samples held now. */
  get size(): number {
    return this.filled;
  }

  get full(): boolean {
    return this.filled === this.capacity;
  }

  /** The slot for the next incoming sample while the buffer is not full (write it there). */
  add(): number {
    if (this.full) throw new RangeError('ShuffleBuffer.add: the buffer is full; draw() a sample out first');
    return this.filled++;
  }

  /**
   * Draws the slot of the next sample out (read it there before anything is written to that slot).
   * Then either `replace` puts an incoming sample into it, or `remove` closes the gap.
   */
  draw(): number {
    if (this.filled === 0) throw new RangeError('ShuffleBuffer.draw: the buffer is empty');
    return this.rng.int(this.filled);
  }

  /**
   * After draw() when the stream has ended: the drawn slot is refilled from the last slot (copy the
   * returned slot into the drawn one; nothing to copy when they are the same) and the buffer shrinks.
   */
  remove(drawn: number): number {
    if (!(drawn >= 0 && drawn < this.filled)) throw new RangeError(`ShuffleBuffer.remove: slot ${drawn} is not in use`);
    this.filled--;
    return this.filled;
  }

  /** Empties the buffer (a new epoch). */
  clear(): void {
    this.filled = 0;
  }
}
