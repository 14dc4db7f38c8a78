/** One `switchhook` subcommand. */
export interface Command {
  /** The word after `switchhook`. */
  readonly name: string;
  /** One line for `switchhook --help`. */
  readonly summary: string;
  /** Full usage text for `switchhook NAME --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. Long-running commands resolve when stopped. */
  run(args: string[], io: CommandIO): Promise<number>;
}

/** Where a command writes; tests pass their own. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
}

/** Standard output and error of the process. */
export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
