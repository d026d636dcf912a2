// One error type for everything that can go wrong talking to the bridge, whatever threw it:
// gRPC status errors, timeouts, a process that is gone. Callers branch on `code` only.
import { status as GrpcStatus } from '@grpc/grpc-js';

export enum BridgeErrorCode {
  /** The request was wrong: bad workload, target, work dir, trace. */
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  /** No such task (closed, or never opened in this bridge). */
  NOT_FOUND = 'NOT_FOUND',
  /** The bridge is gone or unreachable. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** The bridge failed; its message is one line, its log has the rest. */
  INTERNAL = 'INTERNAL',
  /** The call ran past its deadline. */
  DEADLINE = 'DEADLINE',
}

function codeOfStatus(status: number): BridgeErrorCode {
  switch (status) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return BridgeErrorCode.INVALID_ARGUMENT;
    case GrpcStatus.NOT_FOUND:
      return BridgeErrorCode.NOT_FOUND;
    // A call cancelled under us only happens when the channel closes.
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.CANCELLED:
      return BridgeErrorCode.UNAVAILABLE;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return BridgeErrorCode.DEADLINE;
    default:
      return BridgeErrorCode.INTERNAL;
  }
}

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

function oneLine(text: string): string {
  return text.split(/\s*\n\s*/).filter(Boolean).join(' ').trim();
}

export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    /** The RPC that failed, when known. */
    readonly rpc?: string,
    options?: { cause?: unknown },
  ) {
    super(oneLine(message), options);
    this.name = 'BridgeError';
  }

  /** Normalises anything thrown by a bridge call into a BridgeError. */
  static from(err: unknown, rpc?: string): BridgeError {
    if (err instanceof BridgeError) return err;
    if (isGrpcError(err)) {
      // grpc-js puts "<n> <STATUS>: " before the server's message; details is the message alone.
      const text = err.details || err.message || `gRPC status ${err.code}`;
      return new BridgeError(codeOfStatus(err.code), text, rpc, { cause: err });
    }
    if (err instanceof Error) return new BridgeError(BridgeErrorCode.INTERNAL, err.message, rpc, { cause: err });
    return new BridgeError(BridgeErrorCode.INTERNAL, String(err), rpc);
  }
}
