import { SingleBar } from 'cli-progress';

export type DownloadPhase = 'download' | 'verify' | 'extract' | 'done';

export interface DownloadProgress {
  phase: DownloadPhase;
  /** Bytes of the archive on disk so far (including a resumed part). */
  receivedBytes: number;
  /** Archive size when the server said it; undefined otherwise. */
  totalBytes?: number;
  /** Bytes that were already on disk from an earlier, interrupted attempt. */
  resumedFromBytes?: number;
}

export type ProgressHandler = (event: DownloadProgress) => void;

const MB = 1024 * 1024;

/**
 * The default download progress display: a cli-progress bar when `stream` is a terminal, plain
 * lines every 10% otherwise (logs and CI have no carriage returns to redraw a bar).
 */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): ProgressHandler {
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}

function barProgress(stream: NodeJS.WriteStream): ProgressHandler {
  let bar: SingleBar | null = null;
  return (event) => {
    if (event.phase === 'download') {
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: 'CIFAR-10 download [{bar}] {percentage}% | {mb} MB | ETA {eta}s',
          hideCursor: true,
        });
        bar.start(event.totalBytes ?? 0, event.receivedBytes, { mb: (event.receivedBytes / MB).toFixed(1) });
      }
      if (event.totalBytes !== undefined) bar.setTotal(event.totalBytes);
      bar.update(event.receivedBytes, { mb: (event.receivedBytes / MB).toFixed(1) });
      return;
    }
    if (bar) {
      bar.stop();
      bar = null;
    }
    stream.write(phaseLine(event));
  };
}

function lineProgress(stream: NodeJS.WriteStream): ProgressHandler {
  let lastTenth = -1;
  return (event) => {
    if (event.phase !== 'download') {
      stream.write(phaseLine(event));
      return;
    }
    if (lastTenth === -1 && event.resumedFromBytes) {
      stream.write(`CIFAR-10 download: resuming after ${(event.resumedFromBytes / MB).toFixed(1)} MB\n`);
    }
    const total = event.totalBytes;
    const tenth = total ? Math.floor((10 * event.receivedBytes) / total) : Math.floor(event.receivedBytes / (16 * MB));
    if (tenth > lastTenth) {
      lastTenth = tenth;
      const size = `${(event.receivedBytes / MB).toFixed(1)} MB`;
      stream.write(total ? `CIFAR-10 download: ${tenth * 10}% (${size} of ${(total / MB).toFixed(1)} MB)\n` : `CIFAR-10 download: ${size}\n`);
    }
  };
}

function phaseLine(event: DownloadProgress): string {
  switch (event.phase) {
    case 'verify':
      return 'CIFAR-10 download: verifying MD5\n';
    case 'extract':
      return 'CIFAR-10 download: extracting\n';
    default:
      return 'CIFAR-10 download: done\n';
  }
}

/** Progress of work counted in items (images decoded). */
export interface CountProgress {
  done: number;
  total: number;
}

export type CountProgressHandler = (event: CountProgress) => void;

/**
 * A progress display for `label` (e.g. "Decoding images"): a cli-progress bar with items/s on a
 * terminal, plain lines every 10% otherwise. The bar stops itself when done reaches total.
 */
export function consoleCountProgress(label: string, stream: NodeJS.WriteStream = process.stderr): CountProgressHandler {
  if (stream.isTTY) {
    let bar: SingleBar | null = null;
    let started = Date.now();
    return ({ done, total }) => {
      if (!bar) {
        bar = new SingleBar({ stream, format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta}s`, hideCursor: true });
        bar.start(total, done, { rate: 0 });
        started = Date.now();
      }
      bar.update(done, { rate: Math.round(done / Math.max(1e-3, (Date.now() - started) / 1000)) });
      if (done >= total) bar.stop();
    };
  }
  let lastTenth = -1;
  let started = Date.now();
  return ({ done, total }) => {
    if (lastTenth === -1) started = Date.now();
    const tenth = total === 0 ? 10 : Math.floor((10 * done) / total);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      const seconds = (Date.now() - started) / 1000;
      stream.write(`${label}: ${tenth * 10}% (${formatInt(done)} of ${formatInt(total)}${seconds > 0.5 ? `, ${formatInt(Math.round(done / seconds))}/s` : ''})\n`);
    }
  };
}

function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}
