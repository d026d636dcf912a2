"""The generated stubs of the daemon's and the bridge's services (scripts/setup makes them)."""

from colt_bridge.proto import pb, pb_grpc  # noqa: F401  (puts the generated `colt` package on the path)

try:
    from colt.v1 import tuner_pb2 as tpb  # noqa: E402
    from colt.v1 import tuner_pb2_grpc as tpb_grpc  # noqa: E402
except ImportError as err:  # pragma: no cover - only without set-up
    raise ImportError("generated gRPC stubs are missing: run `bash scripts/setup` in the COLT checkout") from err

__all__ = ["pb", "pb_grpc", "tpb", "tpb_grpc"]
