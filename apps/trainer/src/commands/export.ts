import { basename, dirname, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import { loadCheckpoint, writeFileAtomic } from '../checkpoint';
import { userPath } from '../config';
import { choiceFlag } from '../flagParsers';
import { encodeSafetensors } from '../export/safetensors';
import { exportedStateDict, exportMetadata, type ExportSource } from '../export/source';

export const EXPORT_FORMATS = ['safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  output?: string;
}

/**
 * A network's tensors as safetensors: one tensor per entry of PyTorch's `state_dict` of the same
 * network, under its key (convoy's parameter and buffer names are those keys), in state_dict order,
 * BatchNorm's `num_batches_tracked` as int64; and the network's self-description as metadata
 * (JSON strings, since safetensors metadata values are strings): modelSpec (the JSON
 * tools/pytorch/convoy_export.py rebuilds the network from), classNames, resolution, normalization.
 */
export function exportSafetensors(source: ExportSource): Uint8Array {
  return encodeSafetensors(exportedStateDict(source), { format: 'pt', producer: 'convoy', ...exportMetadata(source) });
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
