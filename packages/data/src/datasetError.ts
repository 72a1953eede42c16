/**
 * Every problem with the data on disk or its download. `code` lets callers (the CLI) react
 * without parsing the message; the message itself says what is wrong, what was expected and
 * what to do about it.
 */
export type DatasetErrorCode =
  | 'NOT_FOUND'
  | 'MISSING_FILE'
  | 'BAD_SIZE'
  | 'BAD_RECORD_COUNT'
  | 'BAD_LABEL'
  | 'BAD_META'
  | 'DOWNLOAD_FAILED'
  | 'DOWNLOAD_STALLED'
  | 'CHECKSUM_MISMATCH'
  | 'EXTRACT_FAILED';

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  constructor(code: DatasetErrorCode, message: string) {
    super(message);
    this.name = 'DatasetError';
    this.code = code;
  }
}

/** The fix we suggest for a damaged copy: where it lives decides whether deleting it is safe. */
export function redownloadHint(dataDir: string): string {
  return (
    `Fix: re-download CIFAR-10: delete the folder ${dataDir} and run again without --no-download ` +
    `(convoy downloads and verifies the official archive), or point --data-dir / CIFAR10_DIR at a good copy.`
  );
}
