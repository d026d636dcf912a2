// The CLI's typed errors: each knows its exit code. The one boundary in program.ts turns them
// (and anything else) into one `colt: error:` line.
import { describeExit, type BridgeExit } from '../bridge';

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  BRIDGE_STOPPED: 3,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad flags or bad input: the user can fix it by changing the command. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.USAGE);
    this.name = 'UsageError';
  }
}

/** The Python bridge died while we needed it (and, mid-run, kept dying after restarts). */
export class BridgeStoppedError extends CliError {
  constructor(
    readonly exit: Pick<BridgeExit, 'code' | 'signal'> | undefined,
    readonly workDir: string,
  ) {
    const how = exit ? describeExit(exit) : 'connection lost';
    super(
      `the TVM bridge stopped during tuning (${how}); records already measured are in ${workDir} (--resume carries on)`,
      EXIT.BRIDGE_STOPPED,
    );
    this.name = 'BridgeStoppedError';
  }
}
