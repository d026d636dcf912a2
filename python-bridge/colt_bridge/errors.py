"""Typed errors the server maps to gRPC status codes, each with a one-line message."""


class BridgeError(Exception):
    """Base class: `message` is what the user sees, on one line."""

    grpc_code = "INTERNAL"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = " ".join(str(message).split())


class InvalidArgument(BridgeError):
    grpc_code = "INVALID_ARGUMENT"


class NotFound(BridgeError):
    grpc_code = "NOT_FOUND"


class FailedPrecondition(BridgeError):
    grpc_code = "FAILED_PRECONDITION"


def one_line(err: BaseException, limit: int = 300) -> str:
    """The last meaningful line of a TVM error, which is where TVM puts the reason."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
