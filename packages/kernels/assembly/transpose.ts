/**
 * Stores the transpose of the 4x4 block whose rows are a, b, c, d: [a_q b_q c_q d_q] at
 * out + q * stride. Packing routines use it to turn 4 vectors along one axis into 4 along the other.
 */
@inline
export function transpose4x4Store(out: usize, stride: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(out, i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
  v128.store(out + stride, i32x4.shuffle(ab01, cd01, 2, 3, 6, 7));
  v128.store(out + 2 * stride, i32x4.shuffle(ab23, cd23, 0, 1, 4, 5));
  v128.store(out + 3 * stride, i32x4.shuffle(ab23, cd23, 2, 3, 6, 7));
}
