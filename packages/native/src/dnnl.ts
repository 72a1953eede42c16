/**
 * The koffi binding to oneDNN 2.x's C API: discovery of the library at run time, the version check,
 * the handful of functions the backend calls, and one OpenMP thread per calling thread.
 *
 * oneDNN 2.x describes an op with an operation descriptor (`dnnl_convolution_desc_t`, ...) filled
 * by `dnnl_*_desc_init` and turned into a primitive descriptor by `dnnl_primitive_desc_create`.
 * oneDNN 3.x removed those descriptors (`dnnl_*_primitive_desc_create` instead) and changed memory
 * descriptors into handles, so a 3.x library is refused with that reason.
 *
 * The C structs (memory, convolution and pooling descriptors) are kept opaque: caller-allocated
 * byte buffers of their 2.x sizes (checked on x86-64 Linux with the 2.6 headers), only ever passed
 * back to the library.
 */
/** The part of koffi's API used here (koffi's own types are ESM-only declarations). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type KoffiFunction = (...args: any[]) => any;
interface LibraryHandle {
  func(definition: string): KoffiFunction;
}
interface Koffi {
  load(path: string): LibraryHandle;
  struct(name: string, fields: Record<string, string>): unknown;
  decode(pointer: unknown, type: unknown): unknown;
}

/** Why the native backend cannot run here; one line, saying what to install or set. */
export class NativeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeUnavailableError';
  }
}

export const INSTALL_HINT =
  'install oneDNN 2.x (Debian/Ubuntu: apt-get install libdnnl2) or set CONVOY_DNNL to the path of libdnnl';

/** oneDNN's file names, newest first; 3.x is found so that it can be refused with a reason. */
export function dnnlCandidates(platform: NodeJS.Platform = process.platform): string[] {
  if (platform === 'darwin') return ['libdnnl.3.dylib', 'libdnnl.2.dylib', 'libdnnl.dylib'];
  if (platform === 'win32') return ['dnnl.dll'];
  return ['libdnnl.so.3', 'libdnnl.so.2'];
}

/** Sizes of the opaque 2.x structs (sizeof on x86-64 with the 2.6 headers), rounded up for slack. */
export const MEMORY_DESC_BYTES = 768;
export const OP_DESC_BYTES = 8192;

/** dnnl_types.h (2.x) constants. */
export const DNNL = {
  success: 0,
  bf16: 2,
  f32: 3,
  tag: { any: 1, x: 2, nchw: 5, oihw: 5, nhwc: 20 },
  prop: { forwardTraining: 64, forwardInference: 96, backwardData: 160, backwardWeights: 192, backward: 128 },
  alg: { convDirect: 1, eltwiseRelu: 31, poolMax: 511, poolAvgIncludePadding: 767 },
  engineCpu: 1,
  streamDefault: 1,
  arg: { src: 1, dst: 17, weights: 33, bias: 41, workspace: 64, diffSrc: 129, diffDst: 145, diffWeights: 161, diffBias: 169, from: 1, to: 17 },
  query: { execArgMd: 255, implInfoStr: 8, srcMd: 129, diffSrcMd: 130, weightsMd: 131, diffWeightsMd: 132, dstMd: 133, diffDstMd: 134, workspaceMd: 135 },
} as const;

/** Pointers are BigInt addresses in koffi 3; null is the null pointer. */
export type Pointer = bigint;

export interface Dnnl {
  /** Where it was loaded from and its version, for messages. */
  readonly path: string;
  readonly version: string;
  readonly engine: Pointer;
  readonly memory_desc_init_by_tag: KoffiFunction;
  readonly memory_desc_equal: KoffiFunction;
  readonly memory_desc_get_size: KoffiFunction;
  readonly convolution_forward_desc_init: KoffiFunction;
  readonly convolution_backward_data_desc_init: KoffiFunction;
  readonly convolution_backward_weights_desc_init: KoffiFunction;
  readonly pooling_forward_desc_init: KoffiFunction;
  readonly pooling_backward_desc_init: KoffiFunction;
  readonly primitive_attr_create: KoffiFunction;
  readonly primitive_attr_destroy: KoffiFunction;
  readonly primitive_attr_set_post_ops: KoffiFunction;
  readonly post_ops_create: KoffiFunction;
  readonly post_ops_destroy: KoffiFunction;
  readonly post_ops_append_eltwise: KoffiFunction;
  readonly primitive_desc_create: KoffiFunction;
  readonly primitive_desc_destroy: KoffiFunction;
  readonly primitive_desc_query_md: KoffiFunction;
  readonly primitive_desc_query_str: KoffiFunction;
  readonly reorder_primitive_desc_create: KoffiFunction;
  readonly primitive_create: KoffiFunction;
  readonly primitive_destroy: KoffiFunction;
  readonly primitive_execute: KoffiFunction;
  readonly memory_create: KoffiFunction;
  readonly memory_destroy: KoffiFunction;
  readonly memory_set_data_handle: KoffiFunction;
  readonly stream_create: KoffiFunction;
  readonly stream_wait: KoffiFunction;
  /** Sets the OpenMP thread count of the calling thread (null when the library is not built on OpenMP). */
  readonly setOmpThreads: ((count: number) => void) | null;
}

