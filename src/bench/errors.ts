// The bench's typed errors. The CLI's one boundary (src/cli/program.ts) maps them to exit codes.

/** bench.json is missing, unreadable or not a bench result: the user named the wrong thing. */
export class BenchFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchFileError';
  }
}

/** A missing piece of the set-up (the venv, the compiled CLI): what to run, before any run fails. */
export class BenchSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchSetupError';
  }
}

/** The user stopped the bench (SIGINT/SIGTERM); what was done is in bench.json and the report. */
export class BenchInterruptedError extends Error {
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    readonly benchFile: string,
  ) {
    super(`interrupted (${signal}): the runs done so far are in ${benchFile} and its report`);
    this.name = 'BenchInterruptedError';
  }
}

/** Some runs of a bench failed; the results of the others were still written. */
export class BenchRunsFailedError extends Error {
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly benchFile: string,
  ) {
    super(`${failed} of ${total} bench runs failed (their errors are in ${benchFile}); the report shows the rest`);
    this.name = 'BenchRunsFailedError';
  }
}
