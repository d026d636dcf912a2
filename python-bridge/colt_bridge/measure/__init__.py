"""Building and running candidates on the target, with failures sorted into typed errors.

One interface, `Measurer` (base.py), and two measurers: `LocalMeasurer` (local.py) runs on this
host with MetaSchedule's LocalRunner's steps; `RpcMeasurer` (rpc.py) runs on the devices of a
TVM RPC tracker. Both build on the warm `BuildPool` (builder.py) and check each trial's outputs
against the untuned module's (check.py) unless told not to. The functions their runner worker
processes run are local_worker.py's and rpc_worker.py's. `create_measurer` picks a measurer.
"""

from __future__ import annotations

import os

# Runner workers unpickle their functions (local_worker.run_local, rpc_worker.run_on_device) by
# reference: they must find this package.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _PACKAGE_ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)

# pylint: disable=wrong-import-position
from .base import MeasureOutcome, MeasureSettings, Measurer, device_type_of  # noqa: E402
from .builder import BuildPool  # noqa: E402
from .local import LocalMeasurer  # noqa: E402
from .rpc import RpcMeasurer, RpcSettings, TrackerError, check_tracker  # noqa: E402


def create_measurer(target, settings: MeasureSettings, untuned=None) -> Measurer:
    """The RPC measurer when settings.rpc is set (the tracker must offer a device), else the local
    one. untuned: the task's module, whose outputs the correctness check compares against."""
    if settings.rpc is None:
        return LocalMeasurer(target, settings, untuned)
    devices = check_tracker(settings.rpc)
    return RpcMeasurer(target, settings, settings.rpc, device_type_of(target), len(devices), untuned)


__all__ = [
    "BuildPool",
    "LocalMeasurer",
    "MeasureOutcome",
    "MeasureSettings",
    "Measurer",
    "RpcMeasurer",
    "RpcSettings",
    "TrackerError",
    "check_tracker",
    "create_measurer",
]
