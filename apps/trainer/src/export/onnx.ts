import {
  AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, GlobalAvgPool2d, GlobalMaxPool2d, Linear, MaxPool2d, ReLU, Residual, Scale,
  Sequential, type Module,
} from '@convoy/nn';
import { ProtoWriter } from './protobuf';
import type { NamedTensor } from './safetensors';

/**
 * A convoy network as an ONNX model (opset 17) for inference: the eval-mode forward, one ONNX node
 * (or a few) per layer, the weights and BatchNorm running statistics as initializers under their
 * state_dict names. Layer by layer:
 * Conv2d → Conv; BatchNorm2d → BatchNormalization (running statistics; a non-affine one gets a unit
 * scale and zero bias, one with "weight": false a unit scale); ReLU → Relu; GELU → its exact erf form, 0.5·x·(1 + erf(x/√2)), as Div, Erf,
 * Add, Mul, Mul (Gelu itself is opset 20); MaxPool2d → MaxPool; AvgPool2d → AveragePool
 * (count_include_pad, as convoy and PyTorch); GlobalAvgPool2d → GlobalAveragePool; GlobalMaxPool2d →
 * GlobalMaxPool; Flatten → Flatten; Linear → Gemm (transB); Residual → its body, then Add;
 * Scale → Mul; Dropout → nothing (identity in eval). The input is `input` [N, C, R, R] (pixels
 * normalised as in training), the output `logits` [N, classes].
 */

export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12). */
const ONNX_IR_VERSION = 8;

export type OnnxAttribute = { name: string } & ({ int: number } | { ints: number[] } | { float: number });

export interface OnnxNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** A graph input or output: a float tensor whose first dimension (the batch) is symbolic. */
export interface OnnxValue {
  name: string;
  dims: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  input: OnnxValue;
  output: OnnxValue;
}

const BATCH = 'N';

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, OnnxInitializer>();

  constructor(private readonly tensors: Map<string, NamedTensor>) {}

  /** A state_dict tensor as an initializer (once), by name. */
  weight(name: string): string {
    if (!this.initializers.has(name)) {
      const t = this.tensors.get(name);
      if (!t) throw new RangeError(`onnx export: the network's tensor '${name}' is not in the exported tensors`);
      if (!(t.data instanceof Float32Array)) throw new TypeError(`onnx export: '${name}' is not float32`);
      this.initializers.set(name, { name, dims: [...t.shape], data: t.data });
    }
    return name;
  }

  /** A constant initializer of this module's own (not in the state_dict). */
  constant(name: string, dims: number[], data: Float32Array): string {
    if (!this.initializers.has(name)) this.initializers.set(name, { name, dims, data });
    return name;
  }

  /** Appends a node whose one output is named as the node; returns that name. */
  node(name: string, op: string, inputs: string[], attributes: OnnxAttribute[] = []): string {
    this.nodes.push({ name, op, inputs, outputs: [name], attributes });
    return name;
  }
}

function spatialShape(m: Module, shape: number[]): [number, number, number] {
  if (shape.length !== 3) throw new RangeError(`onnx export: ${m.kind} '${m.name}' needs an input [C, H, W], got [${shape.join(', ')}]`);
  return shape as [number, number, number];
}

function pooledSide(side: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((side + 2 * pad - kernel) / stride) + 1;
}

function windowAttributes(kernel: [number, number], stride: [number, number], padding: [number, number]): OnnxAttribute[] {
  return [
    { name: 'kernel_shape', ints: [...kernel] },
    { name: 'strides', ints: [...stride] },
    { name: 'pads', ints: [padding[0], padding[1], padding[0], padding[1]] },
  ];
}

