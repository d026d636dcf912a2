"""The COLT TVM bridge: a small gRPC server around TVM MetaSchedule. It holds no search logic."""

__version__ = "0.1.0"
