"""The generated protobuf and gRPC modules (scripts/setup generates them from proto/)."""

import os
import sys

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _HERE not in sys.path:
    # grpc_tools writes `from colt.v1 import ...`, rooted at python-bridge/.
    sys.path.insert(0, _HERE)

try:
    from colt.v1 import bridge_pb2 as pb  # noqa: E402
    from colt.v1 import bridge_pb2_grpc as pb_grpc  # noqa: E402
except ImportError as err:  # pragma: no cover - only without set-up
    raise ImportError(
        "generated gRPC stubs are missing: run `bash scripts/setup` from the repository root"
    ) from err

__all__ = ["pb", "pb_grpc"]