let loaded: Dnnl | null = null;
let loadFailure: NativeUnavailableError | null = null;

/** Throws unless a call returned dnnl_success, naming the call. */
export function check(status: number, what: string): void {
  if (status !== DNNL.success) throw new Error(`oneDNN: ${what} failed (dnnl_status_t ${status})`);
}

/**
 * Loads koffi and oneDNN on first use: `CONVOY_DNNL` if set, else the library's names through the
 * dynamic linker's search path. A 3.x library is refused: this binding speaks the 2.x C API.
 * Throws NativeUnavailableError (the same one on every later call) with a one-line reason.
 */
export function loadDnnl(env: NodeJS.ProcessEnv = process.env): Dnnl {
  if (loaded) return loaded;
  if (loadFailure) throw loadFailure;
  try {
    loaded = bind(env);
    return loaded;
  } catch (error) {
    loadFailure = error instanceof NativeUnavailableError ? error : new NativeUnavailableError(`oneDNN could not be bound: ${(error as Error).message}`);
    throw loadFailure;
  }
}

function bind(env: NodeJS.ProcessEnv): Dnnl {
  let koffi: Koffi;
  try {
    // Lazy on purpose: koffi is only needed when the native backend is asked for.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    koffi = require('koffi') as Koffi;
  } catch (error) {
    throw new NativeUnavailableError(`koffi (the FFI library) does not load: ${(error as Error).message.split('\n')[0]}`);
  }
  const candidates = env.CONVOY_DNNL ? [env.CONVOY_DNNL] : dnnlCandidates();
  const failures: string[] = [];
  let lib: LibraryHandle | null = null;
  let path = '';
  for (const candidate of candidates) {
    try {
      lib = koffi.load(candidate);
      path = candidate;
      break;
    } catch (error) {
      failures.push(`${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (!lib) throw new NativeUnavailableError(`oneDNN not found (${failures.join('; ')}); ${INSTALL_HINT}`);

  const versionStruct = koffi.struct('convoy_dnnl_version_t', {
    major: 'int', minor: 'int', patch: 'int', hash: 'const char *', cpu_runtime: 'uint', gpu_runtime: 'uint',
  });
  const version = koffi.decode(lib.func('void *dnnl_version()')(), versionStruct) as { major: number; minor: number; patch: number; cpu_runtime: number };
  const versionText = `${version.major}.${version.minor}.${version.patch}`;
  if (version.major !== 2) {
    throw new NativeUnavailableError(
      `${path} is oneDNN ${versionText}; the native backend speaks oneDNN 2.x's C API only (3.x replaced its operation descriptors); ` +
        'install oneDNN 2.x (Debian 12: libdnnl2) and point CONVOY_DNNL at it',
    );
  }

  const f = (definition: string) => lib.func(definition);
  const engineOut: Array<Pointer | null> = [null];
  check(f('int dnnl_engine_create(_Out_ void **engine, int kind, size_t index)')(engineOut, DNNL.engineCpu, 0), 'dnnl_engine_create');

  // DNNL_RUNTIME_OMP = 2: the library runs its loops on OpenMP; each calling thread asks for one.
  let setOmpThreads: ((count: number) => void) | null = null;
  if (version.cpu_runtime === 2) {
    const gomp = loadOpenMp(koffi, env);
    if (!gomp) throw new NativeUnavailableError(`${path} runs on OpenMP, but no OpenMP runtime (libgomp.so.1, libomp.so, libiomp5.so) could be bound to pin it to one thread`);
    setOmpThreads = gomp;
  }

  return {
    path,
    version: versionText,
    engine: engineOut[0] as Pointer,
    memory_desc_init_by_tag: f('int dnnl_memory_desc_init_by_tag(void *md, int ndims, const int64_t *dims, int data_type, int tag)'),
    memory_desc_equal: f('int dnnl_memory_desc_equal(const void *lhs, const void *rhs)'),
    memory_desc_get_size: f('size_t dnnl_memory_desc_get_size(const void *md)'),
    convolution_forward_desc_init: f(
      'int dnnl_convolution_forward_desc_init(void *cd, int prop, int alg, const void *src, const void *weights, const void *bias, const void *dst, const int64_t *strides, const int64_t *pl, const int64_t *pr)',
    ),
    convolution_backward_data_desc_init: f(
      'int dnnl_convolution_backward_data_desc_init(void *cd, int alg, const void *diff_src, const void *weights, const void *diff_dst, const int64_t *strides, const int64_t *pl, const int64_t *pr)',
    ),
    convolution_backward_weights_desc_init: f(
      'int dnnl_convolution_backward_weights_desc_init(void *cd, int alg, const void *src, const void *diff_weights, const void *diff_bias, const void *diff_dst, const int64_t *strides, const int64_t *pl, const int64_t *pr)',
    ),
    pooling_forward_desc_init: f(
      'int dnnl_pooling_forward_desc_init(void *pd, int prop, int alg, const void *src, const void *dst, const int64_t *strides, const int64_t *kernel, const int64_t *pl, const int64_t *pr)',
    ),
    pooling_backward_desc_init: f(
      'int dnnl_pooling_backward_desc_init(void *pd, int alg, const void *diff_src, const void *diff_dst, const int64_t *strides, const int64_t *kernel, const int64_t *pl, const int64_t *pr)',
    ),
    primitive_attr_create: f('int dnnl_primitive_attr_create(_Out_ void **attr)'),
    primitive_attr_destroy: f('int dnnl_primitive_attr_destroy(void *attr)'),
    primitive_attr_set_post_ops: f('int dnnl_primitive_attr_set_post_ops(void *attr, void *post_ops)'),
    post_ops_create: f('int dnnl_post_ops_create(_Out_ void **post_ops)'),
    post_ops_destroy: f('int dnnl_post_ops_destroy(void *post_ops)'),
    post_ops_append_eltwise: f('int dnnl_post_ops_append_eltwise(void *post_ops, float scale, int alg, float alpha, float beta)'),
    primitive_desc_create: f('int dnnl_primitive_desc_create(_Out_ void **pd, const void *op_desc, void *attr, void *engine, void *hint)'),
    primitive_desc_destroy: f('int dnnl_primitive_desc_destroy(void *pd)'),
    primitive_desc_query_md: f('void *dnnl_primitive_desc_query_md(void *pd, int what, int index)'),
    primitive_desc_query_str: f('int dnnl_primitive_desc_query(void *pd, int what, int index, _Out_ const char **result)'),
    reorder_primitive_desc_create: f('int dnnl_reorder_primitive_desc_create(_Out_ void **pd, const void *src_md, void *src_engine, const void *dst_md, void *dst_engine, void *attr)'),
    primitive_create: f('int dnnl_primitive_create(_Out_ void **primitive, void *pd)'),
    primitive_destroy: f('int dnnl_primitive_destroy(void *primitive)'),
    primitive_execute: f('int dnnl_primitive_execute(void *primitive, void *stream, int nargs, const void *args)'),
    memory_create: f('int dnnl_memory_create(_Out_ void **memory, const void *md, void *engine, void *handle)'),
    memory_destroy: f('int dnnl_memory_destroy(void *memory)'),
    memory_set_data_handle: f('int dnnl_memory_set_data_handle(void *memory, void *handle)'),
    stream_create: f('int dnnl_stream_create(_Out_ void **stream, void *engine, uint flags)'),
    stream_wait: f('int dnnl_stream_wait(void *stream)'),
    setOmpThreads,
  };
}

/** `omp_set_num_threads` of the OpenMP runtime oneDNN was linked against (already in the process). */
function loadOpenMp(koffi: Koffi, env: NodeJS.ProcessEnv): ((count: number) => void) | null {
  const names = env.CONVOY_OPENMP ? [env.CONVOY_OPENMP] : ['libgomp.so.1', 'libomp.so', 'libiomp5.so', 'libomp.dylib', 'libiomp5md.dll'];
  for (const name of names) {
    try {
      const fn = koffi.load(name).func('void omp_set_num_threads(int count)');
      return (count: number) => fn(count);
    } catch {
      // next name
    }
  }
  return null;
}
