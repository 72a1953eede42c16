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
import { checkModelFile, type LayerRow } from './modelFile/parse';
import type { Module } from './module';
import type { Size2 } from './options';
import type { BuildOptions } from './recipe';
import type { FrozenParameters, WeightInit } from './layers/weighted';

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
 * `layers.{i}.layers.{j}.weight`. A conv2d followed by relu uses the fused conv+ReLU kernels.
 *
 * The list goes through the model file's one check first (checkModelFile: fields, defaults, shapes;
 * errors name the layer's path, `layers[3].layers[0]`), and each layer is built from the filled-in
 * entry and the input shape that check found for it, so nothing here checks again.
 */
export function buildLayerList(spec: LayerListSpec, classes: number, options: BuildOptions = {}): Module {
  const checked = checkModelFile(spec, classes);
  const rows = new Map(checked.rows.map((r) => [r.path, r]));
  const layers = buildLayers(checked.spec.layers, 'layers', rows, options, true);
  return new Sequential({ layers: new Sequential(layers, { fuseReLU: true }) });
}

/** Filled-in layer entries as the checker leaves them (its fields have the kinds of modelFile/fields.ts). */
interface CheckedLayer {
  type: string; out: number; kernel: Size2; stride: Size2; padding: Size2; bias: boolean;
  eps: number; momentum: number; affine: boolean; groupSize: number; p: number; by: number; layers: LayerSpec[];
  init?: WeightInit; frozen?: FrozenParameters; weight?: boolean;
}

function buildLayers(specs: LayerSpec[], path: string, rows: Map<string, LayerRow>, options: BuildOptions, first: boolean): Module[] {
  const backend = options.backend;
  return specs.map((spec, i): Module => {
    const where = `${path}[${i}]`;
    const row = rows.get(where);
    if (!row) throw new Error(`buildLayerList: the check left no row for ${where}`);
    const layer = spec as unknown as CheckedLayer;
    const inFeatures = row.inShape[0];
    switch (layer.type) {
      case 'conv2d': {
        // Only the network's first layer sees its input, so only it takes `inputGradient`.
        const inputGradient = first && i === 0 ? options.inputGradient : undefined;
        return new Conv2d(inFeatures, layer.out, layer.kernel, { stride: layer.stride, padding: layer.padding, bias: layer.bias, backend, inputGradient, init: layer.init, frozen: layer.frozen });
      }
      case 'batchnorm2d':
        return new BatchNorm2d(inFeatures, { eps: layer.eps, momentum: layer.momentum, affine: layer.affine, groupSize: layer.groupSize, backend, weight: layer.weight, frozen: layer.frozen });
      case 'relu': return new ReLU();
      case 'gelu': return new GELU();
      case 'maxpool2d': return new MaxPool2d(layer.kernel, { stride: layer.stride, padding: layer.padding, backend });
      case 'avgpool2d': return new AvgPool2d(layer.kernel, { stride: layer.stride, padding: layer.padding, backend });
      case 'globalavgpool2d': return new GlobalAvgPool2d({ backend });
      case 'globalmaxpool2d': return new GlobalMaxPool2d({ backend });
      case 'flatten': return new Flatten();
      case 'linear': return new Linear(inFeatures, row.outShape[0], { bias: layer.bias, init: layer.init as 'default' | 'identity' | undefined, frozen: layer.frozen });
      case 'dropout': return new Dropout(layer.p);
      case 'scale': return new Scale(layer.by);
      case 'residual': return new Residual(buildLayers(layer.layers, `${where}.layers`, rows, options, false), { fuseReLU: true });
      default: throw new Error(`buildLayerList: the check passed a layer of type ${JSON.stringify(layer.type)} that nothing builds`);
    }
  });
}
