import * as fs from 'fs';
import * as path from 'path';

// The WebAssembly JS API as far as this module uses it. Node has it as a global, but its types live in
// TypeScript's DOM lib, which this package does not load (it would pull browser globals in).
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface CompiledModule {
  readonly __compiledWasmModule?: never;
}
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => CompiledModule;
  Instance: new (module: CompiledModule, imports: object) => { readonly exports: object };
  validate(bytes: Uint8Array): boolean;
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The functions assembly/index.ts exports; pointers are byte offsets into `memory`. */
export interface KernelExports {
  readonly memory: WasmMemory;
  /** The GEMM micro-tile (assembly/gemm.ts), exported as immutable globals: workspaces are sized by it. */
  readonly MR: { readonly value: number };
  readonly NR: { readonly value: number };
  heapBase(): number;
  gemmPacked(aPack: number, bPack: number, m: number, n: number, depth: number, c: number, ldc: number, accumulate: boolean): void;
  packA(src: number, rows: number, depth: number, rowStride: number, depthStride: number, dst: number): void;
  packB(src: number, depth: number, cols: number, depthStride: number, dst: number): void;
  conv2dForward(
    x: number, w: number, bias: number, out: number,
    batch: number, channels: number, height: number, width: number, outChannels: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number, relu: boolean,
    aPack: number, padded: number, panel: number,
  ): void;
  conv2dBackwardInput(
    dy: number, w: number, dx: number,
    batch: number, channels: number, height: number, width: number, outChannels: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number, mask: number,
    aPack: number, bPack: number, col: number,
  ): void;
  conv2dBackwardWeights(
    x: number, dy: number, dw: number, db: number,
    batch: number, channels: number, height: number, width: number, outChannels: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
    groupImages: number, aPack: number, padded: number, panel: number,
  ): void;
  winogradWeights(w: number, outChannels: number, inChannels: number, flip: boolean, uPack: number): void;
  conv3x3Winograd(
    x: number, uPack: number, bias: number, out: number,
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number, relu: boolean, mask: number,
    padded: number, panel: number, products: number,
  ): void;
  conv3x3WeightGradWinograd(
    x: number, dy: number, dw: number,
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number, groupImages: number,
    padded: number, dyEven: number, aPack: number, bPack: number, products: number,
  ): void;
  biasGradient(dy: number, db: number, batch: number, outChannels: number, pixels: number): void;
  maxPool2d(
    x: number, out: number, argmax: number, planes: number, height: number, width: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
  ): void;
  maxPool2dBackward(dy: number, argmax: number, dx: number, planes: number, height: number, width: number, outPixels: number): void;
  avgPool2d(
    x: number, out: number, planes: number, height: number, width: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
  ): void;
  avgPool2dBackward(
    dy: number, dx: number, planes: number, height: number, width: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
  ): void;
  globalAvgPool(x: number, out: number, planes: number, planeSize: number): void;
  globalAvgPoolBackward(dy: number, dx: number, planes: number, planeSize: number): void;
  batchNormForward(
    x: number, weight: number, bias: number, eps: number, mean: number, variance: number, out: number,
    batch: number, channels: number, planeSize: number, groupSize: number, training: boolean, relu: boolean,
  ): void;
  batchNormBackward(
    x: number, dy: number, reluOut: number, weight: number, eps: number, mean: number, variance: number, dx: number, gradWeight: number, gradBias: number,
    batch: number, channels: number, planeSize: number, groupSize: number, training: boolean,
  ): void;
}

/**
 * The two builds of assembly/*.ts (asconfig.json): `relaxed` uses relaxed SIMD's f32x4.relaxed_madd
 * in the GEMM micro-kernel (one FMA instruction on x86-64 with FMA3 and on arm64), `plain` only
 * SIMD 128 (mul + add). Both compute the same sums; relaxed rounds once per multiply-add where the
 * CPU fuses it.
 */
export type WasmVariant = 'relaxed' | 'plain';
export const WASM_VARIANTS: readonly WasmVariant[] = ['relaxed', 'plain'];

const WASM_FILES: Record<WasmVariant, string> = { relaxed: 'kernels-relaxed.wasm', plain: 'kernels.wasm' };

/**
 * Where the build puts a variant. The same relative path works from src/wasm (jest, ts runners)
 * and from dist/wasm (compiled JS): both resolve to packages/kernels/dist/.
 */
export function kernelWasmPath(variant: WasmVariant = 'plain'): string {
  return path.resolve(__dirname, '..', '..', 'dist', WASM_FILES[variant]);
}

// (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0))))
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // 3 x v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

let relaxedSupport: boolean | null = null;

