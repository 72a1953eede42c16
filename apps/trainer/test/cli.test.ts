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
    [['--threads', '0'], /--threads\b.*\b1\b.*\b1024\b.*\b0\b/],
    [['--threads', '1.5'], /--threads\b.*\bwhole number\b.*'1\.5'/],
    [['--epochs', 'ten'], /--epochs\b.*\bwhole number\b.*'ten'/],
    [['--batch-size', '-4'], /--batch-size\b.*\b1\b.*-4\b/],
    [['--lr', 'abc'], /--lr\b.*\bnumber\b.*'abc'/],
    [['--lr', '0'], /--lr\b.*\b0\b.*\b0\b/],
    [['--momentum', '1.5'], /--momentum\b.*\b0\.999\b.*\b1\.5\b/],
    [['--weight-decay', '-1'], /--weight-decay\b.*\b0\b.*-1\b/],
    [['--optimizer', 'rmsprop'], /--optimizer\b.*\bsgd, adamw\b.*'rmsprop'/],
    [['--schedule', 'exponential'], /--schedule\b.*\bonecycle, cosine, linear, step, constant\b.*'exponential'/],
    [['--backend', 'cuda'], /--backend\b.*\bauto, native, native:bf16, wasm, gpujs, reference, gpujs:<mode>.*'cuda'/],
    [['--width', '0'], /--width\b.*\b1\b.*\b512\b.*\b0\b/],
    [['--limit-train', '0'], /--limit-train\b.*\b1\b.*\b0\b/],
    [['--max-steps', 'NaN'], /--max-steps\b.*\bwhole number\b.*'NaN'/],
    [['--warmup', '2'], /--warmup\b.*\b1\b.*\b2\b/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--resolution', '4'], /--resolution\b.*\b8\b.*\b4096\b.*\b4\b/],
    [['--val-split', '1'], /--val-split\b.*\b0\.99\b.*\b1\b/],
    [['--val-split', '0'], /--val-split\b.*\b0\b.*\b0\b/],
    [['--label-smoothing', '-0.1'], /--label-smoothing\b.*\bat least 0\b.*-0\.1\b/],
    [['--label-smoothing', '1'], /--label-smoothing\b.*\bbelow 1\b.*\b1\b/],
    [['--label-smoothing', 'NaN'], /--label-smoothing\b.*\bfinite number\b.*'NaN'/],
    [['--batch-norm-lr-scale', '0'], /--batch-norm-lr-scale\b.*\bgreater than 0\b.*\b0\b/],
    [['--batch-norm-lr-scale', 'x'], /--batch-norm-lr-scale\b.*\bfinite number\b.*'x'/],
    [['--whitening-bias-epochs', '-1'], /--whitening-bias-epochs\b.*\b0\b.*-1\b/],
    [['--lookahead', '-1'], /--lookahead\b.*\b0\b.*-1\b/],
    [['--lookahead', '2.5'], /--lookahead\b.*\bwhole number\b.*'2\.5'/],
    [['--batch-norm-weight-decay', '-0.5'], /--batch-norm-weight-decay\b.*\bat least 0\b.*-0\.5\b/],
  ])('train %j is rejected with a clear message', async (args, message) => {
    const { err, error } = await run(['train', ...args]);
    expect(error).toBeInstanceOf(CommanderError);
    expect(err).toMatch(message);
  });

  it.each([
    [['--resolution', '64'], /\bCIFAR-10\b.*\b32x32\b.*--resolution 64\b.*--data\b/],
    [['--val-split', '0.1'], /--val-split\b.*--data\b/],
    [['--skip-bad-images'], /--skip-bad-images\b.*--data\b/],
    [['--data', 'photos', '--data-dir', 'cifar'], /--data\b.*--data-dir\b.*\bexclude\b/],
  ])('train %j: image-folder flags without --data (or with --data-dir) are usage errors, before any work', async (args, message) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'convoy-cli-')), 'run');
    const { error } = await run(['train', ...args, '--checkpoint-dir', dir]);
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });

  it.each([
    ['a side other than the data\'s', { input: { channels: 3, resolution: 28 } }, [], /--model \S+net\.json: input\.resolution: .*\b28 x 28\b.*\bCIFAR-10\b.*\b32 x 32\b/],
    ['a channel count other than the data\'s', { input: { channels: 1, resolution: 32 } }, [], /--model \S+net\.json: input\.channels: .*\b1-channel\b.*\bCIFAR-10\b.*\b3 channels\b/],
    ['an output other than the classes', { layers: [{ type: 'flatten' }, { type: 'linear', out: 7 }] }, [], /--model \S+net\.json: layers: .*\[7\].*\b10 class\b/],
    ['10 outputs for --classes cat,dog', { layers: [{ type: 'flatten' }, { type: 'linear', out: 10 }] }, ['--classes', 'cat,dog'], /--model \S+net\.json: layers: .*\[10\].*\b2 class\b/],
    ['an unknown layer type', { layers: [{ type: 'conv3d', out: 4, kernel: 3 }, { type: 'flatten' }, { type: 'linear', out: 'classes' }] }, [], /--model \S+net\.json: layers\[0\]: .*"conv3d"/],
    ['--width beside --model', {}, ['--width', '64'], /--width\b.*\brecipe\b.*\bmodel file\b/],
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
    expect((missing.error as Error).message).toMatch(/\S+none\.json\b.*\bnot found\b.*\brecipe, recipe-bn\b/);
    writeFileSync(join(root, 'bad.json'), '{ "input": ');
    const malformed = await run(['train', '--model', join(root, 'bad.json'), '--checkpoint-dir', join(root, 'run')]);
    expect(malformed.error).toBeInstanceOf(UsageError);
    expect((malformed.error as Error).message).toMatch(/\S+bad\.json\b.*\bnot valid JSON\b/);
  });

  it('validates scaling and eval flags too', async () => {
    expect((await run(['scaling', '--max-threads', '0'])).err).toMatch(/--max-threads\b.*\b1\b.*\b1024\b.*\b0\b/);
    expect((await run(['scaling', '--steps', 'x'])).err).toMatch(/--steps\b.*\bwhole number\b.*'x'/);
    expect((await run(['eval'])).err).toMatch(/missing required argument 'checkpoint'/);
  });

  it('documents every flag of the issue with its default in --help', async () => {
    const { out, error } = await run(['train', '--help']);
    expect((error as CommanderError).code).toBe('commander.helpDisplayed');
    for (const flag of [
      '--data-dir', '--threads', '--epochs', '--batch-size', '--lr', '--momentum', '--weight-decay', '--optimizer', '--schedule',
      '--width', '--augment', '--no-augment', '--seed', '--backend', '--limit-train', '--limit-test', '--max-steps', '--checkpoint-dir',
      '--resume', '--log', '--data', '--resolution', '--val-split', '--skip-bad-images', '--no-image-cache', '--label-smoothing',
      '--batch-norm-lr-scale', '--batch-norm-weight-decay', '--lookahead', '--whitening-bias-epochs',
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
    expect((error as Error).message).toMatch(/--batch-size 32\b.*\b16\b.*--lr 0\.1\b.*\b0\.05\b/);
    expect((error as Error).message).not.toMatch(/--epochs/);
  });

  it('reads a checkpoint without labelSmoothing as label smoothing 0 when resuming', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    const file = join(dir, 'latest.msgpack');
    const state = validCheckpoint();
    expect('labelSmoothing' in state.config).toBe(false);
    saveCheckpoint(file, state);
    const { error } = await run(['train', '--resume', file, '--label-smoothing', '0.1']);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/--label-smoothing 0\.1 \(the checkpoint has 0\)/);
    // nor the BatchNorm group's fields: its parameters stepped as every other one
    const group = await run(['train', '--resume', file, '--batch-norm-lr-scale', '64', '--batch-norm-weight-decay', '0']);
    expect((group.error as Error).message).toMatch(/--batch-norm-lr-scale 64 \(the checkpoint has 1\).*--batch-norm-weight-decay 0 \(the checkpoint has null\)/);
  });

  it('refuses to start over in a directory holding a run unless --overwrite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-cli-'));
    saveCheckpoint(join(dir, 'latest.msgpack'), validCheckpoint());
    const { error } = await run(['train', '--checkpoint-dir', dir]);
    expect((error as Error).message).toMatch(/\blatest\.msgpack\b.*--resume\b/);
  });

  it('refuses to resume a checkpoint whose modelSpec is not the network of its config', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'convoy-cli-')), 'latest.msgpack');
    const state = validCheckpoint();
    state.config.width = 4; // the file is consistent in itself, but --resume would build a width-4, 32x32 network from its config
    saveCheckpoint(file, state);
    const { error } = await run(['train', '--resume', file]);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/\blatest\.msgpack: .*\bmodelSpec\b.*\bconfig\b/);
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
