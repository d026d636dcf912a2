"""One tuning task: its module and target, design spaces, mutators, postprocessors, cost model,
measurer and database. Everything the search asks of TVM goes through here."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import tvm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.analysis import estimate_tir_flops
from tvm.s_tir.meta_schedule import _ffi_api as ms_ffi
from tvm.s_tir.meta_schedule.utils import shash2hex
from tvm.s_tir.schedule import Trace

from .errors import InvalidArgument, one_line
from .measure import MeasureSettings, Measurer, MeasureOutcome
from .traces import (
    DecisionInfo,
    _seed,
    check_decision,
    plain,
    decisions_of,
    replay,
    trace_to_json,
    without_postproc,
)

# MetaSchedule commits failed trials with this run time.
FAILED_RUN_SECS = 1e10


@dataclass
class Prepared:
    """A trace replayed, post-processed and ready to predict or measure."""

    trace_json: str
    shash: str
    sch: Schedule
    candidate: ms.MeasureCandidate
    decisions: list[DecisionInfo]


class ApplyFailure(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Task:
    """A tuning task. Calls are serialised by `lock`: TVM's objects here are not thread-safe."""

    def __init__(
        self,
        task_id: str,
        name: str,
        mod: tvm.IRModule,
        target: tvm.target.Target,
        work_dir: str,
        seed: int,
        cost_model: str,
        settings: MeasureSettings,
        num_warmup_samples: int = 16,
    ):
        self.task_id = task_id
        self.name = name
        self.mod = mod
        self.target = target
        self.lock = threading.Lock()
        self.seed = seed
        self.ctx = ms.TuneContext(
            mod=mod,
            target=target,
            space_generator="post-order-apply",
            task_name=name,
            rand_state=_seed(seed),
            num_threads=int(target.attrs.get("num-cores", 0) or 0) or "physical",
        )
        self.design_spaces = self.ctx.generate_design_space()
        generator = self.ctx.space_generator
        self.postprocs = list(generator.postprocs)
        self.mutators = {type(m).__name__: (m, float(p)) for m, p in generator.mutator_probs.items()}
        if cost_model == "random":
            self.cost_model = ms.cost_model.RandomModel(seed=_seed(seed))
        else:
            # TVM's default waits for 100 samples before it trusts XGBoost, which is more
            # trials than a COLT run may spend in total; we train from the first batch on.
            self.cost_model = ms.cost_model.XGBModel(
                num_warmup_samples=num_warmup_samples,
                num_tuning_cores=max(1, int(target.attrs.get("num-cores", 1) or 1)),
            )
        self.database = ms.database.JSONDatabase(work_dir=work_dir) if work_dir else ms.database.MemoryDatabase()
        self.workload = self.database.commit_workload(mod)
        self.measurer = Measurer(target, settings)
        self.flop = float(estimate_tir_flops(mod))
        self._cache: OrderedDict[str, Prepared] = OrderedDict()
        self._counter = 0

    # --- schedules -------------------------------------------------------------------------

    def _next_seed(self, seed: int) -> int:
        self._counter += 1
        return _seed(seed * 1_000_003 + self._counter)

    def prepare_trace(self, trace: Trace, seed: int) -> Prepared:
        """Replays `trace` on a fresh schedule and runs the target's postprocessors on it."""
        sch = Schedule(self.mod, seed=_seed(seed), debug_mask="none", error_render_level="none")
        try:
            trace.apply_to_schedule(sch, remove_postproc=True)
        except Exception as err:  # pylint: disable=broad-except
            raise ApplyFailure("SCHEDULE_ERROR", one_line(err)) from None
        wire = without_postproc(sch)
        sch.enter_postproc()
        for postproc in self.postprocs:
            try:
                ok = postproc.apply(sch)
            except Exception as err:  # pylint: disable=broad-except
                raise ApplyFailure("POSTPROC_FAILED", f"{type(postproc).__name__}: {one_line(err)}") from None
            if not ok:
                raise ApplyFailure("POSTPROC_FAILED", f"{type(postproc).__name__} rejected the schedule")
        trace_json = trace_to_json(wire)
        prepared = Prepared(
            trace_json=trace_json,
            shash=shash2hex(sch.mod),
            sch=sch,
            candidate=ms.MeasureCandidate(sch, ms.arg_info.ArgInfo.from_entry_func(sch.mod, remove_preproc=True)),
            decisions=decisions_of(wire),
        )
        self._remember(prepared)
        return prepared

    def prepare_json(self, trace_json: str) -> Prepared:
        cached = self._cache.get(trace_json)
        if cached is not None:
            self._cache.move_to_end(trace_json)
            return cached
        sch = replay(self.mod, trace_json, self.seed)
        try:
            return self.prepare_trace(without_postproc(sch), self.seed)
        except ApplyFailure as err:
            raise InvalidArgument(f"trace is not a valid schedule for this task: {err.message}") from None

    def _remember(self, prepared: Prepared) -> None:
        self._cache[prepared.trace_json] = prepared
        self._cache.move_to_end(prepared.trace_json)
        while len(self._cache) > 4096:
            self._cache.popitem(last=False)

    def sample_initial(self, count: int, seed: int) -> tuple[list[Prepared], int]:
        """Fresh random decisions on the design spaces' instructions, as evolutionary search does."""
        out: list[Prepared] = []
        failures = 0
        attempts = 0
        while len(out) < count and attempts < max(4 * count, 16):
            space = self.design_spaces[attempts % len(self.design_spaces)]
            attempts += 1
            unsampled = Trace(space.trace.insts, {})
            try:
                out.append(self.prepare_trace(unsampled, self._next_seed(seed)))
            except ApplyFailure:
                failures += 1
        return out, failures

    def apply(self, trace_json: str, transformations: list[dict], seed: int):
        """Applies the transformations in order; returns (Prepared | None, outcomes, error)."""
        trace = without_postproc(replay(self.mod, trace_json, seed))
        outcomes: list[tuple[bool, str, str]] = []
        applied = 0
        for step in transformations:
            try:
                trace = self._apply_one(trace, step, self._next_seed(seed))
                outcomes.append((True, "APPLY_OK", ""))
                applied += 1
            except ApplyFailure as err:
                outcomes.append((False, err.code, err.message))
        if applied == 0:
            first = next(((c, m) for ok, c, m in outcomes if not ok), ("MUTATOR_FAILED", "no transformation given"))
            return None, outcomes, first
        try:
            prepared = self.prepare_trace(trace, self._next_seed(seed))
        except ApplyFailure as err:
            return None, outcomes, (err.code, err.message)
        return prepared, outcomes, None

    def _apply_one(self, trace: Trace, step: dict, seed: int) -> Trace:
        if "mutator" in step:
            name = step["mutator"]
            entry = self.mutators.get(name)
            if entry is None:
                raise ApplyFailure(
                    "UNKNOWN_TRANSFORMATION",
                    f"no mutator {name!r} for this target; known: {', '.join(sorted(self.mutators))}",
                )
            try:
                new_trace = ms_ffi.MutatorApply(entry[0], trace, seed)  # pylint: disable=no-member
            except Exception as err:  # pylint: disable=broad-except
                raise ApplyFailure("MUTATOR_FAILED", f"{name}: {one_line(err)}") from None
            if new_trace is None:
                raise ApplyFailure("MUTATOR_FAILED", f"{name} found nothing to change")
            return new_trace
        index, value = step["inst_index"], step["value"]
        info = next((d for d in decisions_of(trace) if d.inst_index == index), None)
        if info is None:
            raise ApplyFailure("UNKNOWN_TRANSFORMATION", f"instruction {index} is not a sampling decision")
        try:
            value = check_decision(info, value)
        except ValueError as err:
            raise ApplyFailure("INVALID_DECISION", str(err)) from None
        return trace.with_decision(trace.insts[index], value, remove_postproc=True)

    # --- cost model and measurement --------------------------------------------------------

    def predict(self, trace_jsons: list[str]) -> list[float]:
        if not trace_jsons:
            return []
        candidates = [self.prepare_json(t).candidate for t in trace_jsons]
        scores = np.asarray(self.cost_model.predict(self.ctx, candidates), dtype="float64")
        return [float(s) if np.isfinite(s) else 0.0 for s in scores]

    def measure(self, trace_jsons: list[str], commit: bool = True) -> tuple[list[MeasureOutcome], float, float]:
        prepared = [self.prepare_json(t) for t in trace_jsons]
        outcomes, build_wall, run_wall = self.measurer.measure([p.sch.mod for p in prepared], [p.candidate.args_info for p in prepared])
        if prepared:
            self.cost_model.update(self.ctx, [p.candidate for p in prepared], [o.runner_result() for o in outcomes])
        if commit:
            for p, outcome in zip(prepared, outcomes):
                self.commit(p, outcome.run_secs if outcome.ok else [FAILED_RUN_SECS])
        return outcomes, build_wall, run_wall

    def commit(self, prepared: Prepared, run_secs: list[float]) -> None:
        # The record keeps the full trace, postprocessing included, as MetaSchedule's own do.
        record = ms.database.TuningRecord(
            trace=prepared.sch.trace,
            workload=self.workload,
            run_secs=[float(s) for s in run_secs],
            target=self.target,
            args_info=prepared.candidate.args_info,
        )
        self.database.commit_tuning_record(record)

    def measure_untuned(self) -> tuple[list[MeasureOutcome], float, float]:
        args = ms.arg_info.ArgInfo.from_prim_func(self.mod["main"])
        return self.measurer.measure([self.mod], [args])

    def describe(self) -> dict:
        return {
            "flop": self.flop,
            "target_json": json.dumps(_target_dict(self.target), separators=(",", ":")),
            "workload_key": shash2hex(self.mod),
            "tvmscript": self.mod.script(),
        }

    def close(self) -> None:
        self.measurer.close()
        self._cache.clear()


def _target_dict(target) -> dict:
    return plain(dict(target.export()))


def ensure_work_dir(work_dir: str) -> None:
    if not work_dir:
        return
    try:
        os.makedirs(work_dir, exist_ok=True)
        probe = os.path.join(work_dir, ".colt-write-probe")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("")
        os.remove(probe)
    except OSError as err:
        raise InvalidArgument(f"work dir {work_dir} is not writable: {err.strerror}") from None
