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
  | 'EXTRACT_FAILED'
  | 'EMPTY_IMAGE'
  | 'NOT_AN_IMAGE'
  | 'CORRUPT_IMAGE'
  | 'BAD_IMAGE_FOLDER'
  | 'BAD_IMAGES'
  | 'BAD_SHARD';

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  constructor(code: DatasetErrorCode, message: string) {
    super(message);
    this.name = 'DatasetError';
    this.code = code;
  }
}

/**
 * One image file that cannot be used (empty, not JPEG/PNG/WebP, or corrupt/truncated). `file` is
 * the path as given, so a folder loader can list or skip exactly the bad files.
 */
export class ImageFileError extends DatasetError {
  readonly file: string;
  /** What is wrong, without the file name or the fix (for lists of bad files). */
  readonly reason: string;
  constructor(code: ImageFileErrorCode, file: string, reason: string, fix: string) {
    super(code, `${file}: ${reason}. Fix: ${fix}`);
    this.name = 'ImageFileError';
    this.file = file;
    this.reason = reason;
  }
}

export type ImageFileErrorCode = 'EMPTY_IMAGE' | 'NOT_AN_IMAGE' | 'CORRUPT_IMAGE';

/** The fix we suggest for a damaged copy: where it lives decides whether deleting it is safe. */
export function redownloadHint(dataDir: string): string {
  return (
    `Fix: re-download CIFAR-10: delete the folder ${dataDir} and run again without --no-download ` +
    `(convoy downloads and verifies the official archive), or point --data-dir / CIFAR10_DIR at a good copy.`
  );
}
