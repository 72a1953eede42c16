import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/**
 * The slice of node:crypto the trainer's checkpoint module uses, for the browser bundle: SHA-256
 * as a synchronous hex digest (WebCrypto's digest is asynchronous, the checkpoint code is not).
 */
export function createHash(algorithm: string): { update(data: Uint8Array): { digest(encoding: 'hex'): string } } {
  if (algorithm !== 'sha256') throw new Error(`createHash: only sha256 is available in the browser, not ${algorithm}`);
  return { update: (data: Uint8Array) => ({ digest: () => bytesToHex(sha256(data)) }) };
}