/** Adds `m`'s nodes computing from value `x` of per-image shape `shape`; returns the output value and its shape. */
function lower(m: Module, x: string, shape: number[], g: GraphBuilder): { value: string; shape: number[] } {
  const name = m.name || 'network';
  if (m instanceof Sequential) {
    let out = { value: x, shape };
    for (const child of m.childModules()) out = lower(child, out.value, out.shape, g);
    return out;
  }
  if (m instanceof Residual) {
    const body = lower(m.body, x, shape, g);
    return { value: g.node(`${name}.add`, 'Add', [x, body.value]), shape };
  }
  if (m instanceof Conv2d) {
    const [c, h, w] = spatialShape(m, shape);
    if (c !== m.inChannels) throw new RangeError(`onnx export: Conv2d '${name}' takes ${m.inChannels} channels, gets ${c}`);
    const [weight, bias] = m.parameterSpecs().map((p) => g.weight(p.name));
    const inputs = m.hasBias ? [x, weight, bias] : [x, weight];
    const value = g.node(name, 'Conv', inputs, [...windowAttributes(m.kernelSize, m.stride, m.padding), { name: 'dilations', ints: [1, 1] }, { name: 'group', int: 1 }]);
    return { value, shape: [m.outChannels, pooledSide(h, m.kernelSize[0], m.stride[0], m.padding[0]), pooledSide(w, m.kernelSize[1], m.stride[1], m.padding[1])] };
  }
  if (m instanceof BatchNorm2d) {
    const c = spatialShape(m, shape)[0];
    // A parameter the layer lacks (no affine parameters, or "weight": false) is its constant: scale 1, bias 0.
    const own = new Map(m.parameterSpecs().map((p) => [p.name.slice(p.name.lastIndexOf('.') + 1), p.name]));
    const scaleName = own.get('weight');
    const biasName = own.get('bias');
    const scale = scaleName ? g.weight(scaleName) : g.constant(`${name}.unit_scale`, [c], new Float32Array(c).fill(1));
    const bias = biasName ? g.weight(biasName) : g.constant(`${name}.zero_bias`, [c], new Float32Array(c));
    const [mean, variance] = m.bufferSpecs().map((b) => b.name);
    return { value: g.node(name, 'BatchNormalization', [x, scale, bias, g.weight(mean), g.weight(variance)], [{ name: 'epsilon', float: m.eps }]), shape };
  }
  if (m instanceof ReLU) return { value: g.node(name, 'Relu', [x]), shape };
  if (m instanceof GELU) {
    const sqrt2 = g.constant('gelu.sqrt2', [], Float32Array.of(Math.SQRT2));
    const one = g.constant('gelu.one', [], Float32Array.of(1));
    const half = g.constant('gelu.half', [], Float32Array.of(0.5));
    const erf = g.node(`${name}.erf`, 'Erf', [g.node(`${name}.div`, 'Div', [x, sqrt2])]);
    const value = g.node(`${name}.mul_half`, 'Mul', [g.node(`${name}.mul`, 'Mul', [x, g.node(`${name}.add`, 'Add', [erf, one])]), half]);
    return { value, shape };
  }
  if (m instanceof MaxPool2d || m instanceof AvgPool2d) {
    const [c, h, w] = spatialShape(m, shape);
    const attributes = windowAttributes(m.kernelSize, m.stride, m.padding);
    const value = m instanceof MaxPool2d
      ? g.node(name, 'MaxPool', [x], attributes)
      : g.node(name, 'AveragePool', [x], [...attributes, { name: 'count_include_pad', int: 1 }]);
    return { value, shape: [c, pooledSide(h, m.kernelSize[0], m.stride[0], m.padding[0]), pooledSide(w, m.kernelSize[1], m.stride[1], m.padding[1])] };
  }
  if (m instanceof GlobalAvgPool2d) return { value: g.node(name, 'GlobalAveragePool', [x]), shape: [spatialShape(m, shape)[0], 1, 1] };
  if (m instanceof GlobalMaxPool2d) return { value: g.node(name, 'GlobalMaxPool', [x]), shape: [spatialShape(m, shape)[0], 1, 1] };
  if (m instanceof Flatten) return { value: g.node(name, 'Flatten', [x], [{ name: 'axis', int: 1 }]), shape: [shape.reduce((a, b) => a * b, 1)] };
  if (m instanceof Linear) {
    if (shape.length !== 1 || shape[0] !== m.inFeatures) throw new RangeError(`onnx export: Linear '${name}' takes [${m.inFeatures}] features, gets [${shape.join(', ')}]`);
    const [weight, bias] = m.parameterSpecs().map((p) => g.weight(p.name));
    const inputs = m.hasBias ? [x, weight, bias] : [x, weight];
    return { value: g.node(name, 'Gemm', inputs, [{ name: 'transB', int: 1 }]), shape: [m.outFeatures] };
  }
  if (m instanceof Scale) return { value: g.node(name, 'Mul', [x, g.constant(`${name}.by`, [], Float32Array.of(m.factor))]), shape };
  if (m instanceof Dropout) return { value: x, shape };
  throw new RangeError(`onnx export: no ONNX form for layer '${name}' (${m.kind})`);
}

