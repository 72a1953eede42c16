import type { Rng } from './rng';

/**
 * Initialisers matching PyTorch's defaults. Values are drawn in double precision from `rng` and
 * stored as float32, in flat order (for a conv weight: outC, inC, kH, kW).
 */

function checkFan(fan: number, what: string): void {
  if (!Number.isInteger(fan) || fan < 1) throw new RangeError(`${what}: fan must be a positive integer, got ${fan}`);
}

/** Uniform in [-bound, bound). */
export function uniformFill(data: Float32Array, bound: number, rng: Rng): void {
  for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * bound;
}

/**
 * PyTorch's Conv2d/Linear weight default, `kaiming_uniform_(w, a=sqrt(5))`: gain sqrt(2/(1+a^2)),
 * bound = gain * sqrt(3 / fanIn) = 1/sqrt(fanIn). fanIn = inC*kH*kW (conv) or inFeatures (linear).
 */
export function kaimingUniform(data: Float32Array, fanIn: number, rng: Rng): void {
  checkFan(fanIn, 'kaimingUniform');
  const a = Math.sqrt(5);
  const gain = Math.sqrt(2 / (1 + a * a));
  uniformFill(data, gain * Math.sqrt(3 / fanIn), rng);
}

/** PyTorch's Conv2d/Linear bias default: uniform in [-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function biasUniform(data: Float32Array, fanIn: number, rng: Rng): void {
  checkFan(fanIn, 'biasUniform');
  uniformFill(data, 1 / Math.sqrt(fanIn), rng);
}

