import type { ParameterArena } from '@convoy/tensor';
import { AvgPool2d, Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, Module, ReLU, Sequential } from '../src';

/**
 * An independent float64 forward pass of a module tree, written as plain direct loops from the
 * PyTorch definitions (not through any KernelBackend). Gradient checks difference it with tiny
 * steps, free of float32 noise; tests also compare it with the float32 forward.
 */
export interface Value64 {
  shape: number[];
  data: Float64Array;
}

export type Params64 = Map<string, Float64Array>;

export function params64(arena: ParameterArena): Params64 {
  const map: Params64 = new Map();
  for (const e of arena.entries) map.set(e.name, Float64Array.from(arena.tensor(e.name).data));
  return map;
}

function param(p: Params64, module: Module, local: string): Float64Array {
  const name = module.name ? `${module.name}.${local}` : local;
  const v = p.get(name);
  if (!v) throw new Error(`float64 reference: no parameter ${name}`);
  return v;
}

export function forward64(module: Module, x: Value64, p: Params64): Value64 {
  if (module instanceof Sequential) {
    let y = x;
    for (const { module: child } of module.children) y = forward64(child, y, p);
    return y;
  }
  if (module instanceof Conv2d) return conv64(module, x, p);
  if (module instanceof ReLU) return { shape: x.shape, data: x.data.map((v) => (v > 0 ? v : 0)) };
  if (module instanceof MaxPool2d || module instanceof AvgPool2d) return pool64(module, x);
  if (module instanceof GlobalAvgPool2d) {
    const [n, c, h, w] = x.shape;
    const out = new Float64Array(n * c);
    for (let i = 0; i < n * c; i++) {
      let s = 0;
      for (let k = 0; k < h * w; k++) s += x.data[i * h * w + k];
      out[i] = s / (h * w);
    }
    return { shape: [n, c, 1, 1], data: out };
  }
  if (module instanceof Flatten) return { shape: [x.shape[0], x.data.length / x.shape[0]], data: x.data };
  if (module instanceof Linear) {
    const [n, inF] = x.shape;
    const outF = module.outFeatures;
    const w = param(p, module, 'weight');
    const b = module.hasBias ? param(p, module, 'bias') : null;
    const out = new Float64Array(n * outF);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < outF; o++) {
        let s = b ? b[o] : 0;
        for (let k = 0; k < inF; k++) s += x.data[i * inF + k] * w[o * inF + k];
        out[i * outF + o] = s;
      }
    }
    return { shape: [n, outF], data: out };
  }
  throw new Error(`float64 reference: no rule for ${module.kind}`);
}

function conv64(m: Conv2d, x: Value64, p: Params64): Value64 {
  const [n, c, h, w] = x.shape;
  const [kh, kw] = m.kernelSize;
  const [sh, sw] = m.stride;
  const [ph, pw] = m.padding;
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  const oc = m.outChannels;
  const weight = param(p, m, 'weight');
  const bias = m.hasBias ? param(p, m, 'bias') : null;
  const out = new Float64Array(n * oc * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < oc; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let s = bias ? bias[o] : 0;
          for (let ci = 0; ci < c; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * sh - ph + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xx * sw - pw + kx;
                if (ix < 0 || ix >= w) continue;
                s += x.data[((b * c + ci) * h + iy) * w + ix] * weight[((o * c + ci) * kh + ky) * kw + kx];
              }
            }
          }
          out[((b * oc + o) * oh + y) * ow + xx] = s;
        }
      }
    }
  }
  return { shape: [n, oc, oh, ow], data: out };
}

function pool64(m: MaxPool2d | AvgPool2d, x: Value64): Value64 {
  const [n, c, h, w] = x.shape;
  const [kh, kw] = m.kernelSize;
  const [sh, sw] = m.stride;
  const [ph, pw] = m.padding;
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  const isMax = m instanceof MaxPool2d;
  const out = new Float64Array(n * c * oh * ow);
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        let acc = isMax ? -Infinity : 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y * sh - ph + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = xx * sw - pw + kx;
            if (ix < 0 || ix >= w) continue;
            const v = x.data[(plane * h + iy) * w + ix];
            acc = isMax ? Math.max(acc, v) : acc + v;
          }
        }
        // count_include_pad=True: the divisor is the whole window
        out[(plane * oh + y) * ow + xx] = isMax ? acc : acc / (kh * kw);
      }
    }
  }
  return { shape: [n, c, oh, ow], data: out };
}
