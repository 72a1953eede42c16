/**
 * A usage problem found after parsing (conflicting flags, a bad `--classes`, resuming with changed
 * settings): printed as `error: ...` with exit code 2, like commander's own flag errors.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
