"""The Python side of a bench's machine record: versions, which BLAS numpy calls, and LLVM's
name for this CPU."""

from __future__ import annotations

import platform

import numpy as np
import tvm
from tvm.target import codegen

from _common import emit


def _blas() -> dict:
    try:
        config = np.show_config(mode="dicts")
        info = config.get("Build Dependencies", {}).get("blas", {})
        return {k: info.get(k) for k in ("name", "version", "openblas configuration") if info.get(k)}
    except Exception:  # pylint: disable=broad-except
        return {}


def main() -> int:
    emit(
        {
            "python": platform.python_version(),
            "tvm": tvm.__version__,
            "numpy": np.__version__,
            "blas": _blas(),
            "llvmHostCpu": str(codegen.llvm_get_system_cpu()),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
