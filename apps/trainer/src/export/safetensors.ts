/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header, then the tensors' bytes back to back. The header maps
 * each tensor name to { dtype, shape, data_offsets: [begin, end) relative to the data }, plus
 * `__metadata__`, a string-to-string map. Hand-written because the writer is this short and npm has
 * no maintained safetensors writer for Node.
 */

/** A tensor to write: F32 from a Float32Array, I64 (PyTorch's integer buffers) from a BigInt64Array. */
export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array | BigInt64Array;
}

/** The header is padded with spaces so the data starts 8-byte aligned (as the reference writer does). */
const ALIGNMENT = 8;

function dtypeOf(t: NamedTensor): 'F32' | 'I64' {
  if (t.data instanceof Float32Array) return 'F32';
  if (t.data instanceof BigInt64Array) return 'I64';
  throw new TypeError(`safetensors: '${t.name}' must be a Float32Array or BigInt64Array`);
}

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`safetensors: '${t.name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    if (t.name in header) throw new RangeError(`safetensors: '${t.name}' appears twice`);
    header[t.name] = { dtype: dtypeOf(t), shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((ALIGNMENT - ((8 + Buffer.byteLength(json)) % ALIGNMENT)) % ALIGNMENT);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    // Typed-array bytes are little-endian on every platform Node runs on (as checkpoints assume).
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
