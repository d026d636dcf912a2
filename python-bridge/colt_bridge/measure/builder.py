"""The local build step, shared by every measurer: MetaSchedule's LocalBuilder's, on worker
processes that stay warm between batches."""

from __future__ import annotations

import os
import threading

from tvm.s_tir.meta_schedule.builder import local_builder
from tvm.support.popen_pool import StatusKind

from ..intrinsics import import_tensor_intrinsics
from .guarded import GuardedPool


class BuildPool:
    """MetaSchedule's local build step on worker processes that stay warm between batches.

    LocalBuilder starts a fresh process pool for every batch, and each fresh worker spends
    10-20 s importing TVM's tensor intrinsics before its first build (measured here on GMM:0:
    a batch of 2 took 17 s, of 16 also 17 s, while a warm worker builds one in 0.08 s). The
    workers import them once, at start-up, outside any build's timeout (and in a fifth of the
    time: see intrinsics.py), and are recycled after `max_uses` builds to bound the memory they
    leak.
    """

    _pools: dict[tuple[int, float], "BuildPool"] = {}
    _lock = threading.Lock()

    def __init__(self, workers: int, timeout_sec: float, max_uses: int = 256):
        self.workers = workers
        self.pool = GuardedPool(
            max_workers=workers,
            timeout=timeout_sec,
            initializer=import_tensor_intrinsics,
            maximum_process_uses=max_uses,
        )
        self.timeout_sec = timeout_sec

    @classmethod
    def get(cls, workers: int | None, timeout_sec: float) -> "BuildPool":
        key = (workers or os.cpu_count() or 1, float(timeout_sec))
        with cls._lock:
            if key not in cls._pools:
                cls._pools[key] = BuildPool(*key)
            return cls._pools[key]

    def warm(self) -> None:
        """Starts the workers in the background; returns at once."""
        for _ in range(self.workers):
            self.pool.submit(int, 0)

    def submit(self, mod, target):
        """One build in the background; pass the future to result()."""
        return self.pool.submit(local_builder._worker_func, None, None, mod, target, None)  # pylint: disable=protected-access

    def result(self, future) -> tuple[str | None, str | None]:
        """(artifact path, None) or (None, error) for a future from submit()."""
        try:
            return future.result(), None
        except TimeoutError:
            return None, f"LocalBuilder: Timeout, killed after {self.timeout_sec} seconds"
        except Exception as err:  # pylint: disable=broad-except
            return None, "LocalBuilder: An exception occurred\n" + str(err)

    def build(self, mods: list, target) -> list[tuple[str | None, str | None]]:
        """(artifact path, None) or (None, error) per module, as LocalBuilder reports them."""
        out: list[tuple[str | None, str | None]] = []
        for result in self.pool.map_with_error_catching(
            lambda args: local_builder._worker_func(*args),  # pylint: disable=protected-access
            [(None, None, mod, target, None) for mod in mods],
        ):
            if result.status == StatusKind.COMPLETE:
                out.append((result.value, None))
            elif result.status == StatusKind.TIMEOUT:
                out.append((None, f"LocalBuilder: Timeout, killed after {self.timeout_sec} seconds"))
            else:
                out.append((None, "LocalBuilder: An exception occurred\n" + str(result.value)))
        return out
