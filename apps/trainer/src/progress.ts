import { SingleBar } from 'cli-progress';

export interface EpochProgress {
  epoch: number;
  epochs: number;
  stepInEpoch: number;
  stepsInEpoch: number;
  loss: number;
  imagesPerSecond: number;
}

/** What the training loop tells the user while it runs. */
export interface ProgressReporter {
  startEpoch(epoch: number, epochs: number, stepsInEpoch: number, firstStep: number): void;
  update(progress: EpochProgress): void;
  endEpoch(): void;
  /** A line for the user (epoch summaries, warnings); never garbles a bar. */
  log(line: string): void;
}

function etaSeconds(p: EpochProgress, batchImages: number): number {
  const left = (p.stepsInEpoch - p.stepInEpoch) * batchImages;
  return p.imagesPerSecond > 0 ? left / p.imagesPerSecond : 0;
}

/** `45s`, `2m00s`, `1h05m00s`: rounded to whole seconds first, so 119.6 s is `2m00s`, never `1m60s`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${sec}s`;
  return m > 0 ? `${m}m${sec}s` : `${total}s`;
}

/** A cli-progress bar per epoch (on stderr), for terminals. */
export class TerminalProgress implements ProgressReporter {
  private bar: SingleBar | null = null;

  constructor(
    private readonly batchImages: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  startEpoch(epoch: number, epochs: number, stepsInEpoch: number, firstStep: number): void {
    this.bar = new SingleBar({
      stream: this.stream,
      // Our ETA, not cli-progress's eta_formatted: that one rounds the seconds part on its own and can say `1m60s`.
      format: `epoch ${epoch + 1}/${epochs} [{bar}] {value}/{total} | loss {loss} | {ips} img/s | ETA {etaText}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    });
    this.bar.start(stepsInEpoch, firstStep, { loss: '-', ips: '-', etaText: '-' });
  }

  update(p: EpochProgress): void {
    this.bar?.update(p.stepInEpoch, { loss: p.loss.toFixed(4), ips: p.imagesPerSecond.toFixed(1), etaText: formatSeconds(etaSeconds(p, this.batchImages)) });
  }

  endEpoch(): void {
    this.bar?.stop();
    this.bar = null;
  }

  log(line: string): void {
    // cli-progress redraws on its own line; print between bars only (epoch summaries come after endEpoch).
    process.stdout.write(`${line}\n`);
  }
}

/** Plain lines about every tenth of an epoch, for logs and pipes (no escape codes). */
export class LineProgress implements ProgressReporter {
  private every = 1;
  private batchImages = 0;

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  startEpoch(epoch: number, epochs: number, stepsInEpoch: number, firstStep: number): void {
    this.every = Math.max(1, Math.floor(stepsInEpoch / 10));
    const from = firstStep > 0 ? ` (resuming at batch ${firstStep})` : '';
    this.write(`epoch ${epoch + 1}/${epochs}: ${stepsInEpoch} batches${from}`);
  }

  /** Images per global batch, for the ETA. */
  setBatchImages(n: number): void {
    this.batchImages = n;
  }

  update(p: EpochProgress): void {
    if (p.stepInEpoch % this.every !== 0 && p.stepInEpoch !== p.stepsInEpoch) return;
    const eta = formatSeconds(etaSeconds(p, this.batchImages));
    this.write(
      `  epoch ${p.epoch + 1}/${p.epochs} batch ${p.stepInEpoch}/${p.stepsInEpoch} | loss ${p.loss.toFixed(4)} | ` +
        `${p.imagesPerSecond.toFixed(1)} img/s | ETA ${eta}`,
    );
  }

  endEpoch(): void {}

  log(line: string): void {
    this.write(line);
  }
}

/** Silent, for tests and `--json` runs. */
export class NoProgress implements ProgressReporter {
  startEpoch(): void {}
  update(): void {}
  endEpoch(): void {}
  log(): void {}
}

export function createProgress(batchImages: number): ProgressReporter {
  if (process.stderr.isTTY) return new TerminalProgress(batchImages);
  const lines = new LineProgress();
  lines.setBatchImages(batchImages);
  return lines;
}
