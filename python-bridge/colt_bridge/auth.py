"""Who may call our services: every call carries a token as call metadata
(`authorization: Bearer <hex>`), compared in constant time. The same rules as the daemon's
(src/config/auth.ts): one mechanism for Unix sockets and TCP alike."""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import re
import secrets
import stat
import tempfile

import grpc

TOKEN_METADATA_KEY = "authorization"
#: StartSearch's metadata for the (bare) token of the bridge a client hosts: the daemon dials it so.
BRIDGE_TOKEN_METADATA_KEY = "colt-bridge-token"
TOKEN_ENV = "COLT_TOKEN"

#: The largest gRPC message any of our services or clients sends or takes.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

#: Methods anyone may call: health checks, which tell nothing and change nothing.
OPEN_METHODS = frozenset({"/colt.v1.Bridge/Health", "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})

_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{16,512}")


def new_token() -> str:
    """32 random bytes, hex."""
    return secrets.token_hex(32)


def well_formed(token: str) -> bool:
    return bool(_TOKEN_SHAPE.fullmatch(token))


def bearer(token: str) -> str:
    return f"Bearer {token}"


def token_of(value) -> str | None:
    """The token in a metadata value (`Bearer <token>`), if any."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"Bearer\s+(\S+)\s*", value, re.IGNORECASE)
    return match.group(1) if match else None


def tokens_equal(expected: str, given: str | None) -> bool:
    """Constant time, whatever the lengths (both are hashed to the same length first)."""
    if given is None:
        return False
    digest = lambda s: hashlib.sha256(s.encode("utf-8")).digest()  # noqa: E731
    return hmac.compare_digest(digest(expected), digest(given))


def metadata_token(metadata, key: str = TOKEN_METADATA_KEY) -> str | None:
    for k, v in metadata or ():
        if k == key:
            return token_of(v)
    return None


def _refuse(message: str):
    def handler(request, context):  # noqa: ARG001
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return handler


class TokenInterceptor(grpc.ServerInterceptor):
    """The one place a server decides who may call it: every method but health needs the token."""

    def __init__(self, token: str, service: str):
        self._token = token
        self._service = service

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method in OPEN_METHODS or tokens_equal(self._token, metadata_token(handler_call_details.invocation_metadata)):
            return continuation(handler_call_details)
        name = method.rsplit("/", 1)[-1]
        message = f"{name}: this {self._service} needs its token (metadata \"{TOKEN_METADATA_KEY}: Bearer <token>\")"
        # Every method of ours is unary-request; the refusal needs no request decoded.
        return grpc.unary_unary_rpc_method_handler(_refuse(message))


# --- where a daemon keeps its socket and token (the same rules as src/process/private-files.ts)


def runtime_dir() -> str:
    """$XDG_RUNTIME_DIR/colt, else <tmp>/colt-<uid>."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "colt")
    return os.path.join(tempfile.gettempdir(), f"colt-{os.getuid()}")


def token_file_for(address: str) -> str | None:
    """Where the daemon at `address` keeps its token: next to its socket, or in the per-user
    folder for a loopback TCP port. None for other hosts (the user passes the token)."""
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        base = os.path.basename(path)
        base = base[: -len(".sock")] if base.endswith(".sock") else base
        return os.path.join(os.path.dirname(path), f"{base}.token")
    host, _, port = address.rpartition(":")
    if host in ("127.0.0.1", "localhost", "[::1]") and port.isdigit():
        return os.path.join(runtime_dir(), f"tcp-{int(port)}.token")
    return None


def read_token_file(path: str) -> str:
    """The token in `path`; refuses a file others may read. Raises ValueError with one line."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise ValueError(f"cannot read token file {path}: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"token file {path} is not a file")
    if info.st_mode & 0o077:
        raise ValueError(f"token file {path} is open to other users (mode {info.st_mode & 0o777:04o}): chmod 600 it")
    with open(path, encoding="utf-8", errors="replace") as f:
        token = f.readline().strip()
    if not well_formed(token):
        raise ValueError(f"token file {path} holds no token")
    return token


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _TokenClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str):
        self._entry = (TOKEN_METADATA_KEY, bearer(token))

    def _details(self, d):
        metadata = [*(d.metadata or ()), self._entry]
        return _CallDetails(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


def token_channel(address: str, token: str) -> grpc.Channel:
    """A channel to one of our services that sends `token` with every call."""
    return grpc.intercept_channel(grpc.insecure_channel(address, options=GRPC_OPTIONS), _TokenClientInterceptor(token))
