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
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The functions assembly/index.ts exports; pointers are byte offsets into `memory`. */
export interface KernelExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  conv2dForward(
    x: number, w: number, bias: number, out: number,
    batch: number, channels: number, height: number, width: number, outChannels: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
    aPack: number, padded: number, panel: number,
  ): void;
  conv2dBackwardInput(
    dy: number, w: number, dx: number,
    batch: number, channels: number, height: number, width: number, outChannels: number,
    kernelH: number, kernelW: number, strideH: number, strideW: number, padH: number, padW: number,
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
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number,
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
}

/**
 * Where the build puts the module. The same relative path works from src/wasm (jest, ts runners)
 * and from dist/wasm (compiled JS): both resolve to packages/kernels/dist/kernels.wasm.
 */
export function kernelWasmPath(): string {
  return path.resolve(__dirname, '..', '..', 'dist', 'kernels.wasm');
}

let compiled: CompiledModule | null = null;

/** Compiles dist/kernels.wasm once per thread, synchronously, so backends can be created synchronously. */
export function kernelModule(): CompiledModule {
  if (compiled) return compiled;
  const file = kernelWasmPath();
  if (!fs.existsSync(file)) {
    throw new Error(
      `@convoy/kernels: WebAssembly kernels not found at ${file}. ` +
        'Build them with `npx nx run @convoy/kernels:build` (or `npm run build:wasm -w @convoy/kernels`).',
    );
  }
  compiled = new webAssembly.Module(fs.readFileSync(file));
  return compiled;
}

/** A fresh instance with its own memory: one per backend, hence one per worker thread. */
export function instantiateKernels(): KernelExports {
  const instance = new webAssembly.Instance(kernelModule(), {});
  return instance.exports as unknown as KernelExports;
}
