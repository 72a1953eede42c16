import { Option, type Command } from 'commander';
import { checkModelFile, formatModelFile, formatModelSummary, MAX_RECIPE_WIDTH, presetModelFile } from '@convoy/nn';
import { integerFlag } from '../flagParsers';
import { readModelSource } from '../modelSource';

interface PresetOptions {
  resolution: number;
  width: number;
  channels: number;
}

interface SummaryOptions extends PresetOptions {
  classes: number;
}

const presetFlags = (cmd: Command): Command =>
  cmd
    .addOption(new Option('--resolution <R>', 'side of the square input images').argParser(integerFlag('--resolution', 8, 4096)).default(32))
    .addOption(new Option('--width <n>', 'feature maps of the first block (doubling per block, at most 512)').argParser(integerFlag('--width', 1, MAX_RECIPE_WIDTH)).default(32))
    .addOption(new Option('--channels <n>', 'input channels (3 for RGB, 1 for grey)').argParser(integerFlag('--channels', 1, 64)).default(3));

/**
 * `convoy model recipe | recipe-bn`: a preset as a model file on stdout, to edit and train with
 * `--model`; `convoy model summary <file>`: the layer table of a model file or preset.
 */
export function addModelCommand(program: Command): void {
  const model = program
    .command('model')
    .description('model files: print a preset (recipe, recipe-bn) as JSON, or the layer table of a file');
  for (const [name, what] of [['recipe', 'the recipe network'], ['recipe-bn', 'the recipe network with a BatchNorm after every conv']] as const) {
    presetFlags(model.command(name).description(`print ${what} as a model file (JSON) for these options`)).action((opts: PresetOptions) => {
      const spec = presetModelFile(name, { resolution: opts.resolution, width: opts.width, inChannels: opts.channels });
      process.stdout.write(formatModelFile(spec as NonNullable<typeof spec>));
    });
  }
  presetFlags(
    model
      .command('summary')
      .description('check a model file and print its layers: output shape, parameters and multiply-adds per image')
      .argument('<model>', 'a model file (JSON) or a preset name (recipe, recipe-bn: built for --resolution, --width, --channels)'),
  )
    .addOption(new Option('--classes <n>', 'class count that "out": "classes" stands for').argParser(integerFlag('--classes', 2, 100_000)).default(10))
    .action((name: string, opts: SummaryOptions) => {
      const { json } = readModelSource(name, { resolution: opts.resolution, width: opts.width, inChannels: opts.channels });
      process.stdout.write(`${formatModelSummary(checkModelFile(json, opts.classes), opts.classes)}\n`);
    });
}
