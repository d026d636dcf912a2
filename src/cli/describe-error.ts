// What the user reads, and the exit code, for anything a command or a job throws: the CLI's one
// error boundary (program.ts) and the job machinery (a failed job's one line) share it.
import { CommanderError } from 'commander';

import { BridgeError, BridgeStartError } from '../bridge';
import { ConfigError } from '../llm';
import { SearchOptionsError } from '../search';
import { CliError, EXIT } from './errors';

/** A message on one line. */
export function oneLine(text: string): string {
  return text.split(/\s*\n\s*/).filter(Boolean).join(' ').trim();
}

/** The boundary: what the user reads and the exit code, for anything thrown. */
export function describeError(err: unknown): { code: number; message: string } {
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof CommanderError) return { code: EXIT.USAGE, message: err.message.replace(/^error:\s*/, '') };
  if (err instanceof SearchOptionsError) return { code: EXIT.USAGE, message: err.message };
  // A bad models.json, a missing key variable, a rejected key or an unreachable endpoint.
  if (err instanceof ConfigError) return { code: EXIT.USAGE, message: err.message };
  if (err instanceof BridgeStartError) return { code: EXIT.FAILURE, message: err.message };
  if (err instanceof BridgeError) {
    return { code: EXIT.FAILURE, message: `the TVM bridge failed${err.rpc ? ` in ${err.rpc}` : ''} (${err.code}): ${err.message}` };
  }
  if (err instanceof Error) return { code: EXIT.FAILURE, message: err.message || err.name };
  return { code: EXIT.FAILURE, message: String(err) };
}
