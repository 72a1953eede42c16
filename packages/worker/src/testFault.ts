/**
 * A fault a test can plant in a worker thread, for checking what a run does when a worker throws
 * in the middle of training (a bad image, a bug): `CONVOY_TEST_FAULT=<epoch>:<sample>` makes the
 * gradient task that holds training sample <sample> (0-based) in epoch <epoch> (0-based) throw.
 * Under several processes only the one whose shard holds that sample fails, as a bad image would.
 * Nothing sets it but tests (DEVELOPERS.md, "Fault tests"); read once per thread.
 */
export interface TestFault {
  epoch: number;
  sample: number;
}

export function testFaultFrom(value: string | undefined): TestFault | null {
  if (value === undefined || value === '') return null;
  const parts = /^(\d+):(\d+)$/.exec(value);
  if (!parts) throw new RangeError(`CONVOY_TEST_FAULT must be <epoch>:<sample> (0-based integers), got ${JSON.stringify(value)}`);
  return { epoch: Number(parts[1]), sample: Number(parts[2]) };
}

/** The fault planted in this thread's environment, if any (a browser's Web Worker has no environment). */
export function plantedTestFault(): TestFault | null {
  return testFaultFrom(typeof process === 'undefined' ? undefined : process.env?.CONVOY_TEST_FAULT);
}

/** Throws when the gradient task over `indices` in `epoch` holds the planted sample. */
export function throwIfPlanted(fault: TestFault | null, epoch: number, indices: Uint32Array): void {
  if (!fault || epoch !== fault.epoch || !indices.includes(fault.sample)) return;
  throw new Error(`training sample ${fault.sample} failed in epoch ${epoch + 1}: the fault planted by CONVOY_TEST_FAULT=${fault.epoch}:${fault.sample}`);
}
