import { readFileSync } from 'node:fs';
import { kernelWasmPath, provideKernelWasm, referenceBackend } from '../src';
import { createWasmBackend } from '../src/wasm';

// Where there is no file system (a browser), the page fetches the .wasm file and hands its bytes in.
test('a backend compiles the bytes handed in, and refuses bytes that are not a module', () => {
  expect(() => provideKernelWasm('plain', new Uint8Array([1, 2, 3]))).toThrow(/not a WebAssembly module/);
  provideKernelWasm('plain', new Uint8Array(readFileSync(kernelWasmPath('plain'))));
  const wasm = createWasmBackend({ variant: 'plain' });
  const x = Float32Array.from({ length: 2 * 3 * 5 * 5 }, (_, i) => Math.sin(i));
  const w = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.cos(i));
  const bias = new Float32Array([0.1, -0.2, 0.3, 0]);
  const geometry = { batch: 2, inChannels: 3, outChannels: 4, inHeight: 5, inWidth: 5, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 };
  const expected = new Float32Array(2 * 4 * 5 * 5);
  const actual = new Float32Array(expected.length);
  referenceBackend.conv2d(geometry, x, w, bias, expected);
  wasm.conv2d(geometry, x, w, bias, actual);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 4);
});
