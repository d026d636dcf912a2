// The daemon's table: the gRPC status each code answers with. The code itself travels too, as
// the trailing metadata `colt-code`, so that colt_tvm raises the same Python exception for it
// whatever status it shares (python-bridge/colt_tvm/errors.py).
import * as grpc from '@grpc/grpc-js';

import { Code, ColtError, describeError } from '../errors';

export const CODE_METADATA_KEY = 'colt-code';

const STATUS: Record<Code, grpc.status> = {
  [Code.InvalidArgument]: grpc.status.INVALID_ARGUMENT,
  [Code.NotFound]: grpc.status.NOT_FOUND,
  [Code.FailedPrecondition]: grpc.status.FAILED_PRECONDITION,
  [Code.Unauthenticated]: grpc.status.UNAUTHENTICATED,
  [Code.ResourceExhausted]: grpc.status.RESOURCE_EXHAUSTED,
  [Code.DeadlineExceeded]: grpc.status.DEADLINE_EXCEEDED,
  [Code.Unavailable]: grpc.status.UNAVAILABLE,
  [Code.BridgeStopped]: grpc.status.UNAVAILABLE,
  [Code.Interrupted]: grpc.status.CANCELLED,
  [Code.Terminated]: grpc.status.CANCELLED,
  [Code.Internal]: grpc.status.INTERNAL,
};

/** Anything a handler threw, as the status object grpc-js sends. */
export function toStatus(err: unknown): grpc.StatusObject {
  const colt = ColtError.from(err);
  const metadata = new grpc.Metadata();
  metadata.set(CODE_METADATA_KEY, colt.code);
  return { code: STATUS[colt.code], details: describeError(colt), metadata };
}
