import { ParameterArena } from '../src';

const specs = [
  { name: 'conv.weight', shape: [4, 3, 3, 3] },
  { name: 'conv.bias', shape: [4] },
  { name: 'fc.weight', shape: [10, 4] },
];

describe('ParameterArena', () => {
  it('lays parameters back to back with named, shaped views', () => {
    const arena = new ParameterArena(specs);
    expect(arena.size).toBe(108 + 4 + 40);
    expect(arena.entries.map((e) => [e.name, e.offset, e.size])).toEqual([
      ['conv.weight', 0, 108],
      ['conv.bias', 108, 4],
      ['fc.weight', 112, 40],
    ]);
    const bias = arena.tensor('conv.bias');
    expect(bias.shape).toEqual([4]);
    bias.data[2] = 5;
    expect(arena.data[110]).toBe(5);
    expect(arena.tensor('conv.bias')).toBe(bias);
    expect(arena.isShared).toBe(false);
  });

  it('can live on a fresh SharedArrayBuffer', () => {
    const arena = new ParameterArena(specs, { shared: true });
    expect(arena.isShared).toBe(true);
    expect(arena.buffer.byteLength).toBe(arena.size * 4);
  });

  it('slots of one shared buffer are disjoint arenas at byteOffset k*size*4', () => {
    const size = ParameterArena.sizeOf(specs);
    const buffer = new SharedArrayBuffer(3 * size * 4);
    const slots = [0, 1, 2].map((k) => new ParameterArena(specs, { buffer, byteOffset: k * size * 4 }));
    slots[1].tensor('fc.weight').data.fill(2);
    expect(slots[0].data.every((v) => v === 0)).toBe(true);
    expect(slots[2].data.every((v) => v === 0)).toBe(true);
    const whole = new Float32Array(buffer);
    expect(whole[size + 112]).toBe(2);
    expect(() => new ParameterArena(specs, { buffer, byteOffset: 3 * size * 4 })).toThrow(new RegExp(`too small.*\\b${size} parameters.*\\b${3 * size * 4}\\b`));
    expect(() => new ParameterArena(specs, { buffer, byteOffset: 2 })).toThrow(/byteOffset .*multiple of 4.*got 2/);
  });

  it('gives clear errors for unknown names, duplicates, bad shapes and unknown options', () => {
    const arena = new ParameterArena(specs);
    expect(() => arena.tensor('conv.weights')).toThrow(/'conv\.weights'.*conv\.weight, conv\.bias, fc\.weight/);
    expect(() => new ParameterArena([specs[0], specs[0]])).toThrow(/duplicate .*'conv\.weight'/);
    expect(() => new ParameterArena([{ name: 'x', shape: [2, -1] }])).toThrow(/\bx: .*\[2, -1\].*dimension -1\b/);
    expect(() => new ParameterArena(specs, { share: true } as never)).toThrow(/unknown option.*\bshare\b/);
  });

  it('set checks shape and length; copyFrom copies a matching layout', () => {
    const a = new ParameterArena(specs);
    expect(() => a.set('conv.bias', [1, 2, 3])).toThrow(/^conv\.bias: .*\b4 values.*\[4\].*\b3\b/);
    expect(() => a.set('conv.bias', [1, 2, 3, 4], [2, 2])).toThrow(/^conv\.bias: .*\[4\].*\[2, 2\]/);
    a.set('conv.bias', [1, 2, 3, 4]);
    const b = new ParameterArena(a.specs());
    b.copyFrom(a);
    expect(Array.from(b.tensor('conv.bias').data)).toEqual([1, 2, 3, 4]);
    expect(() => b.copyFrom(new ParameterArena(specs.slice(0, 2)))).toThrow(/copyFrom: .*\b112 vs 152\b/);
  });
});
