import { checkFiniteNumber, checkOptions, checkPositiveInteger } from '../options';

/**
 * Lookahead as airbench94 uses it: every `every` optimizer steps the slow copy moves toward the
 * network, slow = decay * slow + (1 - decay) * fast, and the network restarts from the slow copy;
 * after the run's last step the network takes the slow copy once more (decay 1), so the network a
 * run ends with, and evaluates, is the averaged one. The decay ramps up over the run,
 * 0.95^every * (t / total)^3 after step t (1-based): early syncs leave the network almost as it
 * is, late ones average over the last few hundred steps.
 */
export interface LookaheadOptions {
  /** Optimizer steps between syncs (airbench94: 5). */
  every: number;
  /** Optimizer steps in the whole run (the schedules' total). */
  total: number;
}

/** The per-step decay whose every-th power lookahead uses (airbench94's 0.95). */
export const LOOKAHEAD_STEP_DECAY = 0.95;

/**
 * The sync after optimizer step `step` (0-based index of the step just taken): its decay, or null
 * when no sync follows that step. The run's last step always syncs with decay 1 (the network takes
 * the slow copy), after its regular sync when it has one (`syncs` lists both, in order).
 */
export function lookaheadSchedule(options: LookaheadOptions): (step: number) => number[] {
  checkOptions('lookaheadSchedule', options, ['every', 'total']);
  const every = checkPositiveInteger('lookaheadSchedule: every', options.every);
  const total = checkPositiveInteger('lookaheadSchedule: total', options.total);
  const base = LOOKAHEAD_STEP_DECAY ** every;
  return (step) => {
    if (!Number.isInteger(step) || step < 0 || step >= total) throw new RangeError(`lookaheadSchedule: step must be an integer in [0, ${total}), got ${step}`);
    const taken = step + 1;
    const syncs = taken % every === 0 ? [base * (taken / total) ** 3] : [];
    if (taken === total) syncs.push(1);
    return syncs;
  };
}

/**
 * One sync of [start, end): slow = lerp(slow, fast, 1 - decay), then fast = slow, in float32 with
 * torch.lerp's formula (the weight's side decides which end it is measured from), so the result
 * is PyTorch's `slow.lerp_(fast, 1 - decay); fast.copy_(slow)`.
 */
export function lookaheadSync(slow: Float32Array, fast: Float32Array, decay: number, start = 0, end = slow.length): void {
  checkFiniteNumber('lookaheadSync: decay', decay, 0);
  if (decay > 1) throw new RangeError(`lookaheadSync: decay must be in [0, 1], got ${decay}`);
  if (fast.length !== slow.length) throw new RangeError(`lookaheadSync: the slow copy has ${slow.length} values, the network ${fast.length}`);
  const f = Math.fround;
  const weight = f(1 - decay);
  const rest = f(1 - weight);
  for (let i = start; i < end; i++) {
    const s = slow[i];
    const diff = f(fast[i] - s);
    const v = weight < 0.5 ? f(s + f(weight * diff)) : f(fast[i] - f(diff * rest));
    slow[i] = v;
    fast[i] = v;
  }
}
