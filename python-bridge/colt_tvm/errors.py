"""The COLT daemon's errors as Python exceptions: one table from the daemon's code to a class.

The daemon names the code of every failed call (src/errors.ts's Code) in the trailing metadata
`colt-code`. A daemon that predates it, or a call that reached no daemon, is read by its gRPC
status instead. Every class is a ColtError, a RuntimeError; each also derives from the builtin
exception a Python caller would catch for its kind (ValueError for a bad argument, ...).
"""

from __future__ import annotations

import grpc
import tvm_ffi

CODE_METADATA_KEY = "colt-code"


class ColtError(RuntimeError):
    """Something the COLT daemon refused or failed at; the message is the daemon's."""

    code = "INTERNAL"


class InvalidArgument(ColtError, ValueError):
    """The input is wrong: a models.json, an option, a request field."""

    code = "INVALID_ARGUMENT"


class NotFound(ColtError, LookupError):
    """No such thing: a job, a task, a file."""

    code = "NOT_FOUND"


class FailedPrecondition(ColtError):
    """The call does not fit the state it found."""

    code = "FAILED_PRECONDITION"


class Unauthenticated(ColtError):
    """A key or token was refused."""

    code = "UNAUTHENTICATED"


class ResourceExhausted(ColtError):
    """A limit was reached: an endpoint's rate limit."""

    code = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(ColtError, TimeoutError):
    """A call ran past its deadline."""

    code = "DEADLINE_EXCEEDED"


class Unavailable(ColtError, ConnectionError):
    """A service is gone or unreachable: the daemon itself, or what it depends on."""

    code = "UNAVAILABLE"


class BridgeStopped(ColtError, ConnectionError):
    """The TVM bridge the search works through died."""

    code = "BRIDGE_STOPPED"


class Interrupted(ColtError):
    """The work was stopped with SIGINT."""

    code = "INTERRUPTED"


class Terminated(ColtError):
    """The work was stopped with SIGTERM."""

    code = "TERMINATED"


#: The daemon's code -> the exception raised for it.
ERRORS: dict[str, type[ColtError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        FailedPrecondition,
        Unauthenticated,
        ResourceExhausted,
        DeadlineExceeded,
        Unavailable,
        BridgeStopped,
        Interrupted,
        Terminated,
        ColtError,
    )
}

# MetaSchedule calls ColtSearch from C++, where an unregistered exception becomes a RuntimeError:
# registered, each class comes out of ms.tune_tir as itself.
for _cls in ERRORS.values():
    tvm_ffi.register_error(f"colt_tvm.{_cls.__name__}", _cls)

# A failed call without `colt-code`: the code its gRPC status stands for; any other, INTERNAL.
_GRPC_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.CANCELLED: "UNAVAILABLE",  # only when the channel closes under a call
    grpc.StatusCode.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    grpc.StatusCode.OUT_OF_RANGE: "INVALID_ARGUMENT",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    grpc.StatusCode.UNAUTHENTICATED: "UNAUTHENTICATED",
    grpc.StatusCode.PERMISSION_DENIED: "UNAUTHENTICATED",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
}


def _attr(err, name: str):
    method = getattr(err, name, None)
    try:
        return method() if callable(method) else None
    except Exception:  # pylint: disable=broad-except
        return None


def colt_code(err) -> str | None:
    """The daemon's `colt-code` trailing metadata of a failed call, if it sent one."""
    for item in _attr(err, "trailing_metadata") or ():
        key, value = item[0], item[1]
        if key == CODE_METADATA_KEY:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def from_rpc_error(err: grpc.RpcError, what: str = "the call") -> ColtError:
    """The exception for a failed call to the daemon; what: the method called."""
    status = _attr(err, "code")
    details = _attr(err, "details") or ""
    code = colt_code(err)
    if code is None:
        if status == grpc.StatusCode.UNAVAILABLE:
            # Without colt-code this is, but for a daemon that predates it, the channel's: no
            # daemon answered.
            return Unavailable(f"the COLT daemon is not reachable ({what}): {details}")
        code = _GRPC_STATUS.get(status, "INTERNAL")
    name = getattr(status, "name", None) or code
    return ERRORS.get(code, ColtError)(details or f"{what} failed ({name})")
