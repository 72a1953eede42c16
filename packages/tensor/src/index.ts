export { Tensor } from './tensor';
export { assertSameShape, assertShape, formatShape, shapeSize, shapesEqual, validateShape } from './shape';
export type { Shape } from './shape';
export { Rng } from './rng';
export { kaimingUniform, biasUniform, uniformFill } from './init';
export { ParameterArena } from './arena';
export type { ArenaEntry, ParameterArenaOptions, ParameterSpec } from './arena';
export { findNonFinite, relativeError } from './ops';
