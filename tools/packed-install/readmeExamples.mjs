// README examples as tests: finds the fenced blocks a README marks as examples (`js example cjs`,
// `js example esm`, optional `env=NAME`) and the `text output` block after each, and matches what
// an example printed against that output. The convention is documented in DEVELOPERS.md.

/** Fenced code blocks of a Markdown text: { info, code, line } (line: 1-based, the opening fence). */
export function fencedBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  let open = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (open === null) {
      const start = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
      if (start) open = { fence: start[1], info: start[2].trim(), line: i + 1, body: [] };
    } else {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === open.fence[0] && close[1].length >= open.fence.length) {
        blocks.push({ info: open.info, code: open.body.join('\n') + '\n', line: open.line });
        open = null;
      } else {
        open.body.push(line);
      }
    }
  }
  if (open !== null) throw new Error(`line ${open.line}: code block never closed`);
  return blocks;
}

/**
 * The examples of a README: [{ kind: 'cjs' | 'esm', env: string[], code, expected: string[], line }].
 * Throws, naming the line, when an example is malformed (unknown kind, no output block after it).
 */
export function readmeExamples(markdown) {
  const blocks = fencedBlocks(markdown);
  const examples = [];
  for (let i = 0; i < blocks.length; i++) {
    const words = blocks[i].info.split(/\s+/);
    if (words[1] !== 'example') continue;
    const where = `line ${blocks[i].line}`;
    if (words[0] !== 'js') throw new Error(`${where}: an example must be a \`js\` block, not \`${words[0]}\``);
    const kind = words[2];
    if (kind !== 'cjs' && kind !== 'esm') {
      throw new Error(`${where}: say which module system the example is: \`js example cjs\` or \`js example esm\``);
    }
    const env = [];
    for (const word of words.slice(3)) {
      const match = /^env=([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
      if (!match) throw new Error(`${where}: unknown example attribute \`${word}\` (only env=NAME)`);
      env.push(match[1]);
    }
    const next = blocks[i + 1];
    if (!next || next.info !== 'text output') {
      throw new Error(`${where}: an example needs a \`text output\` block right after it, with what it prints`);
    }
    examples.push({ kind, env, code: blocks[i].code, expected: outputLines(next.code), line: blocks[i].line });
    i++;
  }
  return examples;
}

/** Lines of printed text, trailing spaces and trailing empty lines dropped. */
export function outputLines(text) {
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const WILDCARD = '...';

function linePattern(expected) {
  const escaped = expected.split(WILDCARD).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

/**
 * Whether the printed text matches the expected lines: each line equal, `...` in a line matching
 * any text, a line that is only `...` matching any number of lines.
 */
export function outputMatches(expected, printed) {
  const actual = outputLines(printed);
  const patterns = expected.map((line) => (line === WILDCARD ? null : linePattern(line)));
  // matches(i, j): expected[i..] matches actual[j..]; memoised over (i, j)
  const memo = new Map();
  const matches = (i, j) => {
    if (i === patterns.length) return j === actual.length;
    const key = i * (actual.length + 1) + j;
    if (memo.has(key)) return memo.get(key);
    const result =
      patterns[i] === null
        ? matches(i + 1, j) || (j < actual.length && matches(i, j + 1))
        : j < actual.length && patterns[i].test(actual[j]) && matches(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return matches(0, 0);
}