/**
 * The ONNX graph of `model`'s eval-mode forward for inputs of per-image shape `inputShape`
 * ([C, H, W]), its weights taken from `stateDict` (exportedStateDict's tensors).
 */
export function onnxGraphOf(model: Module, inputShape: [number, number, number], stateDict: readonly NamedTensor[]): OnnxGraph {
  const g = new GraphBuilder(new Map(stateDict.map((t) => [t.name, t])));
  const out = lower(model, 'input', inputShape, g);
  let output = out.value;
  const last = g.nodes[g.nodes.length - 1];
  if (last && last.outputs[0] === output) {
    last.outputs[0] = output = 'logits';
  } else {
    output = g.node('logits', 'Identity', [output]);
  }
  return {
    name: 'convoy',
    nodes: g.nodes,
    initializers: [...g.initializers.values()],
    input: { name: 'input', dims: [BATCH, ...inputShape] },
    output: { name: output, dims: [BATCH, ...out.shape] },
  };
}

// Field numbers and enums of onnx.proto (ONNX 1.12).
const TENSOR_FLOAT = 1;
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

function writeValueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(1, v.name).message(2, (type) => type.message(1, (tensor) => {
    tensor.varint(1, TENSOR_FLOAT).message(2, (shape) => {
      for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
    });
  }));
}

function writeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.string(1, a.name);
  if ('float' in a) w.float(2, a.float).varint(20, ATTRIBUTE_FLOAT);
  else if ('int' in a) w.varint(3, a.int).varint(20, ATTRIBUTE_INT);
  else {
    for (const i of a.ints) w.varint(8, i);
    w.varint(20, ATTRIBUTE_INTS);
  }
}

/** ModelProto bytes of `graph`, opset 17, with `metadata` as metadata_props. */
export function encodeOnnxModel(graph: OnnxGraph, metadata: Record<string, string>, docString = ''): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, ONNX_IR_VERSION).string(2, 'convoy');
  if (docString) w.string(6, docString);
  w.message(7, (gw) => {
    for (const n of graph.nodes) {
      gw.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name).string(4, n.op);
        for (const a of n.attributes) nw.message(5, (aw) => writeAttribute(aw, a));
      });
    }
    gw.string(2, graph.name);
    for (const t of graph.initializers) {
      gw.message(5, (tw) => {
        for (const d of t.dims) tw.varint(1, d);
        // raw_data is little-endian float32, which Float32Array bytes are on every platform Node runs on.
        tw.varint(2, TENSOR_FLOAT).string(8, t.name).bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      });
    }
    gw.message(11, (vw) => writeValueInfo(vw, graph.input));
    gw.message(12, (vw) => writeValueInfo(vw, graph.output));
  });
  w.message(8, (ow) => ow.varint(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(metadata)) w.message(14, (mw) => mw.string(1, key).string(2, value));
  return w.finish();
}
