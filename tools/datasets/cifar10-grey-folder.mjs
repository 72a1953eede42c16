#!/usr/bin/env node
// Writes CIFAR-10 as an image folder of grey PNGs, a stand-in for the grey 28x28 datasets people
// train on (digits, clothing), made from real images that are on this machine:
//
//   node tools/datasets/cifar10-grey-folder.mjs <out> [--resolution 28] [--train N] [--test N] [--colour]
//
// reads CIFAR-10 from $CIFAR10_DIR (the binary version; after `npx nx run-many -t build`, since it
// uses @convoy/data), and writes <out>/train/<class>/<record>.png and <out>/test/<class>/<record>.png:
// each image resized in RGB to R x R (libvips' Lanczos-3, as convoy's decoder), then made grey by
// PIL's convert('L') formula (lumaOf of @convoy/data), saved as a 1-channel PNG. --colour writes the
// same images resized but left in colour (RGB PNGs of the same names): convoy decoding one of those
// for a grey network must give exactly the pixels of its grey twin. --train/--test take the first N
// of each split, class-balanced (N/10 per class; default all: 50,000 and 10,000). <out> must not
// exist or be empty; nothing in the repository's tests or runs imports this script.
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { lumaOf, readCifar10, subset } from '@convoy/data';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { resolution: { type: 'string', default: '28' }, train: { type: 'string' }, test: { type: 'string' }, colour: { type: 'boolean', default: false } },
});
const usage = 'usage: CIFAR10_DIR=<cifar-10-batches-bin> node tools/datasets/cifar10-grey-folder.mjs <out> [--resolution 28] [--train N] [--test N] [--colour]';
const count = (flag) => {
  if (values[flag] === undefined) return undefined;
  const n = Number(values[flag]);
  if (!Number.isInteger(n) || n < 10) fail(`--${flag} must be a whole number of at least 10 (one image per class), got ${values[flag]}`);
  return n;
};
function fail(message) {
  process.stderr.write(`error: ${message}\n${usage}\n`);
  process.exit(2);
}
if (positionals.length !== 1) fail('give one output folder');
const out = positionals[0];
const resolution = Number(values.resolution);
if (!Number.isInteger(resolution) || resolution < 8 || resolution > 256) fail(`--resolution must be a whole number from 8 to 256, got ${values.resolution}`);
if (!process.env.CIFAR10_DIR) fail('set CIFAR10_DIR to the CIFAR-10 binary folder (data_batch_1.bin ... test_batch.bin)');
if (existsSync(out) && readdirSync(out).length > 0) fail(`${out} is not empty; give a new or empty folder`);

const data = readCifar10(process.env.CIFAR10_DIR);
const splits = { train: subset(data.train, { limit: count('train') }), test: subset(data.test, { limit: count('test') }) };
const total = splits.train.count + splits.test.count;
// Written under a temporary name and renamed at the end: a folder that exists is complete.
const building = `${out}.part-${process.pid}`;
let done = 0;
let reported = 0;

async function writeImage(set, i, dir) {
  const plane = set.height * set.width;
  const rgb = Buffer.alloc(3 * plane);
  const image = set.images.subarray(i * 3 * plane, (i + 1) * 3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = image[c * plane + p];
  const resized = await sharp(rgb, { raw: { width: set.width, height: set.height, channels: 3 } }).resize(resolution, resolution, { fit: 'fill' }).raw().toBuffer();
  const size = resolution * resolution;
  let png;
  if (values.colour) {
    png = await sharp(resized, { raw: { width: resolution, height: resolution, channels: 3 } }).png().toBuffer();
  } else {
    const grey = Buffer.alloc(size);
    for (let p = 0; p < size; p++) grey[p] = lumaOf(resized[3 * p], resized[3 * p + 1], resized[3 * p + 2]);
    // toColourspace('b-w'): without it sharp writes a 1-channel input as an RGB PNG.
    png = await sharp(grey, { raw: { width: resolution, height: resolution, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  }
  writeFileSync(join(dir, `${String(i).padStart(5, '0')}.png`), png);
  done++;
  if (done === total || done - reported >= total / 10) {
    reported = done;
    process.stderr.write(`${done}/${total} images\n`);
  }
}

for (const [name, set] of Object.entries(splits)) {
  for (const className of data.classNames) mkdirSync(join(building, name, className), { recursive: true });
  let next = 0;
  const lane = async () => {
    while (next < set.count) {
      const i = next++;
      await writeImage(set, i, join(building, name, data.classNames[set.labels[i]]));
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
}
if (existsSync(out)) rmdirSync(out); // empty (checked above)
renameSync(building, out);
process.stdout.write(`${total} ${values.colour ? 'colour' : 'grey'} ${resolution}x${resolution} PNGs (${splits.train.count} training, ${splits.test.count} test, ${data.classNames.length} classes) in ${out}\n`);
