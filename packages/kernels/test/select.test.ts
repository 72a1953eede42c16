import { referenceBackend, relaxedSimdSupported, selectBackend } from '../src';

const backendNamed = (name: string) => selectBackend(name).backend;

describe('selectBackend', () => {
  test('reference is the plain-TS oracle', () => {
    expect(backendNamed('reference')).toBe(referenceBackend);
  });

  test('wasm gives a fresh WebAssembly backend per call (one per thread)', () => {
    const a = backendNamed('wasm');
    const b = backendNamed('wasm');
    expect(a.name).toBe('wasm');
    expect(a).not.toBe(b);
  });

  test('wasm:im2col is the wasm backend with Winograd off', () => {
    const backend = backendNamed('wasm:im2col');
    expect(backend.name).toBe('wasm:im2col');
    const g = { batch: 1, inChannels: 8, inHeight: 4, inWidth: 4, outChannels: 8, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 };
    expect((backend as import('../src').WasmBackend).usesWinograd(g)).toBe(false);
    expect((backendNamed('wasm') as import('../src').WasmBackend).usesWinograd(g)).toBe(true);
  });

  test('wasm:relaxed and wasm:plain pin one build of the kernels; wasm prefers relaxed where the engine runs it', () => {
    const relaxed = backendNamed('wasm:relaxed') as import('../src').WasmBackend;
    const plain = backendNamed('wasm:plain') as import('../src').WasmBackend;
    expect([relaxed.name, relaxed.variant, plain.name, plain.variant]).toEqual(['wasm:relaxed', 'relaxed', 'wasm:plain', 'plain']);
    expect((backendNamed('wasm') as import('../src').WasmBackend).variant).toBe(relaxedSimdSupported() ? 'relaxed' : 'plain');
    expect(selectBackend('wasm:plain').reason).toMatch(/plain SIMD build/);
  });

  test('auto picks wasm unless gpu.js finds a hardware GPU, and says why', () => {
    const { backend, reason } = selectBackend('auto');
    if (/hardware GPU found/.test(reason)) {
      expect(backend.name).toMatch(/^gpujs/);
    } else {
      expect(backend.name).toBe('wasm');
      expect(reason).toMatch(/^auto: .*\bWebAssembly SIMD \((relaxed|plain)[^)]*\)/);
    }
  });

  test('auto and wasm compute the same conv as the reference', () => {
    const g = { batch: 1, inChannels: 2, inHeight: 4, inWidth: 4, outChannels: 3, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 };
    const input = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
    const weight = Float32Array.from({ length: 54 }, (_, i) => Math.cos(i));
    const expected = new Float32Array(48);
    const actual = new Float32Array(48);
    referenceBackend.conv2d(g, input, weight, null, expected);
    backendNamed('auto').conv2d(g, input, weight, null, actual);
    for (let i = 0; i < 48; i++) expect(actual[i]).toBeCloseTo(expected[i], 5);
  });

  test('an unknown name is rejected with the list of valid names', () => {
    expect(() => backendNamed('cuda')).toThrow(/'cuda'.*\bauto, wasm, gpujs, reference\b/);
  });
});
