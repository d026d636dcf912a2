"""Building and running candidates on the target, with failures sorted into typed errors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.runner import EvaluatorConfig

from .targets import target_kind


@dataclass
class MeasureSettings:
    number: int = 3
    repeat: int = 1
    min_repeat_ms: int = 40
    timeout_sec: float = 30.0
    enable_cpu_cache_flush: bool = False
    max_workers: int | None = None


@dataclass
class MeasureOutcome:
    ok: bool
    run_secs: list[float] = field(default_factory=list)
    code: str = "MEASURE_OK"
    message: str = ""
    build_secs: float = 0.0

    def runner_result(self) -> ms.runner.RunnerResult:
        if self.ok:
            return ms.runner.RunnerResult(run_secs=self.run_secs, error_msg=None)
        return ms.runner.RunnerResult(run_secs=None, error_msg=self.message or self.code)


def classify_build_error(message: str) -> str:
    return "TIMED_OUT" if "timeout" in message.lower() else "BUILD_FAILED"


def classify_run_error(message: str) -> str:
    low = message.lower()
    if "timeout" in low or "timed out" in low:
        return "TIMED_OUT"
    if "rpc" in low and any(w in low for w in ("connection", "session", "closed", "lost", "refused", "reset")):
        return "DEVICE_LOST"
    return "RUN_FAILED"


def _short(message: str, limit: int = 400) -> str:
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    text = " | ".join(lines[-3:]) if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Measurer:
    """Builds with MetaSchedule's LocalBuilder and runs with its LocalRunner."""

    def __init__(self, target, settings: MeasureSettings):
        self.target = target
        self.settings = settings
        # RunnerInput wants the device type ("cpu"), not the target kind ("llvm").
        kind = target_kind(target)
        self.device_type = "cpu" if kind in ("llvm", "c") else kind
        self.builder = ms.builder.LocalBuilder(max_workers=settings.max_workers, timeout_sec=settings.timeout_sec)
        self.runner = ms.runner.LocalRunner(
            timeout_sec=settings.timeout_sec,
            evaluator_config=EvaluatorConfig(
                number=settings.number,
                repeat=settings.repeat,
                min_repeat_ms=settings.min_repeat_ms,
                enable_cpu_cache_flush=settings.enable_cpu_cache_flush,
            ),
        )

    def measure(self, mods: list, args_infos: list) -> tuple[list[MeasureOutcome], float, float]:
        """Returns an outcome per module, and the wall seconds spent building and running."""
        started = time.perf_counter()
        built = self.builder.build([ms.builder.BuilderInput(mod, self.target) for mod in mods])
        build_wall = time.perf_counter() - started
        outcomes: list[MeasureOutcome | None] = [None] * len(mods)
        runnable = []
        for i, result in enumerate(built):
            if result.error_msg:
                msg = _short(result.error_msg)
                outcomes[i] = MeasureOutcome(False, code=classify_build_error(msg), message=msg)
            else:
                runnable.append(i)
        started = time.perf_counter()
        futures = self.runner.run(
            [
                ms.runner.RunnerInput(built[i].artifact_path, self.device_type, args_infos[i])
                for i in runnable
            ]
        )
        for i, future in zip(runnable, futures):
            result = future.result()
            if result.error_msg:
                msg = _short(result.error_msg)
                outcomes[i] = MeasureOutcome(False, code=classify_run_error(msg), message=msg)
            else:
                outcomes[i] = MeasureOutcome(True, run_secs=[float(s) for s in result.run_secs])
        run_wall = time.perf_counter() - started
        for i in runnable:
            ms.utils.remove_build_dir(built[i].artifact_path)
        per_build = build_wall / max(1, len(mods))
        for outcome in outcomes:
            outcome.build_secs = per_build
        return outcomes, build_wall, run_wall  # type: ignore[return-value]

    def close(self) -> None:
        """Nothing held between batches: LocalBuilder and LocalRunner pool per call."""
