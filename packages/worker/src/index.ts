export * from './portable';
export { createGradientPool } from './createGradientPool';
export { piscinaRunner } from './piscinaRunner';
export type { PiscinaTaskRunner } from './piscinaRunner';
export { resolveWorkerFile } from './workerFile';
