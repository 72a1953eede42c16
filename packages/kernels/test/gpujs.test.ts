import { GpuJsBackend, createGpuJsBackend, gpuJsModesAvailable, parseGpuJsMode } from '../src/gpujs';
import { referenceBackend as ref } from '../src/reference';
import type { Conv2dGeometry, Pool2dGeometry } from '../src/shapes';
import { defineParityTests, defineRanInModeTest, gpuJsBackendForBlock } from './gpujsParity';

// gpu.js's WebAssembly and CPU modes run everywhere: parity with the reference on random shapes,
// plus the backend's own promises (mode naming, kernel caching, errors). The GL path is
// gpujs-gl.test.ts.

describe('gpu.js backend, webasm mode', () => {
  const backend = gpuJsBackendForBlock('webasm');
  test('runs every kernel in WebAssembly and says so', () => {
    expect(backend().name).toBe('gpujs:webasm');
  });
  defineParityTests(backend, { seed: 31_001, convCases: 10, convBudget: 2e6, poolCases: 8, poolElements: 60_000 });
  defineRanInModeTest(backend, 'webasm', 10);
});

describe('gpu.js backend, cpu mode', () => {
  const backend = gpuJsBackendForBlock('cpu');
  test('is named for its mode', () => {
    expect(backend().name).toBe('gpujs:cpu');
  });
  defineParityTests(backend, { seed: 31_002, convCases: 6, convBudget: 1e6, poolCases: 5, poolElements: 40_000 });
});

describe('gpu.js backend behaviour', () => {
  const g: Conv2dGeometry = {
    batch: 2, inChannels: 3, inHeight: 6, inWidth: 5, outChannels: 4,
    kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1,
  };
  const input = Float32Array.from({ length: 2 * 3 * 6 * 5 }, (_, i) => Math.sin(i));
  const weight = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.cos(i));

  test('accepts "wasm" for gpu.js\'s "webasm" and rejects unknown modes with the valid list', () => {
    expect(parseGpuJsMode('wasm')).toBe('webasm');
    expect(() => parseGpuJsMode('metal')).toThrow(/"metal".*\bheadlessgl, webgl2, webgl, webgpu, webasm, gpu, cpu\b/);
  });

  test('compiles a kernel once per geometry and reuses it, writing into the caller\'s array', () => {
    const backend = createGpuJsBackend({ mode: 'webasm' });
    try {
      const out = new Float32Array(2 * 4 * 6 * 5);
      const expected = new Float32Array(out.length);
      ref.conv2d(g, input, weight, null, expected);
      backend.conv2d(g, input, weight, null, out);
      const firstRun = out.slice();
      out.fill(NaN);
      backend.conv2d({ ...g }, input, weight, null, out);
      expect(out).toEqual(firstRun);
      expect(Object.keys(backend.kernelModes())).toEqual([`conv2d ${Object.values(g).join('x')}`]);
      backend.conv2d({ ...g, padHeight: 0 }, input, weight, null, new Float32Array(2 * 4 * 4 * 5));
      expect(Object.keys(backend.kernelModes())).toHaveLength(2);
    } finally {
      backend.dispose();
    }
  });

  test('wrong array sizes fail with the expected count and layout', () => {
    const backend = createGpuJsBackend({ mode: 'cpu' });
    try {
      expect(() => backend.conv2d(g, input.subarray(1), weight, null, new Float32Array(240))).toThrow(/^conv2d input: .*\b180 elements\b.*\[N, inC, H, W\].*\b179$/);
      const pool: Pool2dGeometry = {
        batch: 1, channels: 1, inHeight: 4, inWidth: 4, kernelHeight: 2, kernelWidth: 2,
        strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0,
      };
      expect(() => backend.maxPool2d(pool, new Float32Array(16), new Float32Array(4), new Int32Array(3))).toThrow(/^maxPool2d argmax: .*\b4 elements\b.*\b3$/);
    } finally {
      backend.dispose();
    }
  });

  test('max pooling keeps the first of tied maxima and never lets padding win', () => {
    const backend = createGpuJsBackend({ mode: 'webasm' });
    try {
      const pool: Pool2dGeometry = {
        batch: 1, channels: 1, inHeight: 1, inWidth: 4, kernelHeight: 1, kernelWidth: 3,
        strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 1,
      };
      // all negative, so a zero from padding would win if padding were read; -1 ties twice
      const x = Float32Array.from([-3, -1, -1, -2]);
      const out = new Float32Array(4);
      const argmax = new Int32Array(4);
      backend.maxPool2d(pool, x, out, argmax);
      expect(Array.from(out)).toEqual([-1, -1, -1, -1]);
      expect(Array.from(argmax)).toEqual([1, 1, 1, 2]);
    } finally {
      backend.dispose();
    }
  });

  test('webgpu mode is refused with the reason, not silently replaced', () => {
    expect(() => new GpuJsBackend({ mode: 'webgpu' })).toThrow(/\bwebgpu\b.*\bsynchronous\b.*: .+/);
  });

  test('the probe reports every mode, and the CPU-side modes work everywhere', () => {
    const probes = gpuJsModesAvailable();
    expect(probes.map((p) => p.mode)).toEqual(['headlessgl', 'webgl2', 'webgl', 'webgpu', 'webasm', 'gpu', 'cpu']);
    const byMode = Object.fromEntries(probes.map((p) => [p.mode, p]));
    expect(byMode.webasm).toEqual({ mode: 'webasm', available: true, runsOn: 'webasm', reason: null });
    expect(byMode.cpu).toEqual({ mode: 'cpu', available: true, runsOn: 'cpu', reason: null });
    // "gpu" always runs somewhere; the probe names where
    expect(byMode.gpu.available).toBe(true);
    expect(['headlessgl', 'webasm']).toContain(byMode.gpu.runsOn);
    for (const probe of probes) {
      if (!probe.available) expect(probe.reason).toMatch(/\w+/);
    }
    expect(byMode.webgpu.available).toBe(false);
    expect(byMode.webgl.reason).toMatch(/browser canvas/);
  });
});
