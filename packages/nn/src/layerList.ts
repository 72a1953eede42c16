import { BatchNorm2d } from './layers/batchnorm2d';
import { Conv2d } from './layers/conv2d';
import { Dropout } from './layers/dropout';
import { Flatten } from './layers/flatten';
import { GELU } from './layers/gelu';
import { Linear } from './layers/linear';
import { AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d } from './layers/pooling';
import { ReLU } from './layers/relu';
import { Residual } from './layers/residual';
import { Scale } from './layers/scale';
import { Sequential } from './layers/sequential';
import type { Module } from './module';
import type { BuildOptions } from './recipe';

/**
 * One entry of a layer list, as in a model file: `{ "type": "conv2d", "out": 64, "kernel": 3 }`.
 * Fields and defaults are PyTorch's (see docs/ARCHITECTURE.md); `"out": "classes"` in a linear layer
 * is the data's class count.
 */
export type LayerSpec = { type: string } & Record<string, unknown>;

/** The input a layer list starts from and the list itself. */
export interface LayerListSpec {
  /** Free text for the reader of the file. */
  description?: string;
  input: { channels: number; resolution: number };
  layers: LayerSpec[];
}

/**
 * Builds the network of a layer list as torch.nn.Sequential would run it, named as the PyTorch module
 * that tools/pytorch/model_file.py builds from the same list: `layers.{i}.weight`, inside a residual
 * `layers.{i}.layers.{j}.weight`. Infers each layer's input channels and features; a conv2d
 * followed by relu uses the fused conv+ReLU kernels. Errors name the layer's path (`layers[3].layers[0]`).
 */
export function buildLayerList(spec: LayerListSpec, classes: number, options: BuildOptions = {}): Module {
  const { channels, resolution } = spec.input;
  const { layers } = buildLayers(spec.layers, [channels, resolution, resolution], classes, options, 'layers', true);
  return new Sequential({ layers: new Sequential(layers, { fuseReLU: true }) });
}

function buildLayers(
  specs: LayerSpec[], shape: number[], classes: number, options: BuildOptions, path: string, first: boolean,
): { layers: Module[]; shape: number[] } {
  if (!Array.isArray(specs) || specs.length === 0) throw new RangeError(`${path}: expected a non-empty array of layers`);
  const backend = options.backend;
  const layers: Module[] = [];
  specs.forEach((s, i) => {
    const where = `${path}[${i}]`;
    const num = (k: string, d?: number): number => {
      const v = s[k] ?? d;
      if (typeof v !== 'number') throw new RangeError(`${where}: ${s.type} needs a number '${k}', got ${JSON.stringify(s[k])}`);
      return v;
    };
    const spatial = (): [number, number, number] => {
      if (shape.length !== 3) throw new RangeError(`${where}: ${s.type} needs an input [C, H, W], got [${shape.join(', ')}] (it comes after a flatten)`);
      return shape as [number, number, number];
    };
    const out = (k: number, stride: number, pad: number, side: number): number => {
      const o = Math.floor((side + 2 * pad - k) / stride) + 1;
      if (o < 1) throw new RangeError(`${where}: ${s.type} shrinks a side of ${side} below 1 (kernel ${k}, stride ${stride}, padding ${pad})`);
      return o;
    };
    try {
      switch (s.type) {
        case 'conv2d': {
          const [c, h, w] = spatial();
          const [k, stride, pad] = [num('kernel'), num('stride', 1), num('padding', 0)];
          const bias = (s.bias as boolean | undefined) ?? true;
          const inputGradient = first && i === 0 ? options.inputGradient : undefined;
          layers.push(new Conv2d(c, num('out'), k, { stride, padding: pad, bias, backend, inputGradient }));
          shape = [num('out'), out(k, stride, pad, h), out(k, stride, pad, w)];
          break;
        }
        case 'batchnorm2d':
          layers.push(new BatchNorm2d(spatial()[0], { eps: s.eps as number | undefined, momentum: s.momentum as number | undefined, affine: s.affine as boolean | undefined, groupSize: s.groupSize as number | undefined }));
          break;
        case 'relu': layers.push(new ReLU()); break;
        case 'gelu': layers.push(new GELU()); break;
        case 'maxpool2d':
        case 'avgpool2d': {
          const [c, h, w] = spatial();
          const k = num('kernel');
          const [stride, pad] = [num('stride', k), num('padding', 0)];
          const options2 = { stride, padding: pad, backend };
          layers.push(s.type === 'maxpool2d' ? new MaxPool2d(k, options2) : new AvgPool2d(k, options2));
          shape = [c, out(k, stride, pad, h), out(k, stride, pad, w)];
          break;
        }
        case 'globalavgpool2d': layers.push(new GlobalAvgPool2d({ backend })); shape = [spatial()[0], 1, 1]; break;
        case 'globalmaxpool2d': layers.push(new GlobalMaxPool2d({ backend })); shape = [spatial()[0], 1, 1]; break;
        case 'flatten': layers.push(new Flatten()); shape = [shape.reduce((a, b) => a * b, 1)]; break;
        case 'linear': {
          if (shape.length !== 1) throw new RangeError(`${where}: linear needs a flat input; add { "type": "flatten" } before it (input [${shape.join(', ')}])`);
          const n = s.out === 'classes' ? classes : num('out');
          layers.push(new Linear(shape[0], n, { bias: (s.bias as boolean | undefined) ?? true }));
          shape = [n];
          break;
        }
        case 'dropout': layers.push(new Dropout(num('p', 0.5))); break;
        case 'scale': layers.push(new Scale(num('by'))); break;
        case 'residual': {
          const body = buildLayers(s.layers as LayerSpec[], shape, classes, options, `${where}.layers`, false);
          if (body.shape.join() !== shape.join()) {
            throw new RangeError(`${where}: a residual body must keep the shape; it maps [${shape.join(', ')}] to [${body.shape.join(', ')}]`);
          }
          layers.push(new Residual(body.layers, { fuseReLU: true }));
          break;
        }
        default:
          throw new RangeError(`${where}: unknown layer type ${JSON.stringify(s.type)}`);
      }
    } catch (e) {
      if (e instanceof Error && !e.message.startsWith(path)) e.message = `${where}: ${e.message}`;
      throw e;
    }
  });
  return { layers, shape };
}
