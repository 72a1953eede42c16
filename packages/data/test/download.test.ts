import { spawn, spawnSync } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo, Socket } from 'net';
import * as path from 'path';
import * as tar from 'tar';
import { DatasetError, DownloadProgress, loadCifar10, partialArchivePath } from '../src';
import { CIFAR10_ARCHIVE_FOLDER, CIFAR10_META_FILE, CIFAR10_RECORD_BYTES } from '../src/cifar10Format';
import { makeTempDir, writeDatasetFolder } from './helpers';

// Everything here runs against a server on 127.0.0.1 serving archives this file builds;
// the real dataset URL is never contacted.
const PER_FILE = 3;

let root: string;
let archive: Buffer;
let archiveMd5: string;
let badTarArchive: Buffer; // a valid tar.gz whose test_batch.bin is one record short
let server: http.Server;
let base: string;
const sockets = new Set<Socket>();
const requests: { url: string; range?: string }[] = [];

function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

async function buildArchive(dir: string, mutate?: (folder: string) => void): Promise<Buffer> {
  const folder = path.join(dir, CIFAR10_ARCHIVE_FOLDER);
  writeDatasetFolder(folder, PER_FILE);
  // Random pixels keep the archive incompressible (~60 kB), so "half of it" is many TCP chunks.
  fs.writeFileSync(path.join(folder, 'data_batch_1.bin'), withValidLabels(randomBytes(PER_FILE * CIFAR10_RECORD_BYTES)));
  mutate?.(folder);
  const file = path.join(dir, 'archive.tar.gz');
  await tar.c({ gzip: true, file, cwd: dir }, [CIFAR10_ARCHIVE_FOLDER]);
  return fs.readFileSync(file);
}

function withValidLabels(records: Buffer): Buffer {
  for (let r = 0; r * CIFAR10_RECORD_BYTES < records.length; r++) records[r * CIFAR10_RECORD_BYTES] %= 10;
  return records;
}

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '';
  requests.push({ url, range: req.headers.range });
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  switch (url) {
    case '/good': {
      if (range) {
        const start = Number(range[1]);
        if (start >= archive.length) {
          res.writeHead(416, { 'Content-Range': `bytes */${archive.length}` }).end();
          return;
        }
        res.writeHead(206, { 'Content-Length': archive.length - start, 'Content-Range': `bytes ${start}-${archive.length - 1}/${archive.length}` });
        res.end(archive.subarray(start));
        return;
      }
      res.writeHead(200, { 'Content-Length': archive.length }).end(archive);
      return;
    }
    case '/wrong-range':
      if (range) {
        // Answers a range request with bytes from 0, labelled as such: must not be appended.
        res.writeHead(206, { 'Content-Length': archive.length, 'Content-Range': `bytes 0-${archive.length - 1}/${archive.length}` }).end(archive);
        return;
      }
      res.writeHead(200, { 'Content-Length': archive.length }).end(archive);
      return;
    case '/no-range':
      res.writeHead(200, { 'Content-Length': archive.length }).end(archive);
      return;
    case '/corrupt': {
      const bad = Buffer.from(archive);
      bad[bad.length >> 1] ^= 0xff;
      res.writeHead(200, { 'Content-Length': bad.length }).end(bad);
      return;
    }
    case '/stall':
      // Half the archive, then silence with the connection held open.
      res.writeHead(200, { 'Content-Length': archive.length });
      res.write(archive.subarray(0, archive.length >> 1));
      return;
    case '/silent':
      return; // never answers
    case '/cut':
      res.writeHead(200, { 'Content-Length': archive.length });
      // Half the archive, then the connection drops (after a pause, so the client has written it).
      res.write(archive.subarray(0, archive.length >> 1), () => setTimeout(() => req.socket.destroy(), 150));
      return;
    case '/not-a-tar':
      res.writeHead(200).end(Buffer.from('this is not a tar.gz archive at all'));
      return;
    case '/bad-content':
      res.writeHead(200, { 'Content-Length': badTarArchive.length }).end(badTarArchive);
      return;
    case '/redirect':
      res.writeHead(302, { Location: '/good' }).end();
      return;
    default:
      res.writeHead(404).end('not found');
  }
}

beforeAll(async () => {
  root = makeTempDir('convoy-download-');
  archive = await buildArchive(makeTempDir('convoy-archive-'));
  archiveMd5 = md5(archive);
  badTarArchive = await buildArchive(makeTempDir('convoy-archive-'), (folder) =>
    fs.truncateSync(path.join(folder, 'test_batch.bin'), (PER_FILE - 1) * CIFAR10_RECORD_BYTES),
  );
  server = http.createServer(serve);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(root, { recursive: true, force: true });
});

