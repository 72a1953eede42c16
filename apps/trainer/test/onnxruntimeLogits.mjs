// Runs an ONNX model in onnxruntime-web (WebAssembly, one thread) in a plain Node process, since
// jest's module sandbox cannot take onnxruntime-web's dynamic import of its wasm glue:
//   node onnxruntimeLogits.mjs model.onnx input.f32 '[N, C, H, W]'
// reads float32 input (little-endian, NCHW) and prints {"inputs", "outputs", "dims", "logits"}.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';

const [model, inputFile, dims] = process.argv.slice(2);
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(readFileSync(model));
const bytes = readFileSync(inputFile);
const input = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, JSON.parse(dims)) });
const logits = out[session.outputNames[0]];
process.stdout.write(JSON.stringify({ inputs: session.inputNames, outputs: session.outputNames, dims: logits.dims, logits: Array.from(logits.data) }));
await session.release();
