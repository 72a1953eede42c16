import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, recipeModelFile } from '@convoy/nn';

// `convoy model` in the built CLI: presets as files, and the layer table of a file.
const bin = join(__dirname, '..', 'bin', 'convoy.js');
const convoy = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'model', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('convoy model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-model-'));

  it('prints a preset as a model file that reads back to the preset', () => {
    const r = convoy(['recipe', '--resolution', '224', '--width', '16']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(recipeModelFile({ resolution: 224, width: 16 }));
    // One line per layer, as a person would write it.
    expect(r.out).toMatch(/^ {4}\{ "type": "conv2d", "out": 16, "kernel": 7, "stride": 2, "padding": 3 \},$/m);
    const bn = convoy(['recipe-bn', '--channels', '1', '--resolution', '28']);
    expect(JSON.parse(bn.out)).toEqual(recipeModelFile({ resolution: 28, width: 32, inChannels: 1, batchNorm: true }));
  });

  it('summarises a file: a row per layer and the totals, as the built network counts them', () => {
    const file = join(dir, 'net.json');
    writeFileSync(file, JSON.stringify({
      input: { channels: 1, resolution: 28 },
      layers: [
        { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false }, { type: 'batchnorm2d' }, { type: 'relu' },
        { type: 'residual', layers: [{ type: 'conv2d', out: 8, kernel: 3, padding: 1 }, { type: 'gelu' }] },
        { type: 'maxpool2d', kernel: 2 }, { type: 'dropout', p: 0.1 }, { type: 'flatten' }, { type: 'linear', out: 'classes' },
      ],
    }));
    const r = convoy(['summary', file, '--classes', '5']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^input \[1, 28, 28\], 5 classes$/m);
    expect(r.out).toMatch(/^ {2}layers\[3\]\.layers\[1\]\s+gelu\s+\[8, 28, 28\]/m);
    const spec = JSON.parse(readFileSync(file, 'utf8')) as object;
    const parameters = buildModel({ kind: 'layers', classes: 5, ...spec } as never).parameterSpecs().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(r.out).toMatch(new RegExp(`^total: ${parameters.toLocaleString('en-US')} parameters, [\\d,]+ multiply-adds per image \\(forward\\)$`, 'm'));
  });

  it('says which commands `convoy model` has when given none, with exit code 2', () => {
    expect(convoy([])).toMatchObject({ code: 2, err: expect.stringMatching(/^error: no model command given; one of recipe, recipe-bn, summary \(see `convoy model --help`\)$/m) });
  });

  it('refuses a file that does not fit, naming the layer, with exit code 2', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ input: { channels: 3, resolution: 32 }, layers: [{ type: 'conv2d', out: 8, kernel: 3 }, { type: 'linear', out: 'classes' }] }));
    const r = convoy(['summary', file]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: layers\[1\]: linear\b.*\[8, 30, 30\].*"flatten"/);
    writeFileSync(file, '{ "input": ');
    expect(convoy(['summary', file])).toMatchObject({ code: 2, err: expect.stringMatching(/bad\.json is not valid JSON/) });
    expect(convoy(['summary', join(dir, 'missing.json')])).toMatchObject({ code: 2, err: expect.stringMatching(/missing\.json not found.*presets?: recipe, recipe-bn/) });
  });
});
