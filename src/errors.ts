// The one error type, in the manner of connect-es's ConnectError: a code from one enum, a
// one-line message, optional details, and `from(unknown)` that turns anything thrown into it.
// Each boundary keeps one table from Code to its own terms: the exit code (below, for `colt`
// and a daemon job's exit_code), the gRPC status (src/daemon/status.ts), the Python exception
// (python-bridge/colt_tvm/errors.py). The search core, which imports nothing, throws its own
// SearchError; `from` gives it a code here.
import { SearchError } from './search';

export enum Code {
  /** The user's input is wrong: a flag, a workload, a target, a models.json, a request field. */
  InvalidArgument = 'INVALID_ARGUMENT',
  /** No such thing: a job, a task, a file the user named. */
  NotFound = 'NOT_FOUND',
  /** The call does not fit the state: a SEARCH call on a TUNE job, a waiter already there. */
  FailedPrecondition = 'FAILED_PRECONDITION',
  /** A key or token was refused. */
  Unauthenticated = 'UNAUTHENTICATED',
  /** A limit was reached: an endpoint's rate limit. */
  ResourceExhausted = 'RESOURCE_EXHAUSTED',
  /** A call ran past its deadline. */
  DeadlineExceeded = 'DEADLINE_EXCEEDED',
  /** A service is gone or unreachable: the bridge, an endpoint, the devices of a tracker. */
  Unavailable = 'UNAVAILABLE',
  /** The TVM bridge died mid-run (and, after restarts, kept dying); the records stay. */
  BridgeStopped = 'BRIDGE_STOPPED',
  /** The user stopped the work with SIGINT. */
  Interrupted = 'INTERRUPTED',
  /** The work was stopped with SIGTERM. */
  Terminated = 'TERMINATED',
  /** Anything else: a failure with no better name, or a bug. */
  Internal = 'INTERNAL',
}

/** Why an LLM call failed, in the words reports and prompts use. */
export type LlmErrorKind =
  | 'timeout'
  | 'rate_limit'
  | 'server'
  | 'connection'
  | 'auth'
  | 'bad_request'
  | 'not_found'
  | 'bad_response';

/** What some errors carry besides code and message; each field is for the code that sets it. */
export interface ErrorDetails {
  /** Each problem, `dot.path: what is wrong` (a models.json, a set of options). */
  issues?: readonly string[];
  /** The bridge RPC that failed (only the bridge client sets it). */
  rpc?: string;
  /** An LLM call that failed, after whatever retries its kind allows. */
  llm?: { model: string; kind: LlmErrorKind; attempts: number; status?: number };
  /** How the bridge process ended, when it died. */
  exit?: { code: number | null; signal: string | null };
  /** Where the records of a stopped run are. */
  workDir?: string;
  /** A bridge that never said it was ready (stopped, or stuck, while it started): killed, worth a restart. */
  notReady?: boolean;
}

/** A message on one line: whitespace runs (newlines too) become one space; cut at max characters. */
export function oneLine(text: string, max = Infinity): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * gRPC's status numbers (fixed by the gRPC spec) as codes: what a call to another of our
 * services (the bridge, the daemon) failed with.
 */
const GRPC_STATUS: Record<number, Code> = {
  1: Code.Unavailable, // CANCELLED: only when the channel closes under a call
  3: Code.InvalidArgument,
  4: Code.DeadlineExceeded,
  5: Code.NotFound,
  8: Code.ResourceExhausted,
  9: Code.InvalidArgument, // FAILED_PRECONDITION: the bridge's word for a request that cannot be served
  11: Code.InvalidArgument, // OUT_OF_RANGE
  14: Code.Unavailable,
  16: Code.Unauthenticated,
};

interface GrpcLikeError {
  code: number;
  details?: string;
  message?: string;
}

function isGrpcError(err: unknown): err is GrpcLikeError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    ('details' in err || 'metadata' in err)
  );
}

const SEARCH_CODES: Record<SearchError['code'], Code> = {
  INVALID_OPTIONS: Code.InvalidArgument,
  MEASUREMENT_STALLED: Code.Unavailable,
};

export class ColtError extends Error {
  readonly code: Code;
  readonly details: ErrorDetails;

  constructor(code: Code, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(oneLine(message), options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ColtError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /**
   * Anything thrown, as a ColtError: itself; a gRPC status error by its status (with `rpc`
   * when given); the search core's SearchError by its code; anything else with `fallback`.
   */
  static from(err: unknown, options: { fallback?: Code; rpc?: string } = {}): ColtError {
    if (err instanceof ColtError) return err;
    const fallback = options.fallback ?? Code.Internal;
    const details = options.rpc ? { rpc: options.rpc } : undefined;
    if (err instanceof SearchError) return new ColtError(SEARCH_CODES[err.code], err.message, { cause: err });
    if (isGrpcError(err)) {
      // grpc-js puts "<n> <STATUS>: " before the server's message; details is the message alone.
      const text = err.details || err.message || `gRPC status ${err.code}`;
      return new ColtError(GRPC_STATUS[err.code] ?? Code.Internal, text, { details, cause: err });
    }
    if (err instanceof Error) return new ColtError(fallback, err.message || err.name, { details, cause: err });
    return new ColtError(fallback, String(err), { details });
  }
}

/** The one line a person reads for err: its message, and for a failed bridge call, which call. */
export function describeError(err: ColtError): string {
  const { rpc } = err.details;
  return rpc ? `the TVM bridge failed in ${rpc} (${err.code}): ${err.message}` : err.message;
}

/** Whether err is a ColtError with one of these codes. */
export function hasCode(err: unknown, ...codes: Code[]): err is ColtError {
  return err instanceof ColtError && codes.includes(err.code);
}

/** `colt`'s exit codes. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  BRIDGE_STOPPED: 3,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

/**
 * The CLI's table: the exit code for each code. A daemon job reports the same number
 * (exit_code: what `colt tune` would have exited with).
 */
export const EXIT_CODES: Record<Code, number> = {
  [Code.InvalidArgument]: EXIT.USAGE,
  [Code.NotFound]: EXIT.USAGE,
  [Code.FailedPrecondition]: EXIT.USAGE,
  [Code.Unauthenticated]: EXIT.USAGE,
  [Code.ResourceExhausted]: EXIT.FAILURE,
  [Code.DeadlineExceeded]: EXIT.FAILURE,
  [Code.Unavailable]: EXIT.FAILURE,
  [Code.BridgeStopped]: EXIT.BRIDGE_STOPPED,
  [Code.Interrupted]: EXIT.INTERRUPTED,
  [Code.Terminated]: EXIT.TERMINATED,
  [Code.Internal]: EXIT.FAILURE,
};