let caseNo = 0;
function freshTarget(): string {
  return path.join(root, `case-${++caseNo}`, 'cifar-10');
}

function load(target: string, route: string, extra: Partial<Parameters<typeof loadCifar10>[0]> = {}) {
  return loadCifar10({
    cacheDir: target,
    env: {},
    url: base + route,
    md5: archiveMd5,
    recordsPerFile: PER_FILE,
    stallTimeoutMs: 300,
    onProgress: () => undefined,
    ...extra,
  });
}

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<DatasetError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  expect((err as DatasetError).code).toBe(code);
  if (pattern) expect((err as Error).message).toMatch(pattern);
  return err as DatasetError;
}

/** What an interrupted attempt may leave: only the partial archive, never the target or an extraction folder. */
function leftovers(target: string): string[] {
  return fs.readdirSync(path.dirname(target)).sort();
}

describe('download into the cache', () => {
  test('downloads, verifies, extracts and moves into place; the next load reads the cache without a request', async () => {
    const target = freshTarget();
    const events: DownloadProgress[] = [];
    const data = await load(target, '/good', { onProgress: (e) => events.push(e) });
    expect(data.dataDir).toBe(target);
    expect(data.train.count).toBe(5 * PER_FILE);
    expect(data.test.count).toBe(PER_FILE);
    expect(fs.existsSync(path.join(target, CIFAR10_META_FILE))).toBe(true);
    expect(leftovers(target)).toEqual(['cifar-10']);
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['download', 'verify', 'extract', 'done']);
    const last = events.filter((e) => e.phase === 'download').pop()!;
    expect(last).toMatchObject({ receivedBytes: archive.length, totalBytes: archive.length });

    const before = requests.length;
    const again = await load(target, '/good');
    expect(requests.length).toBe(before);
    expect(Buffer.from(again.train.images).equals(Buffer.from(data.train.images))).toBe(true);
  });

  test('follows a redirect', async () => {
    const target = freshTarget();
    await expect(load(target, '/redirect')).resolves.toMatchObject({ dataDir: target });
  });

  test('a corrupt archive (wrong MD5) is rejected and deleted; no folder appears', async () => {
    const target = freshTarget();
    await expectCode(load(target, '/corrupt'), 'CHECKSUM_MISMATCH', new RegExp(`expected ${archiveMd5}.*has been deleted.*run again`));
    expect(leftovers(target)).toEqual([]);
  });

  test('a stalled download times out, keeps only the partial archive, and the next run resumes it with a Range request', async () => {
    const target = freshTarget();
    const started = Date.now();
    await expectCode(load(target, '/stall'), 'DOWNLOAD_STALLED', /stalled: no data for 0.3 s.*kept in .*run again to resume/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(leftovers(target)).toEqual(['cifar-10.tar.gz.partial']);
    const half = archive.length >> 1;
    expect(fs.statSync(partialArchivePath(target)).size).toBe(half);

    const events: DownloadProgress[] = [];
    const data = await load(target, '/good', { onProgress: (e) => events.push(e) });
    expect(requests[requests.length - 1]).toEqual({ url: '/good', range: `bytes=${half}-` });
    expect(events[0]).toMatchObject({ phase: 'download', receivedBytes: half, resumedFromBytes: half, totalBytes: archive.length });
    expect(data.train.count).toBe(5 * PER_FILE);
    expect(leftovers(target)).toEqual(['cifar-10']);
  });

  test('a download process killed mid-transfer (SIGKILL) leaves only the partial archive; the next run resumes it', async () => {
    const target = freshTarget();
    const child = spawn(process.execPath, [path.join(__dirname, 'support', 'runTs.js'), path.join(__dirname, 'support', 'downloadChild.ts'), target, `${base}/stall`, archiveMd5], {
      stdio: 'ignore',
    });
    try {
      const partial = partialArchivePath(target);
      const deadline = Date.now() + 20_000;
      while (!(fs.existsSync(partial) && fs.statSync(partial).size === archive.length >> 1)) {
        if (Date.now() > deadline) throw new Error('child never wrote the first half of the archive');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(leftovers(target)).toEqual(['cifar-10.tar.gz.partial']);
    await expect(load(target, '/good')).resolves.toMatchObject({ dataDir: target });
    expect(requests[requests.length - 1].range).toBe(`bytes=${archive.length >> 1}-`);
    expect(leftovers(target)).toEqual(['cifar-10']);
  });

  test('a server that never answers times out too', async () => {
    const target = freshTarget();
    await expectCode(load(target, '/silent'), 'DOWNLOAD_STALLED', /no data for 0.3 s/);
    expect(leftovers(target).filter((f) => f === 'cifar-10')).toEqual([]);
  });

  test('a connection cut mid-file keeps the partial archive for the next run', async () => {
    const target = freshTarget();
    await expectCode(load(target, '/cut'), 'DOWNLOAD_FAILED', new RegExp(`${(archive.length >> 1).toLocaleString('en-US')} bytes are kept in .*run again to resume`));
    expect(leftovers(target)).toEqual(['cifar-10.tar.gz.partial']);
    await expect(load(target, '/good')).resolves.toMatchObject({ dataDir: target });
  });

  test('restarts from zero when the server ignores Range (200), answers another range (206) or refuses it (416)', async () => {
    const ignoring = freshTarget();
    fs.mkdirSync(path.dirname(ignoring), { recursive: true });
    fs.writeFileSync(partialArchivePath(ignoring), Buffer.alloc(500, 7)); // stale junk that must not be kept
    await expect(load(ignoring, '/no-range')).resolves.toMatchObject({ dataDir: ignoring });

    const wrongRange = freshTarget();
    fs.mkdirSync(path.dirname(wrongRange), { recursive: true });
    fs.writeFileSync(partialArchivePath(wrongRange), Buffer.alloc(500, 7));
    await expect(load(wrongRange, '/wrong-range')).resolves.toMatchObject({ dataDir: wrongRange });

    const refusing = freshTarget();
    fs.mkdirSync(path.dirname(refusing), { recursive: true });
    fs.writeFileSync(partialArchivePath(refusing), Buffer.alloc(archive.length + 10, 7));
    await expect(load(refusing, '/good')).resolves.toMatchObject({ dataDir: refusing });
    expect(leftovers(refusing)).toEqual(['cifar-10']);
  });

  test('an HTTP error names the status; nothing is left behind', async () => {
    const target = freshTarget();
    await expectCode(load(target, '/missing'), 'DOWNLOAD_FAILED', /HTTP 404/);
    expect(leftovers(target)).toEqual([]);
  });

  test('an archive that is not a tar.gz, or holds bad CIFAR-10 files, never becomes the data folder', async () => {
    const notTar = freshTarget();
    const junkMd5 = md5(Buffer.from('this is not a tar.gz archive at all'));
    await expectCode(load(notTar, '/not-a-tar', { md5: junkMd5 }), 'EXTRACT_FAILED', /could not be extracted|holds no cifar-10-batches-bin/);
    expect(leftovers(notTar).filter((f) => !f.endsWith('.partial'))).toEqual([]);

    const badContent = freshTarget();
    await expectCode(load(badContent, '/bad-content', { md5: md5(badTarArchive) }), 'BAD_RECORD_COUNT', /does not hold a valid CIFAR-10 folder.*test_batch\.bin holds 2 records/);
    expect(leftovers(badContent).filter((f) => !f.endsWith('.partial'))).toEqual([]);
  });

  test('download into an existing empty folder works; abandoned extraction folders of dead processes are cleared', async () => {
    const target = freshTarget();
    fs.mkdirSync(target, { recursive: true });
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const abandoned = `${target}.extract-${deadPid}-abc123`;
    writeDatasetFolder(path.join(abandoned, CIFAR10_ARCHIVE_FOLDER), PER_FILE);
    await expect(load(target, '/good')).resolves.toMatchObject({ dataDir: target });
    expect(fs.existsSync(abandoned)).toBe(false);
    expect(leftovers(target)).toEqual(['cifar-10']);
  });

  test('a complete verified archive left by a failed extraction is reused without a request', async () => {
    const target = freshTarget();
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(partialArchivePath(target), archive);
    const before = requests.length;
    await expect(load(target, '/good')).resolves.toMatchObject({ dataDir: target });
    expect(requests.length).toBe(before);
    expect(leftovers(target)).toEqual(['cifar-10']);
  });

  test('--no-download never touches the network', async () => {
    const target = freshTarget();
    const before = requests.length;
    await expectCode(load(target, '/good', { download: false }), 'NOT_FOUND', /downloading is off/);
    expect(requests.length).toBe(before);
  });
});
