import { createHash } from 'crypto';
import * as fs from 'fs';
import { pipeline } from 'stream/promises';

/** MD5 of a file as lowercase hex, streamed (the archive is 170 MB). */
export async function fileMd5(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}
