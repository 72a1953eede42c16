import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The BUILT `convoy` command (bin/convoy.js -> dist/cli.js): help, exit codes and --version as a
// user's shell sees them. Needs no data.
const bin = join(__dirname, '..', 'bin', 'convoy.js');

function convoy(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the built convoy binary', () => {
  it('prints its version', () => {
    for (const flag of ['--version', '-V']) {
      const r = convoy([flag]);
      expect(r).toEqual({ code: 0, out: `${(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version}\n`, err: '' });
    }
  });

  it('prints help for --help, each command, and a bare `convoy` (which no longer trains)', () => {
    const help = convoy(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: convoy \[options\] \[command\]/);
    for (const command of ['train', 'eval', 'predict', 'export', 'scaling', 'curve']) expect(help.out).toMatch(new RegExp(`\\n\\s+${command}\\b`));
    expect(convoy(['train', '--help']).out).toMatch(/--checkpoint-dir <dir>/);
    expect(convoy(['eval', '--help']).out).toMatch(/Usage: convoy eval \[options\] <checkpoint>/);

    const bare = convoy([]);
    expect(bare.code).toBe(2);
    expect(bare.out).toBe('');
    expect(bare.err).toMatch(/Usage: convoy \[options\] \[command\]/);
    expect(bare.err).toMatch(/error: no command given; training is `convoy train`/);
  });

  it.each([
    [['train', '--lr', 'abc'], /error: option '--lr <number>' argument 'abc' is invalid\. --lr expects a finite number/],
    [['train', '--frobnicate'], /error: unknown option '--frobnicate'/],
    [['train', '--momentum', '0', '--no-cycle-momentum', '--checkpoint-dir', join(__dirname, 'no-such-dir')], /error: --nesterov needs --momentum > 0/],
    [['eval'], /error: missing required argument 'checkpoint'/],
    [['export', 'x.msgpack', '--format', 'tflite'], /error: option '--format <name>' argument 'tflite' is invalid\. --format must be one of safetensors, onnx/],
    [['frobnicate'], /error: unknown command 'frobnicate'/],
    [['predict', 'x.msgpack'], /error: missing required argument 'images'/],
    [['predict', 'x.msgpack', 'a.png', '--top-k', '0'], /--top-k must be at least 1, got 0/],
  ])('exits 2 on the usage error %j', (args, message) => {
    const r = convoy(args);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('exits 1, naming the file, when the checkpoint is missing', () => {
    const r = convoy(['eval', '/nonexistent/run']);
    expect(r).toEqual({ code: 1, out: '', err: 'error: checkpoint /nonexistent/run does not exist\n' });
  });
});
