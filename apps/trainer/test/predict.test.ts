import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImageFile, normalizationTable } from '@convoy/data';
import { buildModel, createParameters } from '@convoy/nn';
import { Tensor } from '@convoy/tensor';
import { saveCheckpoint } from '../src/checkpoint';
import { createProgram } from '../src/cli';
import { imageFiles, topClasses } from '../src/commands/predict';
import { TINY_SPEC, validCheckpoint } from '../../../packages/run/test/checkpointFixtures';

/** Runs `convoy ...args`, collecting what it writes to stdout and stderr and the exit code it asks for. */
async function convoy(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  let code = 0;
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    await createProgram({ onExitCode: (c) => (code = c) }).parseAsync(['node', 'convoy', ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { out, err, code };
}

/** A w x h RGB image with a gradient pattern, encoded by sharp as png or jpeg. */
async function image(file: string, w: number, h: number, format: 'png' | 'jpeg'): Promise<void> {
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + (i % 3) * 80) % 256;
  const encoded = sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
  writeFileSync(file, await (format === 'png' ? encoded.png() : encoded.jpeg({ quality: 90 })).toBuffer());
}

describe('convoy predict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-predict-'));
  const images = join(dir, 'images');
  const state = validCheckpoint(); // 8 x 8 input, classes cat, dog
  const checkpoint = join(dir, 'latest.msgpack');

  beforeAll(async () => {
    saveCheckpoint(checkpoint, state);
    mkdirSync(join(images, 'cat'), { recursive: true });
    mkdirSync(join(images, 'dog', 'more'), { recursive: true });
    await image(join(images, 'cat', 'a.png'), 8, 8, 'png');
    await image(join(images, 'dog', 'b.jpg'), 20, 12, 'jpeg'); // resized (smaller side to 8) and centre-cropped
    await image(join(images, 'dog', 'more', 'c.PNG'), 9, 30, 'png');
    writeFileSync(join(images, 'dog', 'notes.txt'), 'not an image, and not named like one: skipped in folders');
    await image(join(dir, 'outside.png'), 8, 8, 'png');
    symlinkSync(join(dir, 'outside.png'), join(images, 'dog', 'more', 'linked.png')); // links are followed
  });

  it('lists the images of folders recursively in path order, files as given, and refuses missing or empty inputs', () => {
    expect(imageFiles([images]).map((f) => f.slice(images.length))).toEqual(['/cat/a.png', '/dog/b.jpg', '/dog/more/c.PNG', '/dog/more/linked.png']);
    expect(imageFiles([join(images, 'dog', 'notes.txt')])).toEqual([join(images, 'dog', 'notes.txt')]);
    expect(() => imageFiles([join(dir, 'nope')])).toThrow(/\bnope: .*\bno such file\b/);
    mkdirSync(join(dir, 'empty'));
    expect(() => imageFiles([join(dir, 'empty')])).toThrow(/\bempty: .*\bno images\b.*\.jpg, \.jpeg, \.png, \.webp\b/);
  });

  it('orders the top classes by probability (softmax), ties by class order', () => {
    const top = topClasses(Float32Array.from([0, Math.log(3), 0]), ['a', 'b', 'c'], 2);
    expect(top.map((t) => t.className)).toEqual(['b', 'a']);
    expect(top[0].probability).toBeCloseTo(0.6, 6);
    expect(top[1].probability).toBeCloseTo(0.2, 6);
  });

  it("classifies each image as the checkpoint's network does on the image preprocessed as in training", async () => {
    const { out, err, code } = await convoy(['predict', checkpoint, images, '--json', '--threads', '2', '--top-k', '5']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; top: Array<{ className: string; probability: number }> });
    expect(lines.map((l) => l.file)).toEqual(imageFiles([images]));
    expect(err).toMatch(/accuracy [\d.]+% \(\d\/2\) on the images inside folders named after a class/); // c.PNG and linked.png sit in dog/more

    // The reference: decodeImageFile (training's image decoding), the checkpoint's normalisation, one forward pass in this process.
    const model = buildModel(state.modelSpec);
    createParameters(model).params.data.set(state.params);
    const table = normalizationTable(state.normalization);
    for (const line of lines) {
      const pixels = await decodeImageFile(line.file, 8);
      const x = Float32Array.from(pixels, (v, i) => table[Math.floor(i / 64) * 256 + v]);
      const logits = model.forward(new Tensor(x, [1, 3, 8, 8])).data;
      const expected = topClasses(logits, state.classNames, 5);
      expect(line.top.map((t) => t.className)).toEqual(expected.map((t) => t.className));
      expect(line.top).toHaveLength(2); // --top-k 5 of a two-class network
      line.top.forEach((t, i) => expect(Math.abs(t.probability - expected[i].probability)).toBeLessThan(1e-6));
    }
  });

  it('names a file that is not a readable image, still classifies the others, and exits 1', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(join(bad, 'cat'), { recursive: true });
    writeFileSync(join(bad, 'cat', 'broken.png'), Buffer.from('PNG? no'));
    await image(join(bad, 'cat', 'ok.png'), 8, 8, 'png');
    const { out, err, code } = await convoy(['predict', checkpoint, bad, '--threads', '1', '--top-k', '1']);
    expect(err).toMatch(/error: .*broken\.png: not an image\b.*\bskipped\n/);
    expect(out).toMatch(/ok\.png: (cat|dog) \d+\.\d%\n/);
    expect(out).toMatch(/1 of 2 file\(s\) could not be read as images/);
    expect(code).toBe(1);
  });

  it('a grey network (1 input channel): images decoded grey as in training, a colour image classified as its grey twin', async () => {
    const grey = validCheckpoint({ ...TINY_SPEC, inChannels: 1 });
    grey.normalization = { mean: [0.45], std: [0.25] };
    const greyCheckpoint = join(dir, 'grey.msgpack');
    saveCheckpoint(greyCheckpoint, grey);
    const colour = join(dir, 'colour.png');
    await image(colour, 20, 12, 'png');
    // The twin: the colour image's grey decoding, stored as a 1-channel file of R x R.
    const twin = join(dir, 'twin.png');
    const greyPixels = await decodeImageFile(colour, 8, { channels: 1 });
    writeFileSync(twin, await sharp(Buffer.from(greyPixels), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    const { out, code } = await convoy(['predict', greyCheckpoint, colour, twin, '--json', '--threads', '1', '--top-k', '2']);
    expect(code).toBe(0);
    const [fromColour, fromTwin] = out.trim().split('\n').map((l) => JSON.parse(l) as { top: Array<{ className: string; probability: number }> });
    expect(fromColour.top).toEqual(fromTwin.top);
    const model = buildModel(grey.modelSpec);
    createParameters(model).params.data.set(grey.params);
    const table = normalizationTable(grey.normalization);
    const logits = model.forward(new Tensor(Float32Array.from(greyPixels, (v) => table[v]), [1, 1, 8, 8])).data;
    topClasses(logits, grey.classNames, 2).forEach((t, i) => expect(Math.abs(fromColour.top[i].probability - t.probability)).toBeLessThan(1e-6));
  });
});
