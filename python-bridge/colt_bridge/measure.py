"""Building and running candidates on the target, with failures sorted into typed errors.

One interface, two runners: `LocalMeasurer` runs on this host, with MetaSchedule's LocalRunner's
steps; `rpc.RpcMeasurer` runs on the devices of a TVM RPC tracker. `create_measurer` picks one.
Both check each trial's outputs against the untuned module's (check.py) unless told not to.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.builder import local_builder
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind

from .check import ResultCheck
from .local_worker import run_local
from .targets import target_kind

# Runner workers unpickle their functions (run_local, rpc_worker.run_on_device) by reference:
# they must find this package.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PACKAGE_ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)


@dataclass
class MeasureSettings:
    number: int = 3
    repeat: int = 1
    min_repeat_ms: int = 40
    timeout_sec: float = 30.0
    enable_cpu_cache_flush: bool = False
    max_workers: int | None = None
    # Runs go to an RPC tracker's devices when set (an rpc.RpcSettings).
    rpc: object | None = None
    # Each trial's outputs are compared with the untuned module's (WRONG_RESULT when they differ).
    check_correctness: bool = True


@dataclass
class MeasureOutcome:
    ok: bool
    run_secs: list[float] = field(default_factory=list)
    code: str = "MEASURE_OK"
    message: str = ""
    build_secs: float = 0.0
    device: str = ""
    attempts: int = 1
    # The arguments after the correctness check's run, until the check has judged them.
    outputs: list | None = field(default=None, repr=False, compare=False)

    @property
    def committable(self) -> bool:
        """Whether the trial says something about the schedule: a lost device says nothing."""
        return self.code != "DEVICE_LOST"

    def runner_result(self) -> ms.runner.RunnerResult:
        if self.ok:
            return ms.runner.RunnerResult(run_secs=self.run_secs, error_msg=None)
        return ms.runner.RunnerResult(run_secs=None, error_msg=self.message or self.code)


def classify_build_error(message: str) -> str:
    return "TIMED_OUT" if "timeout" in message.lower() else "BUILD_FAILED"


def classify_run_error(message: str) -> str:
    """A LocalRunner error; the RPC runner sorts its own (rpc.classify_rpc_result)."""
    low = message.lower()
    if "timeout" in low or "timed out" in low:
        return "TIMED_OUT"
    return "RUN_FAILED"


def short_message(message: str, limit: int = 400) -> str:
    """The last few meaningful lines of a TVM error, on one line."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    text = " | ".join(lines[-3:]) if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class BuildPool:
    """MetaSchedule's local build step on worker processes that stay warm between batches.

    LocalBuilder starts a fresh process pool for every batch, and each fresh worker spends
    10-20 s importing TVM's tensor intrinsics before its first build (measured here on GMM:0:
    a batch of 2 took 17 s, of 16 also 17 s, while a warm worker builds one in 0.08 s). The
    workers import them once, at start-up, outside any build's timeout, and are recycled after
    `max_uses` builds to bound the memory they leak.
    """

    _pools: dict[tuple[int, float], "BuildPool"] = {}
    _lock = threading.Lock()

    def __init__(self, workers: int, timeout_sec: float, max_uses: int = 256):
        self.workers = workers
        self.pool = PopenPoolExecutor(
            max_workers=workers,
            timeout=timeout_sec,
            initializer=importlib.import_module,
            initargs=("tvm.s_tir.tensor_intrin",),
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


def device_type_of(target) -> str:
    # RunnerInput wants the device type ("cpu"), not the target kind ("llvm").
    kind = target_kind(target)
    return "cpu" if kind in ("llvm", "c") else kind


def create_measurer(target, settings: MeasureSettings, untuned=None):
    """The RPC measurer when settings.rpc is set (the tracker must offer a device), else the local
    one. untuned: the task's module, whose outputs the correctness check compares against."""
    if settings.rpc is None:
        return LocalMeasurer(target, settings, untuned)
    from .rpc import RpcMeasurer, check_tracker  # pylint: disable=import-outside-toplevel

    devices = check_tracker(settings.rpc)
    return RpcMeasurer(target, settings, settings.rpc, device_type_of(target), len(devices), untuned)


class Measurer:
    """What the local and the RPC measurer share: the correctness check around their batches.

    Subclasses implement `_run(mods, args_infos, check_inputs, timed)`: an outcome per module
    (carrying `outputs` where check_inputs[i] was given), the build and the run wall seconds.
    """

    def __init__(self, target, settings: MeasureSettings, untuned=None):
        self.check = ResultCheck(untuned, target) if settings.check_correctness and untuned is not None else None

    def measure(self, mods: list, args_infos: list, untuned: bool = False) -> tuple[list[MeasureOutcome], float, float]:
        """An outcome per module, and the wall seconds spent building and running. A trial whose
        outputs differ from the untuned module's is WRONG_RESULT. untuned: mods is the task's
        untuned module alone, whose run on the check's data gives the reference on the way."""
        check = self.check
        if check is None or check.off:
            return self._run(mods, args_infos, [None] * len(mods), True)
        # On a CPU the untuned module is its own reference: its measurement gives the reference.
        if untuned and not check.ready and len(mods) == 1 and check.mod is check.untuned:
            outcomes, build_wall, run_wall = self._run(mods, args_infos, [check.inputs], True)
            check.adopt(outcomes[0])
        else:
            if not untuned:
                check.ensure(self._reference_run)
            outcomes, build_wall, run_wall = self._run(mods, args_infos, [check.inputs_for(a) for a in args_infos], True)
        return [check.judge(o) for o in outcomes], build_wall, run_wall

    def _reference_run(self, mod, args_info, inputs) -> MeasureOutcome:
        """One untimed run of the untuned module on the check's data, its outputs fetched."""
        outcomes, _, _ = self._run([mod], [args_info], [inputs], False)
        return outcomes[0]

    def _run(self, mods, args_infos, check_inputs, timed):  # pragma: no cover - abstract
        raise NotImplementedError


class LocalMeasurer(Measurer):
    """Builds on a warm BuildPool and runs each artifact in a runner worker on this host."""

    # One batch at a time: two would time each other's runs on the same cores.
    concurrent = False

    def __init__(self, target, settings: MeasureSettings, untuned=None):
        super().__init__(target, settings, untuned)
        self.target = target
        self.settings = settings
        self.device_type = device_type_of(target)
        self.builder = BuildPool.get(settings.max_workers, settings.timeout_sec)
        self.builder.warm()
        # MetaSchedule's LocalRunner's pool, with our worker function: it hands the check's
        # outputs back, which LocalRunner's cannot.
        self.pool = PopenPoolExecutor(
            max_workers=1,
            timeout=settings.timeout_sec,
            initializer=importlib.import_module,
            initargs=("tvm.s_tir.meta_schedule.runner.local_runner",),
            stderr=None if logging.getLogger().level <= logging.DEBUG else subprocess.DEVNULL,
        )
        self.pool.submit(int, 0)  # starts the worker now, not at the first trial

    def _run(self, mods: list, args_infos: list, check_inputs: list, timed: bool) -> tuple[list[MeasureOutcome], float, float]:
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
        evaluator = (s.number, s.repeat, s.min_repeat_ms, s.enable_cpu_cache_flush) if timed else None
        futures = [
            self.pool.submit(
                run_local,
                evaluator,
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
