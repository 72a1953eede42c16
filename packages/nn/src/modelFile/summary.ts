import type { CheckedModelFile } from './parse';

/**
 * The layer table of a checked model file, as torchinfo's or Keras's summary(): one row per layer
 * (a residual's body indented under it) with its output shape per image, its parameters (those a
 * `frozen` field keeps from training counted beside them) and its multiply-adds per image
 * (convolutions and linear layers), then the totals.
 */
export function formatModelSummary(checked: CheckedModelFile, classes: number): string {
  const header = ['layer', 'type', 'output shape', 'parameters', 'multiply-adds'];
  const parameters = (r: { parameters: number; frozen: number }) => (r.frozen > 0 ? `${group(r.parameters)}, ${group(r.frozen)} frozen` : group(r.parameters));
  const body = checked.rows.map((r) => [
    `${'  '.repeat(r.depth)}${r.path}`,
    r.type,
    `[${r.outShape.join(', ')}]`,
    r.type === 'residual' ? `(${parameters(r)})` : parameters(r),
    r.type === 'residual' ? `(${group(r.multiplyAdds)})` : group(r.multiplyAdds),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const { channels, resolution } = checked.spec.input;
  return [
    `input [${channels}, ${resolution}, ${resolution}], ${classes} classes`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    `total: ${group(checked.parameters)} parameters${checked.frozen > 0 ? ` (${group(checked.parameters - checked.frozen)} trainable, ${group(checked.frozen)} frozen)` : ''}, ${group(checked.multiplyAdds)} multiply-adds per image (forward)`,
  ].join('\n');
}

function group(n: number): string {
  return n.toLocaleString('en-US');
}
