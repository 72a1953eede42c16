import { testFaultFrom, throwIfPlanted } from '../src/testFault';

describe('CONVOY_TEST_FAULT', () => {
  it('parses <epoch>:<sample> and refuses anything else', () => {
    expect(testFaultFrom(undefined)).toBeNull();
    expect(testFaultFrom('')).toBeNull();
    expect(testFaultFrom('2:17')).toEqual({ epoch: 2, sample: 17 });
    expect(() => testFaultFrom('2')).toThrow(/\bCONVOY_TEST_FAULT\b.*<epoch>:<sample>.*"2"/);
  });

  it('throws only for the task that holds the sample in that epoch', () => {
    const fault = { epoch: 1, sample: 5 };
    expect(() => throwIfPlanted(fault, 0, Uint32Array.of(4, 5, 6))).not.toThrow();
    expect(() => throwIfPlanted(fault, 1, Uint32Array.of(7, 8))).not.toThrow();
    expect(() => throwIfPlanted(fault, 1, Uint32Array.of(4, 5, 6))).toThrow(/\bsample 5\b.*\bepoch 2\b.*\bCONVOY_TEST_FAULT=1:5\b/);
    expect(() => throwIfPlanted(null, 1, Uint32Array.of(5))).not.toThrow();
  });
});
