import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { formatCount } from './cifar10Format';
import { DatasetError } from './datasetError';
import { ProgressHandler } from './progress';

export interface HttpDownloadOptions {
  /** Abort when no byte arrives for this long (connect included). The partial file is kept. */
  stallTimeoutMs: number;
  onProgress?: ProgressHandler;
  maxRedirects?: number;
}

/**
 * Downloads `url` into `partialPath`, resuming from the bytes already there with an HTTP Range
 * request; a server that ignores Range (200), answers another range (206) or refuses it (416)
 * makes us start over. Any failure leaves the partial file for the next attempt to resume from.
 * Resolves when the server's full length (when it sent one) is on disk.
 */
export async function downloadToFile(url: string, partialPath: string, options: HttpDownloadOptions): Promise<void> {
  await downloadAttempt(url, partialPath, options, options.maxRedirects ?? 5, true);
}

async function downloadAttempt(
  url: string,
  partialPath: string,
  options: HttpDownloadOptions,
  redirectsLeft: number,
  mayRetryRange: boolean,
): Promise<void> {
  const have = fileSize(partialPath);
  const { request, response, stalled } = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, options.stallTimeoutMs);
  const status = response.statusCode ?? 0;

  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirectsLeft <= 0) throw new DatasetError('DOWNLOAD_FAILED', `Download of ${url} failed: too many redirects. ${retryHint(url)}`);
    return downloadAttempt(new URL(response.headers.location, url).toString(), partialPath, options, redirectsLeft - 1, mayRetryRange);
  }
  const resumable = status === 206 && have > 0 && rangeStart(response.headers['content-range']) === have;
  if ((status === 416 || (status === 206 && !resumable)) && have > 0 && mayRetryRange) {
    // 416: the partial file is as long as (or longer than) the archive; 206 for another range than
    // asked: the server cannot be trusted to resume. Either way start afresh; the MD5 decides.
    response.resume();
    fs.rmSync(partialPath, { force: true });
    return downloadAttempt(url, partialPath, options, redirectsLeft, false);
  }
  let offset: number;
  if (resumable) {
    offset = have;
  } else if (status === 200) {
    offset = 0;
  } else {
    response.resume();
    throw new DatasetError(
      'DOWNLOAD_FAILED',
      `Download of ${url} failed: the server answered HTTP ${status} ${response.statusMessage ?? ''}, expected 200 (or 206 to resume). ${retryHint(url)}`,
    );
  }

  const length = Number(response.headers['content-length']);
  const totalBytes = Number.isFinite(length) && response.headers['content-length'] !== undefined ? offset + length : undefined;
  let received = offset;
  options.onProgress?.({ phase: 'download', receivedBytes: received, totalBytes, resumedFromBytes: offset || undefined });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      options.onProgress?.({ phase: 'download', receivedBytes: received, totalBytes });
      done(null, chunk);
    },
  });
  try {
    await pipeline(response, counter, fs.createWriteStream(partialPath, { flags: offset > 0 ? 'a' : 'w' }));
  } catch (err) {
    request.destroy();
    // What reached the disk, not what passed the counter: the write may not have landed.
    const onDisk = fileSize(partialPath);
    const kept = onDisk > 0 ? ` ${formatCount(onDisk)} bytes are kept in ${partialPath}: run again to resume.` : ' Run again to start over.';
    throw downloadError(err, stalled(), url, options.stallTimeoutMs, kept);
  }
  if (totalBytes !== undefined && received !== totalBytes) {
    throw new DatasetError(
      'DOWNLOAD_FAILED',
      `Download of ${url} ended after ${formatCount(received)} of ${formatCount(totalBytes)} bytes (the connection closed early). ` +
        `The part is kept in ${partialPath}: run again to resume.`,
    );
  }
}

interface Exchange {
  request: http.ClientRequest;
  response: http.IncomingMessage;
  /** True once the idle timeout fired (the errors that follow are then "aborted"/"socket hang up"). */
  stalled: () => boolean;
}

// One GET with an idle-socket timeout that stays armed while the body streams: a server that
// stops sending mid-file is caught as surely as one that never answers.
function get(url: string, headers: Record<string, string>, stallTimeoutMs: number): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new DatasetError('DOWNLOAD_FAILED', `Download URL ${JSON.stringify(url)} is not a valid URL. ${retryHint(url)}`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new DatasetError('DOWNLOAD_FAILED', `Download URL ${url} must be http: or https:, got ${parsed.protocol}. ${retryHint(url)}`));
      return;
    }
    let stalled = false;
    const request = client.get(parsed, { headers: { 'User-Agent': 'convoy-data', ...headers } });
    request.setTimeout(stallTimeoutMs, () => {
      stalled = true;
      request.destroy();
    });
    request.once('response', (response) => resolve({ request, response, stalled: () => stalled }));
    request.on('error', (err) => reject(downloadError(err, stalled, url, stallTimeoutMs, '')));
  });
}

function downloadError(err: unknown, stalled: boolean, url: string, stallTimeoutMs: number, kept: string): Error {
  if (err instanceof DatasetError) return err;
  if (stalled) {
    return new DatasetError('DOWNLOAD_STALLED', `Download of ${url} stalled: no data for ${stallTimeoutMs / 1000} s.${kept} ${retryHint(url)}`);
  }
  // Not `instanceof Error`: errors from node's http may come from another realm (jest, vm).
  const reason = typeof (err as Error)?.message === 'string' ? (err as Error).message : String(err);
  return new DatasetError('DOWNLOAD_FAILED', `Download of ${url} failed: ${reason}.${kept} ${retryHint(url)}`);
}

function retryHint(url: string): string {
  return (
    `Check the network and run again, or download ${url} yourself, extract it and pass --data-dir ` +
    `(or set CIFAR10_DIR) to the cifar-10-batches-bin folder; --no-download turns downloading off.`
  );
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function rangeStart(contentRange: string | undefined): number | undefined {
  const match = contentRange && /^bytes (\d+)-/.exec(contentRange);
  return match ? Number(match[1]) : undefined;
}
