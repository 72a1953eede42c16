import { checkModelText, PAGE_PRESETS, presetText } from '../src/modelFile';

describe("the page's model file box", () => {
  it('offers presets that each check out for CIFAR-10 and any class subset', () => {
    for (const preset of PAGE_PRESETS) {
      for (const classes of [2, 10]) {
        const check = checkModelText(presetText(preset.name, 16), classes);
        if (!check.ok) throw new Error(`${preset.name}: ${check.message}`);
        expect(check.spec.kind).toBe('layers');
        expect(check.spec.classes).toBe(classes);
        expect(check.summary).toContain(`input [3, 32, 32], ${classes} classes`);
        expect(check.parameters).toBeGreaterThan(0);
        expect(check.multiplyAdds).toBeGreaterThan(0);
      }
    }
  });

  it("builds the recipe presets for the form's width (models/README.md's figures at width 32)", () => {
    const recipe = checkModelText(presetText('recipe', 32), 10);
    const bn = checkModelText(presetText('recipe-bn', 32), 10);
    const narrow = checkModelText(presetText('recipe', 16), 10);
    if (!recipe.ok || !bn.ok || !narrow.ok) throw new Error('a recipe preset does not check out');
    expect(recipe.parameters).toBe(288_298);
    expect(narrow.parameters).toBeLessThan(recipe.parameters);
    expect(bn.spec.layers.filter((l) => l.type === 'batchnorm2d')).toHaveLength(6);
    expect(() => presetText('resnet224', 32)).toThrow(/"resnet224".*\brecipe, recipe-bn\b/);
  });

  it("names the layer's path of a file that does not fit, and says so for text that is not JSON", () => {
    const unknown = checkModelText(JSON.stringify({ input: { channels: 3, resolution: 32 }, layers: [{ type: 'conv2d', out: 8, kernel: 3 }, { type: 'swish' }] }), 10);
    expect(unknown).toEqual({ ok: false, path: 'layers[1]', message: expect.stringMatching(/^layers\[1\]: unknown layer type "swish"/) });
    const shrinking = checkModelText(JSON.stringify({
      input: { channels: 3, resolution: 32 },
      layers: [{ type: 'residual', layers: [{ type: 'relu' }] }, { type: 'maxpool2d', kernel: 64 }, { type: 'flatten' }, { type: 'linear', out: 'classes' }],
    }), 10);
    expect(shrinking.ok).toBe(false);
    if (!shrinking.ok) expect(shrinking.path).toBe('layers[1]');
    const nested = checkModelText(JSON.stringify({ input: { channels: 3, resolution: 32 }, layers: [{ type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3 }] }] }), 10);
    expect(nested.ok).toBe(false);
    if (!nested.ok) expect(nested.path).toMatch(/^layers\[0\]/);
    const grey = checkModelText(JSON.stringify({ input: { channels: 1, resolution: 32 }, layers: [{ type: 'flatten' }, { type: 'linear', out: 'classes' }] }), 10);
    expect(grey).toEqual({ ok: false, path: 'input.channels', message: expect.stringContaining('CIFAR-10 has 3 channels') });
    expect(checkModelText('{ "input": ', 10)).toEqual({ ok: false, path: null, message: expect.stringMatching(/^not valid JSON: /) });
  });
});
