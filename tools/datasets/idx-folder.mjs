#!/usr/bin/env node
// Writes an MNIST-style dataset (the IDX files of MNIST digits or Fashion-MNIST) as an image folder
// of grey PNGs, the form in which a new user brings such data to `convoy train --data`:
//
//   node tools/datasets/idx-folder.mjs <idx-dir> <out> [--names fashion-mnist|digits|a,b,...] [--train N] [--test N]
//
// <idx-dir> holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each gzipped (.gz) or not; Debian's dataset-fashion-mnist package puts
// Fashion-MNIST's in /usr/share/datasets/fashion-mnist. Writes <out>/train/<class>/<index>.png and
// <out>/test/<class>/<index>.png, 1-channel PNGs of the images as stored (28x28, no resize).
// --names gives the class folders in label order (default: digits, 0 to 9; fashion-mnist: the
// dataset's ten product names, lower case, '/' and ' ' as '-'). --train/--test keep the first N of a
// split (default all: 60,000 and 10,000). <out> must not exist or be empty; nothing in the
// repository's tests or runs imports this script.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';

const presets = {
  digits: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': ['t-shirt-top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'],
};
const usage = 'usage: node tools/datasets/idx-folder.mjs <idx-dir> <out> [--names fashion-mnist|digits|a,b,...] [--train N] [--test N]';
function fail(message) {
  process.stderr.write(`error: ${message}\n${usage}\n`);
  process.exit(2);
}
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { names: { type: 'string', default: 'digits' }, train: { type: 'string' }, test: { type: 'string' } },
});
if (positionals.length !== 2) fail('give the IDX folder and one output folder');
const [idxDir, out] = positionals;
const names = presets[values.names] ?? values.names.split(',');
if (names.length < 2 || names.some((name) => !/^[\w.-]+$/.test(name))) fail(`--names must be a preset (${Object.keys(presets).join(', ')}) or two or more folder names (letters, digits, . _ -), got ${values.names}`);
if (existsSync(out) && readdirSync(out).length > 0) fail(`${out} is not empty; give a new or empty folder`);
const count = (flag) => {
  if (values[flag] === undefined) return Infinity;
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < 1) fail(`--${flag} must be a whole number of at least 1, got ${values[flag]}`);
  return n;
};

// One IDX file: magic 0x0000 0x08 (unsigned bytes) <dimension count>, then each dimension as a
// big-endian uint32, then the bytes (yann.lecun.com/exdb/mnist, "FILE FORMATS").
function readIdx(stem, dimensions) {
  const path = [join(idxDir, stem), join(idxDir, `${stem}.gz`)].find(existsSync);
  if (!path) fail(`${idxDir} has neither ${stem} nor ${stem}.gz`);
  const raw = readFileSync(path);
  const bytes = path.endsWith('.gz') ? gunzipSync(raw) : raw;
  if (bytes.length < 4 + 4 * dimensions || bytes.readUInt16BE(0) !== 0 || bytes[2] !== 0x08 || bytes[3] !== dimensions) {
    fail(`${path} is not an IDX file of unsigned bytes with ${dimensions} dimension(s)`);
  }
  const shape = Array.from({ length: dimensions }, (_, d) => bytes.readUInt32BE(4 + 4 * d));
  const data = bytes.subarray(4 + 4 * dimensions);
  if (data.length !== shape.reduce((a, b) => a * b, 1)) fail(`${path}: ${data.length} bytes after the header, but its shape ${shape.join('x')} needs ${shape.reduce((a, b) => a * b, 1)}`);
  return { shape, data };
}

function readSplit(prefix, limit) {
  const images = readIdx(`${prefix}-images-idx3-ubyte`, 3);
  const labels = readIdx(`${prefix}-labels-idx1-ubyte`, 1);
  if (images.shape[0] !== labels.shape[0]) fail(`${prefix}: ${images.shape[0]} images but ${labels.shape[0]} labels`);
  const bad = labels.data.findIndex((label) => label >= names.length);
  if (bad >= 0) fail(`${prefix} label ${bad} is ${labels.data[bad]}, but --names gives only ${names.length} classes`);
  return { count: Math.min(images.shape[0], limit), height: images.shape[1], width: images.shape[2], images: images.data, labels: labels.data };
}

const splits = { train: readSplit('train', count('train')), test: readSplit('t10k', count('test')) };
const total = splits.train.count + splits.test.count;
// Written under a temporary name and renamed at the end: a folder that exists is complete.
const building = `${out}.part-${process.pid}`;
let done = 0;
let reported = 0;
for (const [split, set] of Object.entries(splits)) {
  for (const name of names) mkdirSync(join(building, split, name), { recursive: true });
  const plane = set.height * set.width;
  let next = 0;
  const lane = async () => {
    while (next < set.count) {
      const i = next++;
      const grey = set.images.subarray(i * plane, (i + 1) * plane);
      // toColourspace('b-w'): without it sharp writes a 1-channel input as an RGB PNG.
      const png = await sharp(grey, { raw: { width: set.width, height: set.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      writeFileSync(join(building, split, names[set.labels[i]], `${String(i).padStart(5, '0')}.png`), png);
      done++;
      if (done === total || done - reported >= total / 10) {
        reported = done;
        process.stderr.write(`${done}/${total} images\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
}
if (existsSync(out)) rmdirSync(out); // empty (checked above)
renameSync(building, out);
process.stdout.write(`${total} grey ${splits.train.height}x${splits.train.width} PNGs (${splits.train.count} training, ${splits.test.count} test, ${names.length} classes) in ${out}\n`);
