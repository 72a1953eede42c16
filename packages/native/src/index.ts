export { NativeBackend, createNativeBackend } from './nativeBackend';
export type { NativeBackendOptions, NativePrecision } from './nativeBackend';
export { INSTALL_HINT, NativeUnavailableError, dnnlCandidates, loadDnnl } from './dnnl';
export type { Dnnl } from './dnnl';
export { recipeParityProblem } from './parity';
export { selectNativeBackend } from './select';
export type { NativeSelection } from './select';
