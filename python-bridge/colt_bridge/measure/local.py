"""Measuring on this host, with MetaSchedule's LocalRunner's steps: builds on the warm
BuildPool, runs one at a time in a runner worker (local_worker.run_local)."""

from __future__ import annotations

import importlib
import logging
import subprocess
import time

from tvm.s_tir import meta_schedule as ms

from .base import MeasureOutcome, MeasureSettings, Measurer, classify_build_error, device_type_of, short_message
from .builder import BuildPool
from .guarded import GuardedPool
from .local_worker import run_local


def classify_run_error(message: str) -> str:
    """A LocalRunner error; the RPC runner sorts its own (rpc.classify_rpc_result)."""
    low = message.lower()
    if "timeout" in low or "timed out" in low:
        return "TIMED_OUT"
    return "RUN_FAILED"


class LocalMeasurer(Measurer):
    """Builds on a warm BuildPool and runs each artifact in a runner worker on this host."""

    # One batch at a time: two would time each other's runs on the same cores.
    concurrent = False

    def __init__(self, target, settings: MeasureSettings, untuned=None):
        super().__init__(target, settings, untuned)
        self.target = target
        self.device_type = device_type_of(target)
        self.builder = BuildPool.get(settings.max_workers, settings.timeout_sec)
        self.builder.warm()
        # MetaSchedule's LocalRunner's pool, with our worker function: it hands the check's
        # outputs back, which LocalRunner's cannot.
        self.pool = GuardedPool(
            max_workers=1,
            timeout=settings.timeout_sec,
            initializer=importlib.import_module,
            initargs=("tvm.s_tir.meta_schedule.runner.local_runner",),
            stderr=None if logging.getLogger().level <= logging.DEBUG else subprocess.DEVNULL,
        )
        self.pool.submit(int, 0)  # starts the worker now, not at the first trial

    def _run(self, mods: list, args_infos: list, check_inputs: list, timing: tuple | None) -> tuple[list[MeasureOutcome], float, float]:
        started = time.perf_counter()
        built = self.builder.build(mods, self.target)
        build_wall = time.perf_counter() - started
        outcomes: list[MeasureOutcome | None] = [None] * len(mods)
        runnable = []
        for i, (_, error) in enumerate(built):
            if error:
                msg = short_message(error)
                outcomes[i] = MeasureOutcome(False, code=classify_build_error(msg), message=msg)
            else:
                runnable.append(i)
        started = time.perf_counter()
        s = self.settings
        futures = [
            self.pool.submit(
                run_local,
                timing,
                built[i][0],
                self.device_type,
                tuple(arg.as_json() for arg in args_infos[i]),
                check_inputs[i],
            )
            for i in runnable
        ]
        for i, future in zip(runnable, futures):
            try:
                result = future.result()
            except TimeoutError:
                msg = f"LocalRunner: Timeout, killed after {s.timeout_sec} seconds"
                outcomes[i] = MeasureOutcome(False, code="TIMED_OUT", message=msg)
                continue
            except Exception as err:  # pylint: disable=broad-except
                msg = short_message("LocalRunner: An exception occurred\n" + str(err))
                outcomes[i] = MeasureOutcome(False, code=classify_run_error(msg), message=msg)
                continue
            outcomes[i] = MeasureOutcome(True, run_secs=result.get("run_secs", []), outputs=result.get("outputs"))
        run_wall = time.perf_counter() - started
        for i in runnable:
            ms.utils.remove_build_dir(built[i][0])
        per_build = build_wall / max(1, len(mods))
        for outcome in outcomes:
            outcome.build_secs = per_build
        return outcomes, build_wall, run_wall  # type: ignore[return-value]

    def close(self) -> None:
        """The build pool is shared by tasks and outlives this one; the runner's pool does not."""
        self.pool.shutdown()
