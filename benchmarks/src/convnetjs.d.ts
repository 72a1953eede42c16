// The part of ConvNetJS 0.3 (no bundled types) that the step comparison uses.
declare module 'convnetjs' {
  export class Vol {
    constructor(sx: number, sy: number, depth: number, fill?: number);
    w: Float64Array | number[];
  }
  export type LayerDef = Record<string, string | number>;
  export class Net {
    makeLayers(defs: LayerDef[]): void;
  }
  export class SGDTrainer {
    constructor(net: Net, options: Record<string, string | number>);
    train(x: Vol, label: number): { loss: number };
  }
}
