"""What every measurer shares: its settings, the outcome of one trial, how TVM's build errors
read, and `Measurer`, the interface the task measures through (with the correctness check
around each batch)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from tvm.s_tir import meta_schedule as ms

from ..targets import target_kind
from .check import ResultCheck


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


def short_message(message: str, limit: int = 400) -> str:
    """The last few meaningful lines of a TVM error, on one line."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    text = " | ".join(lines[-3:]) if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def device_type_of(target) -> str:
    # RunnerInput wants the device type ("cpu"), not the target kind ("llvm").
    kind = target_kind(target)
    return "cpu" if kind in ("llvm", "c") else kind


class Measurer(abc.ABC):
    """Builds and runs a batch of modules; the correctness check wraps every batch.

    Subclasses implement `_run(mods, args_infos, check_inputs, timing)`: an outcome per module
    (carrying `outputs` where check_inputs[i] was given), the build and the run wall seconds;
    timing is the evaluator's (number, repeat, min_repeat_ms, cpu cache flush), or None for the
    check's run alone.
    """

    # Whether batches may be measured side by side (the task then lets go of its lock).
    concurrent = False
    # RPC devices offered when the measurer opened; 0 on this host.
    devices_at_open = 0

    def __init__(self, target, settings: MeasureSettings, untuned=None):
        self.settings = settings
        self.check = ResultCheck(untuned, target) if settings.check_correctness and untuned is not None else None

    def _timing(self, untuned: bool) -> tuple:
        """The evaluator's settings. The untuned build is timed for the summary's comparison,
        not in a contest, and may run a thousand times longer than a trial: one run, repeated
        only as far as min_repeat_ms asks (a fast kernel), not `number` times over."""
        s = self.settings
        if untuned:
            return (1, 1, s.min_repeat_ms, s.enable_cpu_cache_flush)
        return (s.number, s.repeat, s.min_repeat_ms, s.enable_cpu_cache_flush)

    def measure(self, mods: list, args_infos: list, untuned: bool = False) -> tuple[list[MeasureOutcome], float, float]:
        """An outcome per module, and the wall seconds spent building and running. A trial whose
        outputs differ from the untuned module's is WRONG_RESULT. untuned: mods is the task's
        untuned module alone, whose run on the check's data gives the reference on the way."""
        check = self.check
        timing = self._timing(untuned)
        if check is None or check.off:
            return self._run(mods, args_infos, [None] * len(mods), timing)
        # On a CPU the untuned module is its own reference: its measurement gives the reference.
        if untuned and not check.ready and len(mods) == 1 and check.mod is check.untuned:
            outcomes, build_wall, run_wall = self._run(mods, args_infos, [check.inputs], timing)
            check.adopt(outcomes[0])
        else:
            if not untuned:
                check.ensure(self._reference_run)
            outcomes, build_wall, run_wall = self._run(mods, args_infos, [check.inputs_for(a) for a in args_infos], timing)
        return [check.judge(o) for o in outcomes], build_wall, run_wall

    def _reference_run(self, mod, args_info, inputs) -> MeasureOutcome:
        """One untimed run of the untuned module on the check's data, its outputs fetched."""
        outcomes, _, _ = self._run([mod], [args_info], [inputs], None)
        return outcomes[0]

    @abc.abstractmethod
    def _run(self, mods: list, args_infos: list, check_inputs: list, timing: tuple | None) -> tuple[list[MeasureOutcome], float, float]:
        """An outcome per module; timing None: no timing runs, only the check's run."""

    @abc.abstractmethod
    def close(self) -> None:
        """Lets go of the measurer's worker processes."""