/**
 * Whether this engine runs relaxed SIMD: validates a tiny module using f32x4.relaxed_madd. Node 20's
 * V8 has relaxed SIMD behind --experimental-wasm-relaxed-simd, which is switched on here first
 * (V8 reads wasm feature flags at each compilation, so setting it at run time works, in worker
 * threads too); newer engines have it on by default. The answer is cached per thread.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport !== null) return relaxedSupport;
  if (!webAssembly.validate(RELAXED_SIMD_PROBE)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('v8') as typeof import('v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // Not Node (or no v8 module): the engine's default decides.
    }
  }
  relaxedSupport = webAssembly.validate(RELAXED_SIMD_PROBE);
  return relaxedSupport;
}

/** The variant a default backend runs: relaxed where the engine validates it (never slower), else plain. */
export function preferredWasmVariant(): WasmVariant {
  return relaxedSimdSupported() ? 'relaxed' : 'plain';
}

const compiled = new Map<WasmVariant, CompiledModule>();
const provided = new Map<WasmVariant, Uint8Array>();

/**
 * Hands in a variant's module bytes where there is no file system to read dist/*.wasm from (a
 * browser fetches or bundles the file): from then on this thread compiles these bytes instead.
 * Call it before creating a wasm backend, in every thread that creates one.
 */
export function provideKernelWasm(variant: WasmVariant, bytes: Uint8Array): void {
  if (!webAssembly.validate(bytes)) throw new Error(`@convoy/kernels: the bytes given for the ${variant} kernels are not a WebAssembly module this engine accepts`);
  provided.set(variant, bytes);
  compiled.delete(variant);
}

function readKernelFile(variant: WasmVariant): Uint8Array {
  const file = kernelWasmPath(variant);
  if (!fs.existsSync(file)) {
    throw new Error(
      `@convoy/kernels: WebAssembly kernels not found at ${file}. ` +
        'Build them with `npx nx run @convoy/kernels:build` (or `npm run build:wasm -w @convoy/kernels`).',
    );
  }
  return fs.readFileSync(file);
}

/** Compiles a variant's module once per thread, synchronously, so backends can be created synchronously. */
export function kernelModule(variant: WasmVariant): CompiledModule {
  const cached = compiled.get(variant);
  if (cached) return cached;
  if (variant === 'relaxed' && !relaxedSimdSupported()) {
    const engine = typeof process === 'undefined' ? 'this JavaScript engine' : `this JavaScript engine (Node ${process.version})`;
    throw new Error(`@convoy/kernels: ${engine} does not run relaxed SIMD; use the plain wasm variant`);
  }
  const module = new webAssembly.Module(provided.get(variant) ?? readKernelFile(variant));
  compiled.set(variant, module);
  return module;
}

/**
 * A fresh instance with its own memory: one per backend, hence one per worker thread. Exported for
 * benchmarks and tests of the raw kernels (pointers are byte offsets into `memory`); applications
 * use a backend.
 */
export function instantiateKernels(variant: WasmVariant): KernelExports {
  const instance = new webAssembly.Instance(kernelModule(variant), {});
  checkContract(instance.exports as Record<string, unknown>, variant);
  return instance.exports as unknown as KernelExports;
}

type KernelFunction = { [K in keyof KernelExports]: KernelExports[K] extends (...args: never[]) => unknown ? K : never }[keyof KernelExports];
type Arity<F> = F extends (...args: infer P) => unknown ? P['length'] : never;

/**
 * Every exported function's parameter count. The compiler checks each entry against KernelExports
 * (an entry that disagrees with the interface does not type-check), and instantiateKernels checks
 * the module against this table, so the hand-written interface, this table and assembly/ cannot
 * drift apart unnoticed: a .wasm built from other sources fails at load with a message.
 */
const KERNEL_PARAMETERS: { [K in KernelFunction]: Arity<KernelExports[K]> } = {
  heapBase: 0, gemmPacked: 8, packA: 6, packB: 5, conv2dForward: 19, conv2dBackwardInput: 18, conv2dBackwardWeights: 19,
  winogradWeights: 5, conv3x3Winograd: 15, conv3x3WeightGradWinograd: 15, biasGradient: 5, maxPool2d: 12, maxPool2dBackward: 7,
  avgPool2d: 11, avgPool2dBackward: 11, globalAvgPool: 4, globalAvgPoolBackward: 4,
  batchNormForward: 13, batchNormBackward: 15,
};

function checkContract(exports: Record<string, unknown>, variant: WasmVariant): void {
  const problems: string[] = [];
  for (const [name, count] of Object.entries(KERNEL_PARAMETERS)) {
    const fn = exports[name];
    if (typeof fn !== 'function') problems.push(`${name} is missing`);
    else if (fn.length !== count) problems.push(`${name} takes ${fn.length} parameters, the host passes ${count}`);
  }
  for (const name of ['MR', 'NR', 'memory']) if (!(name in exports)) problems.push(`${name} is missing`);
  if (problems.length > 0) {
    throw new Error(
      `@convoy/kernels: the ${variant} kernels module does not match this version of the host (${problems.join('; ')}); ` +
        'rebuild it with `npx nx run @convoy/kernels:build`',
    );
  }
}
