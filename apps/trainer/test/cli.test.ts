import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { CheckpointError } from '@convoy/run';
import { saveCheckpoint } from '../src/checkpoint';
import { contradictoryCheckpoint, SELF_CONTRADICTIONS, validCheckpoint } from '../../../packages/run/test/checkpointFixtures';
import { createProgram, exitCodeOf, UsageError } from '../src/cli';
import { backendFlag } from '../src/cliOptions';

/** Parses argv (after `convoy`) with exits turned into exceptions; returns what was printed. */
async function run(args: string[]): Promise<{ out: string; err: string; error: unknown }> {
  let out = '';
  let err = '';
  const program = createProgram({ writeOut: (t) => (out += t), writeErr: (t) => (err += t), onExitCode: () => undefined });
  try {
    await program.parseAsync(['node', 'convoy', ...args]);
    return { out, err, error: null };
  } catch (error) {
    return { out, err, error };
  }
}

describe('convoy CLI flags', () => {
  it("takes --backend js, the plain-TS reference's former name, as reference", () => {
    expect(backendFlag('js')).toBe('reference');
    expect(backendFlag('reference')).toBe('reference');
  });


  it.each([
    [['--threads', '0'], /--threads must be between 1 and 1024, got 0/],
    [['--threads', '1.5'], /--threads expects a whole number, got '1.5'/],
    [['--epochs', 'ten'], /--epochs expects a whole number, got 'ten'/],
    [['--batch-size', '-4'], /--batch-size must be at least 1, got -4/],
    [['--lr', 'abc'], /--lr expects a finite number, got 'abc'/],
    [['--lr', '0'], /--lr must be greater than 0, got 0/],
    [['--momentum', '1.5'], /--momentum must be at most 0.999, got 1.5/],
    [['--weight-decay', '-1'], /--weight-decay must be at least 0, got -1/],
    [['--optimizer', 'rmsprop'], /--optimizer must be one of sgd, adamw; got 'rmsprop'/],
    [['--schedule', 'linear'], /--schedule must be one of onecycle, cosine, step, constant; got 'linear'/],
    [['--backend', 'cuda'], /--backend must be one of auto, native, native:bf16, wasm, gpujs, reference, gpujs:<mode>; got 'cuda'/],
    [['--width', '0'], /--width must be between 1 and 512, got 0/],
    [['--limit-train', '0'], /--limit-train must be at least 1, got 0/],
    [['--max-steps', 'NaN'], /--max-steps expects a whole number, got 'NaN'/],
    [['--warmup', '2'], /--warmup must be at most 1, got 2/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--resolution', '4'], /--resolution must be between 8 and 4096, got 4/],
    [['--val-split', '1'], /--val-split must be at most 0.99, got 1/],
    [['--val-split', '0'], /--val-split must be greater than 0, got 0/],
  ])('train %j is rejected with a clear message', async (args, message) => {
    const { err, error } = await run(['train', ...args]);
    expect(error).toBeInstanceOf(CommanderError);
    expect(err).toMatch(message);
  });

  it.each([
    [['--resolution', '64'], /CIFAR-10 images are 32x32, so --resolution 64 needs --data <image folder>/],
    [['--val-split', '0.1'], /--val-split needs --data <folder of class folders>/],
    [['--skip-bad-images'], /--skip-bad-images needs --data <image folder>/],
    [['--data', 'photos', '--data-dir', 'cifar'], /--data \(an image folder\) and --data-dir \(the CIFAR-10 folder\) exclude each other/],
  ])('train %j: image-folder flags without --data (or with --data-dir) are usage errors, before any work', async (args, message) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'convoy-cli-')), 'run');
    const { error } = await run(['train', ...args, '--checkpoint-dir', dir]);
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });

  it.each([
    ['a side other than the data\'s', { input: { channels: 3, resolution: 28 } }, [], /--model \S+net\.json: input\.resolution: the model file takes 28 x 28 images but CIFAR-10 gives 32 x 32/],
    ['a channel count other than the data\'s', { input: { channels: 1, resolution: 32 } }, [], /--model \S+net\.json: input\.channels: the model file takes 1-channel images but CIFAR-10 has 3 channels/],
    ['an output other than the classes', { layers: [{ type: 'flatten' }, { type: 'linear', out: 7 }] }, [], /--model \S+net\.json: layers: the network ends in \[7\], not the 10 class scores/],
    ['10 outputs for --classes cat,dog', { layers: [{ type: 'flatten' }, { type: 'linear', out: 10 }] }, ['--classes', 'cat,dog'], /--model \S+net\.json: layers: the network ends in \[10\], not the 2 class scores/],
    ['an unknown layer type', { layers: [{ type: 'conv3d', out: 4, kernel: 3 }, { type: 'flatten' }, { type: 'linear', out: 'classes' }] }, [], /--model \S+net\.json: layers\[0\]: unknown layer type "conv3d"/],
    ['--width beside --model', {}, ['--width', '64'], /--width sets the recipe network's width \(and the recipe presets'\); a model file gives every layer's size/],
  ])('train --model with %s is a usage error before any work, leaving no run folder', async (_what, change, extra, message) => {
    const root = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    const file = join(root, 'net.json');
    writeFileSync(file, JSON.stringify({ input: { channels: 3, resolution: 32 }, layers: [{ type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' }], ...change }));
    const dir = join(root, 'run');
    const { error } = await run(['train', '--model', file, ...extra, '--checkpoint-dir', dir, '--data-dir', join(root, 'no-data'), '--no-download']);
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });

  it('train --model names a missing or malformed file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    const missing = await run(['train', '--model', join(root, 'none.json'), '--checkpoint-dir', join(root, 'run')]);
    expect((missing.error as Error).message).toMatch(/model file \S+none\.json not found; give a JSON model file .* or a preset: recipe, recipe-bn/);
    writeFileSync(join(root, 'bad.json'), '{ "input": ');
    const malformed = await run(['train', '--model', join(root, 'bad.json'), '--checkpoint-dir', join(root, 'run')]);
    expect(malformed.error).toBeInstanceOf(UsageError);
    expect((malformed.error as Error).message).toMatch(/model file \S+bad\.json is not valid JSON/);
  });

  it('validates scaling and eval flags too', async () => {
    expect((await run(['scaling', '--max-threads', '0'])).err).toMatch(/--max-threads must be between 1 and 1024, got 0/);
    expect((await run(['scaling', '--steps', 'x'])).err).toMatch(/--steps expects a whole number/);
    expect((await run(['eval'])).err).toMatch(/missing required argument 'checkpoint'/);
  });

  it('documents every flag of the issue with its default in --help', async () => {
    const { out, error } = await run(['train', '--help']);
    expect((error as CommanderError).code).toBe('commander.helpDisplayed');
    for (const flag of [
      '--data-dir', '--threads', '--epochs', '--batch-size', '--lr', '--momentum', '--weight-decay', '--optimizer', '--schedule',
      '--width', '--augment', '--no-augment', '--seed', '--backend', '--limit-train', '--limit-test', '--max-steps', '--checkpoint-dir',
      '--resume', '--log', '--data', '--resolution', '--val-split', '--skip-bad-images', '--no-image-cache',
    ]) {
      expect(out).toContain(flag);
    }
    const compact = out.replace(/\s+/g, ' ');
    expect(compact).toContain('(default: 15)');
    expect(compact).toContain('(default: 128)');
    expect(compact).toContain('(default: 0.05)');
    expect(compact).toContain('(default: 0.0005)');
    expect(compact).toContain('(default: "onecycle")');
    expect(compact).toMatch(/--threads <n> .*\(default: the CPUs this process may use, here \d+\)/);
  });

  it('has no default command: a bare `convoy` prints the help (with the commands) instead of training', async () => {
    const { err, error } = await run([]);
    expect((error as CommanderError).code).toBe('commander.help');
    expect(exitCodeOf(error)).toBe(2);
    expect(err).toMatch(/Usage: convoy \[options\] \[command\]/);
    for (const command of ['train', 'eval', 'scaling', 'curve']) expect(err).toMatch(new RegExp(`\\n\\s+${command}\\b`));
    const flagsWithoutCommand = await run(['--threads', '2']);
    expect(flagsWithoutCommand.err).toMatch(/unknown option '--threads'/);
  });

  it('gives exit code 2 to every usage error and 0 to --help and --version', async () => {
    for (const args of [['train', '--lr', 'abc'], ['train', '--frobnicate'], ['eval'], ['eval', 'a', 'b'], ['frobnicate'], ['curve']]) {
      const { error } = await run(args);
      expect(error).toBeInstanceOf(CommanderError);
      expect([args, exitCodeOf(error)]).toEqual([args, 2]);
    }
    expect(exitCodeOf(new UsageError('x'))).toBe(2);
    expect(exitCodeOf(new Error('x'))).toBe(1);
    const help = await run(['eval', '--help']);
    expect(exitCodeOf(help.error)).toBe(0);
    const version = await run(['--version']);
    expect(exitCodeOf(version.error)).toBe(0);
    expect(version.out).toBe(`${(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('refuses to resume with flags that would change the run, naming them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    const file = join(dir, 'latest.msgpack');
    saveCheckpoint(file, validCheckpoint());
    const { error } = await run(['train', '--resume', file, '--lr', '0.1', '--epochs', '3', '--batch-size', '32']);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/--batch-size 32 \(the checkpoint has 16\); --lr 0\.1 \(the checkpoint has 0\.05\)/);
    expect((error as Error).message).not.toMatch(/--epochs/);
  });

  it('refuses to start over in a directory holding a run unless --overwrite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    saveCheckpoint(join(dir, 'latest.msgpack'), validCheckpoint());
    const { error } = await run(['train', '--checkpoint-dir', dir]);
    expect((error as Error).message).toMatch(/already holds a run \(latest\.msgpack\)\. Continue it with --resume/);
  });

  it('refuses to resume a checkpoint whose modelSpec is not the network of its config', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'convoy-cli-')), 'latest.msgpack');
    const state = validCheckpoint();
    state.config.width = 4; // the file is consistent in itself, but --resume would build a width-4, 32x32 network from its config
    saveCheckpoint(file, state);
    const { error } = await run(['train', '--resume', file]);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/latest\.msgpack: its modelSpec .* is not the network its config describes/);
  });
});

describe('every command that reads a checkpoint refuses one that contradicts itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-cli-bad-'));
  const commands: Array<[string, (file: string) => string[]]> = [
    ['eval', (file) => ['eval', file, '--data-dir', join(dir, 'no-data'), '--no-download']],
    ['train --resume', (file) => ['train', '--resume', file, '--data-dir', join(dir, 'no-data'), '--no-download']],
    ['export', (file) => ['export', file, '-o', join(dir, 'never-written.safetensors')]],
    ['predict', (file) => ['predict', file, join(dir, 'no-images')]],
  ];
  it.each(commands.flatMap(([name, argv]) => SELF_CONTRADICTIONS.map((c) => [name, c.kind, argv, c.message] as const)))(
    '%s: %s',
    async (_name, kind, argv, message) => {
      const file = join(dir, `${kind.replace(/\W+/g, '-')}.msgpack`);
      saveCheckpoint(file, contradictoryCheckpoint(kind));
      const { error } = await run(argv(file));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(existsSync(join(dir, 'never-written.safetensors'))).toBe(false);
      expect((error as Error).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${message.source}`));
    },
  );
});
