import type { Optimizer, OptimizerStepArgs } from './optimizer';

/**
 * Parameters that step with their own settings (PyTorch's parameter groups): their lr is the
 * schedule's times `lrScale`, and `weightDecay` replaces the optimizer's. airbench, for one, steps
 * BatchNorm biases at 64 times the lr with a weight decay 64 times smaller.
 */
export interface ParameterGroup {
  /** Full names of the group's parameters (e.g. a model's batchNormParameters()). */
  names: readonly string[];
  lrScale: number;
  weightDecay: number;
}

/** A flat range [start, end) of a parameter arena, and the group it steps with (none: the optimizer's own settings). */
export type ParameterRange = readonly [number, number] | readonly [number, number, ParameterGroup];

/**
 * The ranges of a parameter arena that train: every entry but the `frozen` ones (a model's
 * frozenParameters()), each with the first of `groups` that names it, adjacent entries of the same
 * group merged. Null when nothing is frozen and there are no groups, so a step can take the whole
 * range at once.
 */
export function trainableRanges(
  entries: readonly { name: string; offset: number; size: number }[], frozen: readonly string[], groups: readonly ParameterGroup[] = [],
): ParameterRange[] | null {
  if (frozen.length === 0 && groups.length === 0) return null;
  const named = [...frozen, ...groups.flatMap((g) => g.names)];
  const unknown = named.filter((name) => !entries.some((e) => e.name === name));
  if (unknown.length > 0) throw new RangeError(`parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} not in the arena`);
  const ranges: Array<[number, number, ParameterGroup | undefined]> = [];
  for (const e of [...entries].sort((a, b) => a.offset - b.offset)) {
    if (frozen.includes(e.name) || e.size === 0) continue;
    const group = groups.find((g) => g.names.includes(e.name));
    const last = ranges[ranges.length - 1];
    if (last && last[1] === e.offset && last[2] === group) last[1] = e.offset + e.size;
    else ranges.push([e.offset, e.offset + e.size, group]);
  }
  return ranges.map(([start, end, group]) => (group ? [start, end, group] : [start, end]));
}

/**
 * One optimizer step over [args.start, args.end) that leaves frozen parameters alone and steps each
 * group with its own lr and weight decay: it steps only where that range meets `trainable`
 * (trainableRanges; null steps it all with the optimizer's settings), so a frozen value gets no
 * gradient step, no weight decay and no momentum, and its optimizer state stays 0.
 */
export function stepTrainable(optimizer: Optimizer, args: OptimizerStepArgs, trainable: readonly ParameterRange[] | null): void {
  if (trainable === null) {
    optimizer.step(args);
    return;
  }
  const size = (args.params instanceof Float32Array ? args.params : args.params.data).length;
  const start = args.start ?? 0;
  const end = args.end ?? size;
  for (const [from, to, group] of trainable) {
    const a = Math.max(start, from);
    const b = Math.min(end, to);
    if (a >= b) continue;
    optimizer.step(group ? { ...args, start: a, end: b, lr: args.lr * group.lrScale, weightDecay: group.weightDecay } : { ...args, start: a, end: b });
  }
}
