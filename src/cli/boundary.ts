// The CLI's one error boundary: what the user reads, and the exit code, for anything a command
// throws. Commander's own errors are the user's flags; everything else goes through ColtError.
import { CommanderError } from 'commander';

import { Code, ColtError, describeError, EXIT_CODES, oneLine } from '../errors';

/** One line and the exit code for err. */
export function describeFailure(err: unknown): { code: number; message: string } {
  if (err instanceof CommanderError) return { code: EXIT_CODES[Code.InvalidArgument], message: err.message.replace(/^error:\s*/, '') };
  const colt = ColtError.from(err);
  return { code: EXIT_CODES[colt.code], message: oneLine(describeError(colt)) };
}
