import type { LayerListSpec, LayerSpec } from '../layerList';

/**
 * A model file as a person would write it: one line per layer (a residual's body indented under
 * it), so that `convoy model recipe > net.json` gives a file that reads and edits by hand.
 */
export function formatModelFile(spec: LayerListSpec): string {
  const inline = (value: unknown) => JSON.stringify(value).replace(/^\{"/, '{ "').replace(/\}$/, ' }').replace(/,"/g, ', "').replace(/":/g, '": ');
  const layers = (list: LayerSpec[], indent: string): string =>
    list.map((layer) => {
      if (!Array.isArray(layer.layers)) return `${indent}${inline(layer)}`;
      const { layers: body, ...rest } = layer;
      const head = inline(rest).replace(/ \}$/, ', "layers": [');
      return `${head.replace(/^/, indent)}\n${layers(body as LayerSpec[], `${indent}  `)}\n${indent}] }`;
    }).join(',\n');
  const top = [
    ...(spec.description !== undefined ? [`  "description": ${JSON.stringify(spec.description)}`] : []),
    `  "input": ${inline(spec.input)}`,
    `  "layers": [\n${layers(spec.layers, '    ')}\n  ]`,
  ];
  return `{\n${top.join(',\n')}\n}\n`;
}
