/**
 * gpu.js kernel bodies, one per op, as source strings.
 *
 * Strings, not functions: gpu.js parses `fn.toString()`, and a TypeScript function would reach it
 * in whatever shape the compiler of the day emits (tsc, SWC under jest). A string is the exact
 * JavaScript subset gpu.js translates to GLSL, WGSL, WebAssembly and plain JS alike.
 *
 * Every kernel has a flat 1-D output (the NCHW index of the element it writes), so results are a
 * single Float32Array to copy into the caller's output. Flat indices are split with
 * `Math.floor((i + 0.5) / d)`: in GLSL the thread index and the division are float, and
 * `i / d` for an exact multiple can land a hair under the integer (e.g. 5.9999995); the +0.5 keeps
 * every quotient at least 0.5/d away from an integer boundary, so floor is exact for the index
 * ranges used here (all below 2^24, where float32 holds integers exactly).
 *
 * Geometry arrives as `this.constants` (compiled into the kernel), which is why kernels are
 * created once per geometry and cached.
 */

/**
 * The kernel's first lines: this.thread.x split into the coordinates `names` (outermost first) by
 * the constants `divisors` (the size of everything inside each one). The +0.5 keeps the floor exact
 * where a target hands the index over as a float.
 */
function threadCoordinates(names: string[], divisors: string[]): string {
  const lines = ['  let rest = this.thread.x;'];
  divisors.forEach((d, i) => {
    lines.push(`  const ${names[i]} = Math.floor((rest + 0.5) / this.constants.${d});`);
    lines.push(i < divisors.length - 1 ? `  rest = rest - ${names[i]} * this.constants.${d};` : `  const ${names[i + 1]} = rest - ${names[i]} * this.constants.${d};`);
  });
  return lines.join('\n');
}

/**
 * The forward window walk: `body` for each tap (ky, kx) of output (oy, ox)'s window that lies inside
 * the input, at (iy, ix), in row-major window order; padding is skipped.
 */
function eachTapInsideInput(body: string): string {
  return `  for (let ky = 0; ky < this.constants.kH; ky++) {
    const iy = oy * this.constants.sH - this.constants.pH + ky;
    if (iy >= 0 && iy < this.constants.inH) {
      for (let kx = 0; kx < this.constants.kW; kx++) {
        const ix = ox * this.constants.sW - this.constants.pW + kx;
        if (ix >= 0 && ix < this.constants.inW) {
${body}
        }
      }
    }
  }`;
}

/**
 * The backward gather: `body` for each tap (ky, kx) whose output position (oy, ox) reads input
 * (iy, ix), i.e. oy * stride - pad + ky = iy. Gathered per input element (no scatter, no atomics),
 * the form every gpu.js target can run.
 */
function eachOutputReadingInput(body: string): string {
  return `  for (let ky = 0; ky < this.constants.kH; ky++) {
    const ty = iy + this.constants.pH - ky;
    const oy = Math.floor((ty + 0.5) / this.constants.sH);
    if (ty >= 0 && oy * this.constants.sH === ty && oy < this.constants.outH) {
      for (let kx = 0; kx < this.constants.kW; kx++) {
        const tx = ix + this.constants.pW - kx;
        const ox = Math.floor((tx + 0.5) / this.constants.sW);
        if (tx >= 0 && ox * this.constants.sW === tx && ox < this.constants.outW) {
${body}
        }
      }
    }
  }`;
}

/** output[n, oc, oy, ox] = bias[oc] + sum_{ic, ky, kx} input[n, ic, iy, ix] * weight[oc, ic, ky, kx]. */
export const conv2dForwardSource = `function conv2dForward(input, weight, bias) {
${threadCoordinates(['n', 'oc', 'oy', 'ox'], ['outImage', 'outPlane', 'outW'])}
  let sum = bias[oc];
  // window taps outside, channels inside: the bounds tests run kH*kW times instead of
  // inC*kH*kW, and the inner loop is one multiply-add over two fixed strides
${eachTapInsideInput(`
          const inputBase = (n * this.constants.inC * this.constants.inH + iy) * this.constants.inW + ix;
          const weightBase = (oc * this.constants.inC * this.constants.kH + ky) * this.constants.kW + kx;
          for (let ic = 0; ic < this.constants.inC; ic++) {
            sum += input[inputBase + ic * this.constants.inPlane] * weight[weightBase + ic * this.constants.kernelArea];
          }`)}
  return sum;
}`;

/** gradInput[n, ic, iy, ix] = sum over (oc, ky, kx) whose output position (oy, ox) reads (iy, ix). */
export const conv2dBackwardInputSource = `function conv2dBackwardInput(gradOutput, weight) {
${threadCoordinates(['n', 'ic', 'iy', 'ix'], ['inImage', 'inPlane', 'inW'])}
  let sum = 0.0;
${eachOutputReadingInput(`
          for (let oc = 0; oc < this.constants.outC; oc++) {
            sum += gradOutput[((n * this.constants.outC + oc) * this.constants.outH + oy) * this.constants.outW + ox] *
              weight[((oc * this.constants.inC + ic) * this.constants.kH + ky) * this.constants.kW + kx];
          }`)}
  return sum;
}`;

