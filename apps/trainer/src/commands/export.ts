import { basename, dirname, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import type { CheckpointState } from '@convoy/run';
import { loadCheckpoint, writeFileAtomic } from '../checkpoint';
import { userPath } from '../config';
import { choiceFlag } from '../flagParsers';
import { encodeSafetensors } from '../safetensors';

export const EXPORT_FORMATS = ['safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  output?: string;
}

/**
 * A checkpoint's parameters as safetensors: one F32 tensor per parameter under its PyTorch
 * `state_dict` name (convoy's parameter names are the recipe network's state_dict keys), in
 * parameter order, and the model's self-description as metadata (JSON strings, since safetensors
 * metadata values are strings): modelSpec, classNames, resolution, normalization.
 */
export function exportSafetensors(state: Pick<CheckpointState, 'modelSpec' | 'classNames' | 'resolution' | 'normalization' | 'parameters' | 'params'>): Uint8Array {
  const tensors = state.parameters.map((p) => ({ name: p.name, shape: p.shape, data: state.params.subarray(p.offset, p.offset + p.size) }));
  return encodeSafetensors(tensors, {
    format: 'pt',
    producer: 'convoy',
    modelSpec: JSON.stringify(state.modelSpec),
    classNames: JSON.stringify(state.classNames),
    resolution: String(state.resolution),
    normalization: JSON.stringify(state.normalization),
  });
}

/** Default output: beside the checkpoint, same name, `.safetensors` (`runs/x/latest.msgpack` -> `runs/x/latest.safetensors`). */
function defaultOutput(checkpointPath: string): string {
  return join(dirname(checkpointPath), `${basename(checkpointPath, extname(checkpointPath))}.safetensors`);
}

function exportCheckpoint(checkpoint: string, opts: ExportOptions): void {
  const { path, state } = loadCheckpoint(userPath(checkpoint));
  const output = opts.output ? userPath(opts.output) : defaultOutput(path);
  const bytes = exportSafetensors(state);
  writeFileAtomic(output, bytes);
  process.stdout.write(
    `${output}: ${state.parameters.length} tensors, ${state.params.length} parameters (${state.classNames.length} classes: ${state.classNames.join(', ')}; ` +
      `${state.resolution}x${state.resolution} input) from ${path}\n`,
  );
}

/** `convoy export <checkpoint>`: the weights for PyTorch. */
export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description("write a checkpoint's weights for PyTorch: safetensors under state_dict names, with class names, resolution, normalisation and model spec as metadata")
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack')
    .addOption(new Option('--format <name>', `output format: ${EXPORT_FORMATS.join(' | ')}`).argParser(choiceFlag('--format', EXPORT_FORMATS)).default('safetensors'))
    .option('-o, --output <file>', 'where to write (default: beside the checkpoint, .safetensors instead of .msgpack)')
    .action((checkpoint: string, opts: ExportOptions) => exportCheckpoint(checkpoint, opts));
}
