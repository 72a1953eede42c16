// The ReLU fused into the convolutions' output passes, on the float bits exactly as @convoy/nn's
// ReLU layer (and src/epilogue.ts for the other backends): negative values and -0 become +0, the
// canonical NaN (sign bit clear) passes; its gradient passes where the ReLU's output is not +0.

/** max(0, v) per lane: v & ~(v >> 31) on the bits. */
@inline
export function reluBits(v: v128): v128 {
  return v128.andnot(v, i32x4.shr_s(v, 31));
}

/** v where the ReLU output `mask` is not +0, else +0, per lane. */
@inline
export function maskBits(v: v128, mask: v128): v128 {
  return v128.and(v, i32x4.ne(mask, i32x4.splat(0)));
}

/** data[i] = max(0, data[i]) for `count` floats. */
export function reluInPlace(data: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = data + (<usize>i << 2);
    v128.store(at, reluBits(v128.load(at)));
  }
  for (; i < count; i++) {
    const at = data + (<usize>i << 2);
    const b = load<i32>(at);
    store<i32>(at, b & ~(b >> 31));
  }
}

/** data[i] = 0 where mask[i] is +0, for `count` floats. */
export function maskInPlace(data: usize, mask: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = <usize>i << 2;
    v128.store(data + at, maskBits(v128.load(data + at), v128.load(mask + at)));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    if (load<i32>(mask + at) == 0) store<f32>(data + at, 0);
  }
}