/** gradWeight[oc, ic, ky, kx] = sum_{n, oy, ox} gradOutput[n, oc, oy, ox] * input[n, ic, iy, ix]. */
export const conv2dBackwardWeightsSource = `function conv2dBackwardWeights(input, gradOutput) {
${threadCoordinates(['oc', 'ic', 'ky', 'kx'], ['filterSize', 'kernelArea', 'kW'])}
  let sum = 0.0;
  for (let n = 0; n < this.constants.batch; n++) {
    const gradPlane = (n * this.constants.outC + oc) * this.constants.outH;
    const inputPlane = (n * this.constants.inC + ic) * this.constants.inH;
    for (let oy = 0; oy < this.constants.outH; oy++) {
      const iy = oy * this.constants.sH - this.constants.pH + ky;
      if (iy >= 0 && iy < this.constants.inH) {
        for (let ox = 0; ox < this.constants.outW; ox++) {
          const ix = ox * this.constants.sW - this.constants.pW + kx;
          if (ix >= 0 && ix < this.constants.inW) {
            sum += gradOutput[(gradPlane + oy) * this.constants.outW + ox] * input[(inputPlane + iy) * this.constants.inW + ix];
          }
        }
      }
    }
  }
  return sum;
}`;

/** gradBias[oc] = sum_{n, oy, ox} gradOutput[n, oc, oy, ox]. */
export const conv2dBackwardBiasSource = `function conv2dBackwardBias(gradOutput) {
  const oc = this.thread.x;
  let sum = 0.0;
  for (let n = 0; n < this.constants.batch; n++) {
    const gradPlane = (n * this.constants.outC + oc) * this.constants.outH;
    for (let oy = 0; oy < this.constants.outH; oy++) {
      for (let ox = 0; ox < this.constants.outW; ox++) {
        sum += gradOutput[(gradPlane + oy) * this.constants.outW + ox];
      }
    }
  }
  return sum;
}`;

/**
 * Max pooling as two kernels over the same window walk: one returns the winning value, the other
 * its index in the (n, c) input plane. gpu.js kernels return one number per output cell (multi-
 * component returns read back as one small array per cell, far slower to copy out), and both
 * results are needed. The strict `>` keeps the first maximum in row-major window order
 * (PyTorch's tie rule); padding is skipped, so it never wins. The first NaN wins and stays, as in
 * PyTorch, where the target honours IEEE comparisons (GL drivers may fold `x !== x` to false).
 */
const maxPoolWindowWalk = `
${threadCoordinates(['plane', 'oy', 'ox'], ['outPlane', 'outW'])}
  const planeBase = plane * this.constants.inPlane;
  let best = 0.0;
  let bestIndex = -1.0;
${eachTapInsideInput(`
          const value = input[planeBase + iy * this.constants.inW + ix];
          if (bestIndex < 0.0 || (best === best && (value > best || value !== value))) {
            best = value;
            bestIndex = iy * this.constants.inW + ix;
          }`)}`;

export const maxPoolValueSource = `function maxPoolValue(input) {${maxPoolWindowWalk}
  return best;
}`;

export const maxPoolArgmaxSource = `function maxPoolArgmax(input) {${maxPoolWindowWalk}
  return bestIndex;
}`;

/**
 * gradInput[n, c, iy, ix] = sum of gradOutput over the windows whose argmax is (iy, ix). The argmax
 * arrives as float (exact: plane indices are far below 2^24), the one array type every target reads.
 */
export const maxPoolBackwardSource = `function maxPoolBackward(gradOutput, argmax) {
${threadCoordinates(['plane', 'iy', 'ix'], ['inPlane', 'inW'])}
  const target = iy * this.constants.inW + ix;
  let sum = 0.0;
${eachOutputReadingInput(`
          const o = (plane * this.constants.outH + oy) * this.constants.outW + ox;
          if (argmax[o] === target) {
            sum += gradOutput[o];
          }`)}
  return sum;
}`;

/**
 * Average over the window; padded cells count in the divisor (count_include_pad=True). Without
 * ceil_mode no window reaches past the padded input, so PyTorch's clipped divisor is always kH*kW.
 */
export const avgPoolForwardSource = `function avgPoolForward(input) {
${threadCoordinates(['plane', 'oy', 'ox'], ['outPlane', 'outW'])}
  const planeBase = plane * this.constants.inPlane;
  let sum = 0.0;
${eachTapInsideInput(`
          sum += input[planeBase + iy * this.constants.inW + ix];`)}
  return sum / this.constants.windowSize;
}`;

export const avgPoolBackwardSource = `function avgPoolBackward(gradOutput) {
${threadCoordinates(['plane', 'iy', 'ix'], ['inPlane', 'inW'])}
  let sum = 0.0;
${eachOutputReadingInput(`
          sum += gradOutput[(plane * this.constants.outH + oy) * this.constants.outW + ox];`)}
  return sum / this.constants.windowSize;
}`;

/** output[n, c] = mean of the (n, c) plane. */
export const globalAvgPoolSource = `function globalAvgPool(input) {
  const planeBase = this.thread.x * this.constants.planeSize;
  let sum = 0.0;
  for (let y = 0; y < this.constants.height; y++) {
    for (let x = 0; x < this.constants.width; x++) {
      sum += input[planeBase + y * this.constants.width + x];
    }
  }
  return sum / this.constants.planeSize;
}`;

export const globalAvgPoolBackwardSource = `function globalAvgPoolBackward(gradOutput) {
  const plane = Math.floor((this.thread.x + 0.5) / this.constants.planeSize);
  return gradOutput[plane] / this.constants.planeSize;
}`;
