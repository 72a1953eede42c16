import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgram, UsageError } from '../src/cli';
import { chooseInputChannels, type ChannelSources } from '../src/inputChannels';

const none: ChannelSources = { flag: null, model: null, resume: null, packed: null };

describe('the channels --data images are decoded to', () => {
  it('the network decides (a resumed run, else the model file), then --channels, then a packed folder, else RGB', () => {
    expect(chooseInputChannels(none)).toBe(3);
    expect(chooseInputChannels({ ...none, flag: 1 })).toBe(1);
    expect(chooseInputChannels({ ...none, packed: { folder: 'p', channels: 1 } })).toBe(1);
    expect(chooseInputChannels({ ...none, model: { name: 'grey28.json', channels: 1 } })).toBe(1);
    expect(chooseInputChannels({ ...none, model: { name: 'grey28.json', channels: 1 }, flag: 1, packed: { folder: 'p', channels: 1 } })).toBe(1);
    expect(chooseInputChannels({ ...none, resume: { path: 'runs/g', channels: 1 } })).toBe(1);
  });

  it.each<[string, Partial<ChannelSources>, RegExp]>([
    ['--channels against the model file', { flag: 3, model: { name: 'grey28.json', channels: 1 } }, /--channels 3 contradicts --model grey28.json .*takes 1-channel images: drop --channels/],
    ['--channels against the resumed network', { flag: 3, resume: { path: 'runs/g', channels: 1 } }, /--channels 3 contradicts the network of runs\/g \(--resume\), which takes 1-channel images: drop --channels/],
    ['a model file against the resumed network', { model: { name: 'net.json', channels: 3 }, resume: { path: 'runs/g', channels: 1 } }, /--resume runs\/g continues a network of 1-channel images; --model net.json takes 3\. Drop --model/],
    ['a packed folder against the model file', { model: { name: 'grey28.json', channels: 1 }, packed: { folder: 'p', channels: 3 } }, /p was packed with 3-channel images, but --model grey28.json .*needs 1: pack the images again with `convoy pack <source> --channels 1/],
    ['a packed folder against --channels', { flag: 1, packed: { folder: 'p', channels: 3 } }, /p was packed with 3-channel images, but --channels 1 needs 1: .*, or drop --channels/],
    ['a network of channels images do not decode to', { model: { name: 'four.json', channels: 4 } }, /--model four.json \(its input.channels\) takes 4-channel images, but images decode to 1 \(grey\) or 3 \(RGB\) channels/],
  ])('%s is a usage error saying what to do', (_what, sources, message) => {
    const call = () => chooseInputChannels({ ...none, ...sources });
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });
});

describe('convoy train --channels', () => {
  async function train(args: string[]): Promise<unknown> {
    const program = createProgram({ writeOut: () => undefined, writeErr: () => undefined, onExitCode: () => undefined });
    return program.parseAsync(['node', 'convoy', 'train', '--checkpoint-dir', join(mkdtempSync(join(tmpdir(), 'convoy-channels-')), 'run'), ...args]).then(() => null, (e: unknown) => e);
  }

  it('is a usage error without --data (CIFAR-10 is RGB), naming the grey way to it', async () => {
    const error = await train(['--channels', '1']);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/--channels needs --data .*convoy pack <CIFAR-10 folder> --resolution 32 --channels 1/);
  });

  it('that contradicts the model file fails before any image is read', async () => {
    const error = await train(['--data', join(tmpdir(), 'no-such-folder'), '--model', join(__dirname, '..', '..', '..', 'models', 'grey28.json'), '--channels', '3']);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/--channels 3 contradicts --model .*grey28.json \(its input.channels\), which takes 1-channel images/);
  });

  it('takes 1 or 3 only', async () => {
    expect(String(await train(['--data', 'x', '--channels', '2']))).toMatch(/--channels must be one of 1, 3; got '2'/);
  });
});
