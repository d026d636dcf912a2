"""colt_tvm.errors: the daemon's codes as Python exceptions, read from its `colt-code` trailing
metadata, or from the gRPC status where a daemon sends none."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
import tvm_ffi

from colt_tvm import ColtError
from colt_tvm.errors import (
    ERRORS,
    BridgeStopped,
    DeadlineExceeded,
    FailedPrecondition,
    Interrupted,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Terminated,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)

from conftest import BRIDGE_DIR


class FakeRpcError(grpc.RpcError):
    def __init__(self, status=grpc.StatusCode.UNKNOWN, details="the daemon's message", metadata=()):
        super().__init__()
        self._status, self._details, self._metadata = status, details, tuple(metadata)

    def code(self):
        return self._status

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._metadata


# The daemon's code, the class, the builtin a Python caller catches it as.
TABLE = [
    ("INVALID_ARGUMENT", InvalidArgument, ValueError),
    ("NOT_FOUND", NotFound, LookupError),
    ("FAILED_PRECONDITION", FailedPrecondition, RuntimeError),
    ("UNAUTHENTICATED", Unauthenticated, RuntimeError),
    ("RESOURCE_EXHAUSTED", ResourceExhausted, RuntimeError),
    ("DEADLINE_EXCEEDED", DeadlineExceeded, TimeoutError),
    ("UNAVAILABLE", Unavailable, ConnectionError),
    ("BRIDGE_STOPPED", BridgeStopped, ConnectionError),
    ("INTERRUPTED", Interrupted, RuntimeError),
    ("TERMINATED", Terminated, RuntimeError),
    ("INTERNAL", ColtError, RuntimeError),
]


@pytest.mark.parametrize("code,cls,builtin", TABLE)
def test_colt_code_picks_the_class(code, cls, builtin):
    # The status disagrees on purpose: the daemon's code wins.
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.UNKNOWN, metadata=[("colt-code", code)]), "StartSearch")
    assert type(err) is cls
    assert isinstance(err, ColtError) and isinstance(err, RuntimeError) and isinstance(err, builtin)
    assert err.code == code
    # The daemon answered: its message, even for UNAVAILABLE (a service behind it is gone).
    assert str(err) == "the daemon's message"


def test_the_table_has_every_code_the_daemon_sends():
    assert set(ERRORS) == {code for code, _, _ in TABLE}
    errors_ts = Path(BRIDGE_DIR).parent / "src" / "errors.ts"
    if not errors_ts.is_file():
        pytest.skip("no src/errors.ts beside this python-bridge")
    enum = re.search(r"export enum Code \{(.*?)\n\}", errors_ts.read_text(encoding="utf-8"), re.S)
    assert enum, "src/errors.ts has no `export enum Code`"
    assert set(ERRORS) == set(re.findall(r"=\s*'([A-Z_]+)'", enum.group(1)))


@pytest.mark.parametrize(
    "status,cls",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
        (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceeded),
        (grpc.StatusCode.UNKNOWN, ColtError),
        (grpc.StatusCode.INTERNAL, ColtError),
    ],
)
def test_without_colt_code_the_status_picks_the_class(status, cls):
    err = from_rpc_error(FakeRpcError(status), "NextBatch")
    assert type(err) is cls
    assert str(err) == "the daemon's message"


def test_unavailable_without_colt_code_is_no_daemon():
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, details="connect failed"), "ListJobs")
    assert isinstance(err, Unavailable) and isinstance(err, ConnectionError)
    assert str(err) == "the COLT daemon is not reachable (ListJobs): connect failed"


def test_odd_answers():
    # A code this colt_tvm does not know yet, a bytes value, no details, no metadata at all.
    assert type(from_rpc_error(FakeRpcError(metadata=[("colt-code", "SOMETHING_NEW")]))) is ColtError
    assert type(from_rpc_error(FakeRpcError(metadata=[("colt-code", b"NOT_FOUND")]))) is NotFound
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.INTERNAL, details=""), "EndSearch")
    assert str(err) == "EndSearch failed (INTERNAL)"

    class Bare(grpc.RpcError):
        pass

    assert type(from_rpc_error(Bare())) is ColtError


@pytest.mark.parametrize("code,cls,builtin", TABLE)
def test_each_class_comes_back_through_tvm_ffi_as_itself(code, cls, builtin):
    # What ms.tune_tir does with an exception ColtSearch raises: across C++ and back.
    def fail():
        raise cls(f"{code} happened")

    with pytest.raises(cls, match=f"{code} happened"):
        tvm_ffi.convert(fail)()
