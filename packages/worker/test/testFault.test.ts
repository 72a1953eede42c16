import { testFaultFrom, throwIfPlanted } from '../src/testFault';

describe('CONVOY_TEST_FAULT', () => {
  it('parses <epoch>:<sample> and refuses anything else', () => {
    expect(testFaultFrom(undefined)).toBeNull();
    expect(testFaultFrom('')).toBeNull();
    expect(testFaultFrom('2:17')).toEqual({ epoch: 2, sample: 17 });
    expect(() => testFaultFrom('2')).toThrow(/CONVOY_TEST_FAULT must be <epoch>:<sample>.*got "2"/);
  });

  it('throws only for the task that holds the sample in that epoch', () => {
    const fault = { epoch: 1, sample: 5 };
    expect(() => throwIfPlanted(fault, 0, Uint32Array.of(4, 5, 6))).not.toThrow();
    expect(() => throwIfPlanted(fault, 1, Uint32Array.of(7, 8))).not.toThrow();
    expect(() => throwIfPlanted(fault, 1, Uint32Array.of(4, 5, 6))).toThrow(/training sample 5 failed in epoch 2: the fault planted by CONVOY_TEST_FAULT=1:5/);
    expect(() => throwIfPlanted(null, 1, Uint32Array.of(5))).not.toThrow();
  });
});
