import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCheckpoint, LATEST_CHECKPOINT } from '@convoy/run';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint';
import { validCheckpoint } from '../../../packages/run/test/checkpointFixtures';

// The format itself (round trip, checksum, self-description checks) is tested in packages/run.
describe('checkpoint files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-ckpt-'));

  it('writes atomically (no temporary file left) and reads back from a directory', () => {
    const saved = { ...validCheckpoint(), step: 17 };
    saveCheckpoint(join(dir, LATEST_CHECKPOINT), saved);
    expect(readdirSync(dir)).toEqual([LATEST_CHECKPOINT]);
    const { path, state } = loadCheckpoint(dir);
    expect(path).toBe(join(dir, LATEST_CHECKPOINT));
    expect(state).toEqual(saved);
  });

  it('names the file when it is missing, truncated, or a directory without latest.msgpack', () => {
    const bytes = encodeCheckpoint(validCheckpoint());
    const file = join(dir, 'truncated.msgpack');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => loadCheckpoint(file)).toThrow(/\btruncated\.msgpack: .*\btruncated\b/);
    expect(() => loadCheckpoint(join(dir, 'nope.msgpack'))).toThrow(/\bnope\.msgpack\b.*\bnot exist\b/);
    const empty = mkdtempSync(join(tmpdir(), 'convoy-ckpt-empty-'));
    expect(() => loadCheckpoint(empty)).toThrow(/\blatest\.msgpack\b/);
  });
});
