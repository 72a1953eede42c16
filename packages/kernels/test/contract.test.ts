import * as fs from 'fs';
import { instantiateKernels, kernelWasmPath, provideKernelWasm } from '../src/wasm/kernelModule';

describe('host/assembly contract', () => {
  test('a module whose exports differ from the host\'s table is refused at load, saying what differs and what to run', () => {
    // An empty module stands for a .wasm built from other sources.
    provideKernelWasm('plain', new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    try {
      expect(() => instantiateKernels('plain')).toThrow(
        /\bplain kernels module\b.*\bheapBase\b.*\bconv3x3Winograd\b.*`npx nx run @convoy\/kernels:build`/,
      );
    } finally {
      provideKernelWasm('plain', fs.readFileSync(kernelWasmPath('plain')));
    }
    expect(instantiateKernels('plain').MR.value).toBe(4);
  });
});
