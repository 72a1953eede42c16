import { basename, dirname, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import { modelInputOf } from '@convoy/nn';
import { loadCheckpoint, writeFileAtomic } from '../checkpoint';
import { userPath } from '../config';
import { choiceFlag } from '../flagParsers';
import { encodeSafetensors } from '../export/safetensors';
import { encodeOnnxModel, onnxGraphOf } from '../export/onnx';
import { exportedInputShape, exportedModel, exportedStateDict, exportMetadata, type ExportSource } from '../export/source';

export const EXPORT_FORMATS = ['safetensors', 'onnx'] as const;
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

/**
 * A network as an ONNX model (opset 17) of its eval-mode forward (see export/onnx.ts): input
 * `input` [N, C, R, R] of pixels normalised as in training, output `logits` [N, classes]; the
 * self-description as metadata_props, as in the safetensors export.
 */
export function exportOnnx(source: ExportSource): Uint8Array {
  const model = exportedModel(source);
  const graph = onnxGraphOf(model, exportedInputShape(source), exportedStateDict(source, model));
  const doc = 'convoy network (eval mode). input: pixels p in [0, 255] as (p / 255 - mean[c]) / std[c], NCHW; output: logits; see metadata_props';
  return encodeOnnxModel(graph, exportMetadata(source), doc);
}

const WRITERS: Record<ExportFormat, (source: ExportSource) => Uint8Array> = { safetensors: exportSafetensors, onnx: exportOnnx };

/** Default output: beside the checkpoint, same name, the format's extension (`runs/x/latest.msgpack` -> `runs/x/latest.onnx`). */
function defaultOutput(checkpointPath: string, format: ExportFormat): string {
  return join(dirname(checkpointPath), `${basename(checkpointPath, extname(checkpointPath))}.${format}`);
}

function exportCheckpoint(checkpoint: string, opts: ExportOptions): void {
  const { path, state } = loadCheckpoint(userPath(checkpoint));
  const output = opts.output ? userPath(opts.output) : defaultOutput(path, opts.format);
  const bytes = WRITERS[opts.format](state);
  writeFileAtomic(output, bytes);
  const buffers = state.buffers.entries.length > 0 ? `, ${state.buffers.entries.length} buffers (BatchNorm statistics)` : '';
  process.stdout.write(
    `${output}: ${opts.format}, ${state.parameters.length} parameter tensors (${state.params.length} values)${buffers}; ` +
      `${state.classNames.length} classes (${state.classNames.join(', ')}), ${modelInputOf(state.modelSpec).channels}x${state.resolution}x${state.resolution} input (channels x height x width); from ${path}\n`,
  );
}

/** `convoy export <checkpoint>`: the network for PyTorch (safetensors) or any ONNX runtime. */
export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      "write a checkpoint's network for other frameworks: safetensors (PyTorch state_dict names; the network's JSON, class names, resolution and normalisation as metadata) " +
        'or ONNX (opset 17, eval mode, the same metadata)',
    )
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack')
    .addOption(new Option('--format <name>', `output format: ${EXPORT_FORMATS.join(' | ')}`).argParser(choiceFlag('--format', EXPORT_FORMATS)).default('safetensors'))
    .option('-o, --output <file>', 'where to write (default: beside the checkpoint, .safetensors or .onnx instead of .msgpack)')
    .action((checkpoint: string, opts: ExportOptions) => exportCheckpoint(checkpoint, opts));
}
