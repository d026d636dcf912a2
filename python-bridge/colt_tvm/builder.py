"""MetaSchedule's LocalBuilder, with build workers that start in seconds.

`ms.builder.LocalBuilder` starts fresh worker processes for every batch, and each one imports
TVM's tensor intrinsics (about 250 TVMScript functions) before it builds anything: 20-30 s per
batch on a 2-core machine, whatever the strategy. `local_builder()` is the same stock
LocalBuilder whose workers first install `colt_bridge.intrinsics` (the import in about 4 s, with
the same result), so a batch of small kernels builds in seconds:

    from colt_tvm import ColtSearch, local_builder

    db = ms.tune_tir(mod, target, work_dir="runs/x", max_trials_global=64,
                     builder=local_builder(), strategy=ColtSearch())

It speeds up any strategy, evolutionary search too; only the build workers change, never the
user's own process.
"""

from __future__ import annotations

import functools
from typing import Callable

from tvm.s_tir import meta_schedule as ms

from colt_bridge.intrinsics import import_tensor_intrinsics


def _then(first: Callable[[], None], then: Callable[[], None]) -> None:
    first()
    then()


def local_builder(
    *,
    max_workers: int | None = None,
    timeout_sec: float = 30.0,
    f_build=None,
    f_export=None,
    initializer: Callable[[], None] | None = None,
) -> ms.builder.LocalBuilder:
    """`ms.builder.LocalBuilder(...)` with the same arguments and defaults; its workers import the
    tensor intrinsics fast, then run `initializer` if one is given."""
    init: Callable[[], None] = import_tensor_intrinsics
    if initializer is not None:
        if not callable(initializer):
            raise TypeError(f"initializer must be callable, not {type(initializer).__name__}")
        # A partial of two module-level functions: the workers receive it pickled.
        init = functools.partial(_then, import_tensor_intrinsics, initializer)
    return ms.builder.LocalBuilder(
        max_workers=max_workers,
        timeout_sec=timeout_sec,
        f_build=f_build,
        f_export=f_export,
        initializer=init,
    )
