import { describeCollapse, type Collapse, type RunConfig } from '@convoy/run';

type AdviceConfig = Pick<RunConfig, 'lr' | 'warmup' | 'seed' | 'schedule'>;

/**
 * The log's line for an epoch at chance: what was seen and what to try. A network without
 * normalisation at a short schedule's peak learning rate stalls or dies (the loss returns to that of
 * a constant guess), so a lower peak rate and a longer warm-up come first; another seed often
 * trains where one did not.
 */
export function collapseWarning(collapse: Collapse, config: AdviceConfig): string {
  return `WARNING: epoch ${collapse.epoch} is at chance: ${describeCollapse(collapse)}. The network is not learning. ${collapseAdvice(config)}`;
}

/** What to try after a collapse, with this run's values. */
export function collapseAdvice(config: AdviceConfig): string {
  const warmsUp = config.schedule === 'onecycle' || config.schedule === 'cosine' || config.schedule === 'linear';
  const longerWarmup = config.warmup < 0.5 ? 0.5 : Math.min(0.9, Number((config.warmup + 0.2).toFixed(2)));
  return (
    `Try a lower --lr (e.g. ${Number((config.lr / 2).toPrecision(3))}; this run: ${config.lr}), ` +
    (warmsUp ? `a longer warm-up (--warmup ${longerWarmup}; this run: ${config.warmup}), ` : '') +
    `or another --seed (this run: ${config.seed}).`
  );
}
