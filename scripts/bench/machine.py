"""The Python side of a bench's machine record: versions, which BLAS numpy calls, and LLVM's
name for this CPU. Given the bench's workloads (one argument, comma-separated), it also loads
each as every run will, and says which cannot be (`workloadErrors`), so that the bench refuses
them before its first run rather than recording each of its runs as failed."""

from __future__ import annotations

import platform
import sys

import numpy as np
import tvm
from tvm.target import codegen

from _common import emit, load_workload
from colt_bridge.errors import BridgeError


def _blas() -> dict:
    try:
        config = np.show_config(mode="dicts")
        info = config.get("Build Dependencies", {}).get("blas", {})
        return {k: info.get(k) for k in ("name", "version", "openblas configuration") if info.get(k)}
    except Exception:  # pylint: disable=broad-except
        return {}


def _workload_errors(specs: list[str]) -> dict:
    errors = {}
    for spec in specs:
        try:
            load_workload(spec)
        except BridgeError as err:  # the bridge's one-line refusals (InvalidArgument, ...)
            errors[spec] = err.message
    return errors


def main() -> int:
    specs = [s for s in sys.argv[1].split(",") if s] if len(sys.argv) > 1 else []
    emit(
        {
            "python": platform.python_version(),
            "tvm": tvm.__version__,
            "numpy": np.__version__,
            "blas": _blas(),
            "llvmHostCpu": str(codegen.llvm_get_system_cpu()),
            "workloadErrors": _workload_errors(specs),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
