import type { Optimizer, OptimizerStepArgs } from './optimizer';

/** A flat range [start, end) of a parameter arena. */
export type ParameterRange = readonly [number, number];

/**
 * The ranges of a parameter arena that train: every entry but the `frozen` ones (a model's
 * frozenParameters()), adjacent entries merged. Null when nothing is frozen, so a step can take
 * the whole range at once.
 */
export function trainableRanges(entries: readonly { name: string; offset: number; size: number }[], frozen: readonly string[]): ParameterRange[] | null {
  if (frozen.length === 0) return null;
  const unknown = frozen.filter((name) => !entries.some((e) => e.name === name));
  if (unknown.length > 0) throw new RangeError(`frozen parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in the arena`);
  const ranges: [number, number][] = [];
  for (const e of [...entries].sort((a, b) => a.offset - b.offset)) {
    if (frozen.includes(e.name) || e.size === 0) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === e.offset) last[1] = e.offset + e.size;
    else ranges.push([e.offset, e.offset + e.size]);
  }
  return ranges;
}

/**
 * One optimizer step over [args.start, args.end) that leaves frozen parameters alone: it steps only
 * where that range meets `trainable` (trainableRanges; null steps it all), so a frozen value gets
 * no gradient step, no weight decay and no momentum, and its optimizer state stays 0.
 */
export function stepTrainable(optimizer: Optimizer, args: OptimizerStepArgs, trainable: readonly ParameterRange[] | null): void {
  if (trainable === null) {
    optimizer.step(args);
    return;
  }
  const size = (args.params instanceof Float32Array ? args.params : args.params.data).length;
  const start = args.start ?? 0;
  const end = args.end ?? size;
  for (const [from, to] of trainable) {
    const a = Math.max(start, from);
    const b = Math.min(end, to);
    if (a < b) optimizer.step({ ...args, start: a, end: b });
  }
}
