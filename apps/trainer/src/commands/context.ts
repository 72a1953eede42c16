/** What every command gets from the program that runs it. */
export interface CommandContext {
  /** Receives the exit code a finished command wants (130 after Ctrl-C, ...). */
  onExitCode: (code: number) => void;
}
