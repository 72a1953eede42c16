import { Writable } from 'stream';
import { consoleProgress } from '../src';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream, text: () => out };
}

describe('consoleProgress', () => {
  test('without a terminal: plain lines every 10%, then the phases', () => {
    const { stream, text } = fakeStream(false);
    const progress = consoleProgress(stream);
    const total = 100 * 1024 * 1024;
    for (let got = 0; got <= total; got += total / 50) progress({ phase: 'download', receivedBytes: got, totalBytes: total });
    progress({ phase: 'verify', receivedBytes: total, totalBytes: total });
    progress({ phase: 'extract', receivedBytes: total, totalBytes: total });
    progress({ phase: 'done', receivedBytes: total, totalBytes: total });
    const lines = text().trim().split('\n');
    expect(lines[0]).toBe('CIFAR-10 download: 0% (0.0 MB of 100.0 MB)');
    expect(lines[10]).toBe('CIFAR-10 download: 100% (100.0 MB of 100.0 MB)');
    expect(lines.slice(11)).toEqual(['CIFAR-10 download: verifying MD5', 'CIFAR-10 download: extracting', 'CIFAR-10 download: done']);
  });

  test('a resumed download says where it resumes', () => {
    const { stream, text } = fakeStream(false);
    consoleProgress(stream)({ phase: 'download', receivedBytes: 5 * 1024 * 1024, totalBytes: 10 * 1024 * 1024, resumedFromBytes: 5 * 1024 * 1024 });
    expect(text()).toMatch(/^CIFAR-10 download: resuming after 5.0 MB\nCIFAR-10 download: 50%/);
  });

  test('on a terminal: a cli-progress bar, closed before the next phase', () => {
    const { stream, text } = fakeStream(true);
    const progress = consoleProgress(stream);
    progress({ phase: 'download', receivedBytes: 0, totalBytes: 1000 });
    progress({ phase: 'download', receivedBytes: 1000, totalBytes: 1000 });
    progress({ phase: 'verify', receivedBytes: 1000, totalBytes: 1000 });
    expect(text()).toMatch(/CIFAR-10 download \[.*\] 100%/);
    expect(text()).toMatch(/verifying MD5\n$/);
  });
});
