// node --test tools/packed-install/
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fencedBlocks, outputMatches, readmeExamples } from './readmeExamples.mjs';

const fence = '```';

test('finds examples, their kind, env and expected output; skips other blocks', () => {
  const markdown = [
    '# pkg',
    `${fence}js`,
    'sketch(undefinedVariable);',
    fence,
    `${fence}js example cjs`,
    "const x = require('x');",
    'console.log(1);',
    fence,
    '',
    'prints',
    '',
    `${fence}text output`,
    '1   ',
    '',
    fence,
    `${fence}js example esm env=CIFAR10_DIR`,
    "import { y } from 'y';",
    fence,
    `${fence}text output`,
    '...',
    fence,
  ].join('\n');
  const examples = readmeExamples(markdown);
  assert.equal(examples.length, 2);
  assert.deepEqual(examples[0], { kind: 'cjs', env: [], code: "const x = require('x');\nconsole.log(1);\n", expected: ['1'], line: 5 });
  assert.deepEqual(examples[1].env, ['CIFAR10_DIR']);
  assert.equal(examples[1].kind, 'esm');
  assert.deepEqual(examples[1].expected, ['...']);
});

test('longer fences hold shorter ones (a Markdown example of the convention is not an example)', () => {
  const markdown = ['````md', `${fence}js example cjs`, 'x', fence, '````'].join('\n');
  assert.equal(fencedBlocks(markdown).length, 1);
  assert.deepEqual(readmeExamples(markdown), []);
});

test('malformed examples are errors naming the line', () => {
  assert.throws(() => readmeExamples(`x\n${fence}js example\nx\n${fence}\n`), /line 2: say which module system/);
  assert.throws(() => readmeExamples(`${fence}ts example esm\nx\n${fence}\n`), /line 1: an example must be a `js` block/);
  assert.throws(() => readmeExamples(`${fence}js example cjs\nx\n${fence}\n${fence}js\n${fence}\n`), /needs a `text output` block/);
  assert.throws(() => readmeExamples(`${fence}js example cjs fast\nx\n${fence}\n`), /unknown example attribute `fast`/);
  assert.throws(() => readmeExamples(`${fence}js example cjs\nx\n`), /line 1: code block never closed/);
});

test('output matching: exact lines, ... within a line, ... as any number of lines', () => {
  assert.equal(outputMatches(['96 [ 2, 48 ]', 'true'], '96 [ 2, 48 ]\ntrue\n'), true);
  assert.equal(outputMatches(['96 [ 2, 48 ]'], '96 [ 2, 49 ]\n'), false);
  assert.equal(outputMatches(['a'], 'a\nb\n'), false, 'extra printed lines fail');
  assert.equal(outputMatches(['a', 'b'], 'a\n'), false, 'missing lines fail');
  assert.equal(outputMatches(['step 0 loss ... correct .../4'], 'step 0 loss 2.3026 correct 1/4\n'), true);
  assert.equal(outputMatches(['loss (1.5)'], 'loss 1.5\n'), false, 'regex characters are literal');
  assert.equal(outputMatches(['start', '...', 'end'], 'start\nend\n'), true);
  assert.equal(outputMatches(['start', '...', 'end'], 'start\n1\n2\nend\n'), true);
  assert.equal(outputMatches(['start', '...', 'end'], 'start\n1\n2\n'), false);
});
