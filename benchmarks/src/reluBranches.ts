/**
 * Why nn's ReLU works on float bits: a ternary ReLU over random activations against the sign-bit
 * masks nn uses, on the activation count of one batch-32 recipe step (3.7 M), and a bit-for-bit
 * check that the two agree. `node benchmarks/dist/reluBranches.js`
 */
const count = 3_670_000;
const rounds = 20;

function ternaryForward(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v > 0 ? v : 0;
  }
}

function ternaryBackward(out: Float32Array, gy: Float32Array, gx: Float32Array): void {
  for (let i = 0; i < out.length; i++) gx[i] = out[i] > 0 ? gy[i] : 0;
}

function maskForward(xb: Int32Array, ob: Int32Array): void {
  for (let i = 0; i < xb.length; i++) {
    const b = xb[i];
    ob[i] = b & ~(b >> 31);
  }
}

function maskBackward(ob: Int32Array, gyb: Int32Array, gxb: Int32Array): void {
  for (let i = 0; i < ob.length; i++) {
    const b = ob[i];
    gxb[i] = gyb[i] & ((b | -b) >> 31);
  }
}

function milliseconds(run: () => void): number {
  for (let i = 0; i < 5; i++) run();
  const start = performance.now();
  for (let i = 0; i < rounds; i++) run();
  return (performance.now() - start) / rounds;
}

function countDifferences(a: Float32Array, b: Float32Array): number {
  let differences = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differences++;
  return differences;
}

const x = new Float32Array(count);
const gy = new Float32Array(count);
for (let i = 0; i < count; i++) {
  x[i] = Math.random() - 0.5;
  gy[i] = Math.random() - 0.5;
}
const outTernary = new Float32Array(count);
const outMask = new Float32Array(count);
const gxTernary = new Float32Array(count);
const gxMask = new Float32Array(count);
const bits = (f: Float32Array) => new Int32Array(f.buffer);

const rows = [
  ['forward, ternary', milliseconds(() => ternaryForward(x, outTernary))],
  ['forward, sign-bit mask', milliseconds(() => maskForward(bits(x), bits(outMask)))],
  ['backward, ternary', milliseconds(() => ternaryBackward(outTernary, gy, gxTernary))],
  ['backward, sign-bit mask', milliseconds(() => maskBackward(bits(outMask), bits(gy), bits(gxMask)))],
] as const;
for (const [name, ms] of rows) console.log(`${name.padEnd(24)} ${ms.toFixed(2)} ms`);
console.log(`forward ${(rows[0][1] / rows[1][1]).toFixed(1)}x, backward ${(rows[2][1] / rows[3][1]).toFixed(1)}x faster with masks`);
console.log(`values that differ: forward ${countDifferences(outTernary, outMask)}, backward ${countDifferences(gxTernary, gxMask)} (of ${count})`);
