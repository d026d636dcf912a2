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

from .database import set_aside_torn_lines, sync_database
from .errors import FailedPrecondition, InvalidArgument, one_line
from .measure import MeasureOutcome, MeasureSettings, create_measurer
from .pretrained import Pretrained
from .prior import vector_lanes, vector_score
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

# Set when the bridge is going away because its client is gone: a batch still landing is not
# committed then, so that a resumed run (whose new bridge may already be reading the database)
# measures it again instead of finding it half-written.
SHUTTING_DOWN = threading.Event()


@dataclass
class Prepared:
    """A trace replayed, post-processed and ready to predict or measure."""

    trace_json: str
    shash: str
    sch: Schedule
    candidate: ms.MeasureCandidate
    decisions: list[DecisionInfo]
    # The trace without its postprocessing, as mutators and set-decision edits take it: what
    # trace_json says, kept so that expanding this schedule does not replay it from JSON again.
    wire: Trace
    # The scheduled module's TVMScript, printed on first request (Task.tvmscripts).
    tvmscript: str | None = None
    # The cost model's features of this schedule (XGBModel's extractor), extracted on its first
    # prediction: a schedule's features never change, only the model that scores them.
    features: np.ndarray | None = None


class ApplyFailure(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StoredRecord:
    """A database record of the task's workload, replayed on the task (prepared None if it fails)."""

    prepared: Prepared | None
    run_secs: list[float]
    failed: bool


class Task:
    """A tuning task. Calls are serialised by `lock`: TVM's objects here are not thread-safe.
    `measure` takes the lock itself and, on RPC devices, lets go of it while the batch is out,
    so that the search can prepare the next batch meanwhile."""

    def __init__(
        self,
        task_id: str,
        name: str,
        ctx: ms.TuneContext,
        design_spaces: list[Schedule],
        cost_model,
        database,
        measurer,
        seed: int,
    ):
        """Use `Task.open` (the bridge owns everything) or `Task.hosted` (MetaSchedule does)."""
        self.task_id = task_id
        self.name = name
        self.ctx = ctx
        self.mod = ctx.mod
        self.target = ctx.target
        self.lock = threading.Lock()
        self.seed = seed
        # Set by Task.open: where its JSON database lives, and what the user should hear of it.
        self.work_dir = ""
        self.warnings: list[str] = []
        self.design_spaces = list(design_spaces)
        generator = ctx.space_generator
        self.postprocs = list(generator.postprocs or [])
        self.mutators = {type(m).__name__: (m, float(p)) for m, p in (generator.mutator_probs or {}).items()}
        self.cost_model = cost_model
        self.database = database
        self.workload = database.commit_workload(self.mod) if measurer is not None else None
        self.measurer = measurer
        self.flop = float(estimate_tir_flops(self.mod))
        self._cache: OrderedDict[str, Prepared] = OrderedDict()
        self._counter = 0
        self._lanes = vector_lanes(self.target, self.mod)
        # A cost model trained beforehand on other workloads (Task.open's pretrained), if any.
        self.pretrained: Pretrained | None = None

    @classmethod
    def open(
        cls,
        task_id: str,
        name: str,
        mod: tvm.IRModule,
        target: tvm.target.Target,
        work_dir: str,
        seed: int,
        cost_model: str,
        settings: MeasureSettings,
        num_warmup_samples: int = 8,
        pretrained: Pretrained | None = None,
    ) -> "Task":
        """A task the bridge runs end to end: its own context, cost model, measurer and database;
        `pretrained` scores beside an xgb cost model (colt_bridge.pretrained)."""
        # XGBoost's scores before it is trained come from numpy's global generator: seeded, so
        # that a run's first batch repeats with its seed (the bridge process is the run's own).
        np.random.seed(_seed(seed))
        ctx = ms.TuneContext(
            mod=mod,
            target=target,
            space_generator="post-order-apply",
            task_name=name,
            rand_state=_seed(seed),
            num_threads=int(target.attrs.get("num-cores", 0) or 0) or "physical",
        )
        if cost_model == "random":
            model = ms.cost_model.RandomModel(seed=_seed(seed))
        else:
            # TVM's default waits for 100 samples before it trusts XGBoost, which is more
            # trials than a COLT run may spend in total; we train from the first batch (8) on.
            model = ms.cost_model.XGBModel(
                num_warmup_samples=num_warmup_samples,
                num_tuning_cores=max(1, int(target.attrs.get("num-cores", 1) or 1)),
            )
        warnings = set_aside_torn_lines(work_dir) if work_dir else []
        database = ms.database.JSONDatabase(work_dir=work_dir) if work_dir else ms.database.MemoryDatabase()
        task = cls(
            task_id, name, ctx, ctx.generate_design_space(), model, database, create_measurer(target, settings, mod), seed
        )
        task.work_dir = work_dir
        task.warnings = warnings
        task.pretrained = pretrained
        return task

    @classmethod
    def hosted(cls, task_id: str, ctx: ms.TuneContext, design_spaces, database, cost_model, seed: int) -> "Task":
        """A task inside a MetaSchedule tuning run (colt_tvm): its TuneContext, design spaces,
        database and cost model are MetaSchedule's, and MetaSchedule's builder and runner measure
        and commit. The bridge applies, checks and scores schedules for the search, as it does
        for its own tasks; Measure and Commit are refused."""
        return cls(task_id, ctx.task_name or "main", ctx, design_spaces, cost_model, database, None, seed)

    @property
    def is_hosted(self) -> bool:
        return self.measurer is None

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
            wire=wire,
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

    def tvmscripts(self, trace_jsons: list[str]) -> list[str]:
        """The TVMScript of each trace's post-processed scheduled module: what an LLM is shown.
        Printed once per trace and kept with it in the task's bounded cache of prepared traces."""
        scripts = []
        for trace_json in trace_jsons:
            prepared = self.prepare_json(trace_json)
            if prepared.tvmscript is None:
                prepared.tvmscript = prepared.sch.mod.script()
            scripts.append(prepared.tvmscript)
        return scripts

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
        cached = self._cache.get(trace_json)
        if cached is not None:
            # The parent was prepared here (it almost always was): its trace as replaying its
            # JSON would give it, without the replay.
            self._cache.move_to_end(trace_json)
            trace = cached.wire
        else:
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
        prepared = [self.prepare_json(t) for t in trace_jsons]
        candidates = [p.candidate for p in prepared]
        if self.cost_model is None:
            # A MetaSchedule run without a cost model: no opinion, the search's order stands.
            return [0.0] * len(candidates)
        if self.pretrained is not None:
            # Trained beforehand on other workloads: alone until the run's own model is trained,
            # then beside it.
            own = self._predict_xgb(prepared) if self._trained_stock_xgb() else None
            scores = self.pretrained.blend(own, self.pretrained.predict(self._features(prepared)), self.cost_model.data_size)
        elif self._trained_stock_xgb():
            scores = self._predict_xgb(prepared)
        else:
            scores = np.asarray(self.cost_model.predict(self.ctx, candidates), dtype="float64")
        scores = np.where(np.isfinite(scores), scores, 0.0)
        if self.pretrained is None and self._untrained_xgb() and self._lanes > 0:
            # XGBoost's scores are random until its warm-up samples are in: lead with the
            # schedules that fill a vector register, and let its random scores break ties.
            prior = np.array([vector_score(p.sch.mod, self._lanes) for p in prepared])
            scores = prior + 1e-3 * np.clip(scores, 0.0, 1.0)
        return [float(s) for s in scores]

    def _trained_stock_xgb(self) -> bool:
        # Stock XGBModel only: a subclass may predict otherwise.
        return type(self.cost_model) is ms.cost_model.XGBModel and not self._untrained_xgb()  # pylint: disable=unidiomatic-typecheck

    def _features(self, prepared: list[Prepared]) -> list[np.ndarray]:
        """XGBModel's features of each schedule, extracted once: the search scores its unmeasured
        schedules again after every batch, and the extraction, not the booster, is what costs."""
        fresh = [p for p in prepared if p.features is None]
        if fresh:
            extracted = self.cost_model.extractor.extract_from(self.ctx, [p.candidate for p in fresh])
            for p, x in zip(fresh, extracted):
                p.features = x.numpy().astype("float32")
        return [p.features for p in prepared]

    def _predict_xgb(self, prepared: list[Prepared]) -> np.ndarray:
        """What XGBModel.predict answers once trained, on the cached features."""
        # XGBModel.predict's own trained path, minus the extraction (TVM 0.27).
        return np.asarray(self.cost_model._predict(xs=self._features(prepared)), dtype="float64")  # pylint: disable=protected-access

    def _untrained_xgb(self) -> bool:
        model = self.cost_model
        return isinstance(model, ms.cost_model.XGBModel) and (
            model.booster is None or model.data_size < model.num_warmup_samples
        )

    @property
    def devices(self) -> int:
        """RPC devices offered when the task opened; 0 with the local runner."""
        return getattr(self.measurer, "devices_at_open", 0)

    def measure(self, trace_jsons: list[str], commit: bool = True) -> tuple[list[MeasureOutcome], float, float]:
        """Builds and runs; learns from and commits every trial that says something about its schedule."""
        self._own_measurement("Measure")
        concurrent = getattr(self.measurer, "concurrent", False)
        with self.lock:
            prepared = [self.prepare_json(t) for t in trace_jsons]
            if not concurrent:
                outcomes, build_wall, run_wall = self._measure(prepared)
        if concurrent:
            outcomes, build_wall, run_wall = self._measure(prepared)
        with self.lock:
            # A lost device says nothing about the schedule: not a failure, not a slow run.
            kept = [(p, o) for p, o in zip(prepared, outcomes) if o.committable]
            if kept:
                self.cost_model.update(self.ctx, [p.candidate for p, _ in kept], [o.runner_result() for _, o in kept])
            if commit and not SHUTTING_DOWN.is_set():
                for p, outcome in kept:
                    self.commit(p, outcome.run_secs if outcome.ok else [FAILED_RUN_SECS])
                if kept and self.work_dir:
                    sync_database(self.work_dir)
        return outcomes, build_wall, run_wall

    def _measure(self, prepared: list[Prepared]) -> tuple[list[MeasureOutcome], float, float]:
        return self.measurer.measure([p.sch.mod for p in prepared], [p.candidate.args_info for p in prepared])

    def _own_measurement(self, what: str) -> None:
        if self.is_hosted:
            raise FailedPrecondition(f"{what}: task {self.task_id} is measured and recorded by its MetaSchedule run")

    def commit(self, prepared: Prepared, run_secs: list[float]) -> None:
        self._own_measurement("Commit")
        # The record keeps the full trace, postprocessing included, as MetaSchedule's own do.
        record = ms.database.TuningRecord(
            trace=prepared.sch.trace,
            workload=self.workload,
            run_secs=[float(s) for s in run_secs],
            target=self.target,
            args_info=prepared.candidate.args_info,
        )
        self.database.commit_tuning_record(record)

    def records(self, work_dir: str = "", limit: int = 0, train: bool = False) -> tuple[list[StoredRecord], int]:
        """The workload's records in the task's database, or in another run's (work_dir).

        limit > 0: the best `limit` successful records by mean run time. Returns the records and
        how many the database holds for the workload. train: the cost model learns from them all.
        """
        database = self.database if not work_dir else open_database(work_dir)
        if database is None:
            return [], 0
        key = shash2hex(self.mod)
        mine = [r for r in database.get_all_tuning_records() if shash2hex(r.workload.mod) == key]
        stored = []
        for record in mine:
            run_secs = [float(s) for s in record.run_secs] if record.run_secs is not None else []
            failed = not run_secs or min(run_secs) >= FAILED_RUN_SECS / 10
            try:
                prepared = self.prepare_trace(record.trace, self.seed)
            except ApplyFailure:
                prepared = None
            stored.append(StoredRecord(prepared, run_secs, failed))
        if train and self.cost_model is not None:
            usable = [r for r in stored if r.prepared is not None]
            if usable:
                self.cost_model.update(
                    self.ctx,
                    [r.prepared.candidate for r in usable],
                    [
                        ms.runner.RunnerResult(run_secs=None, error_msg="failed")
                        if r.failed
                        else ms.runner.RunnerResult(run_secs=r.run_secs, error_msg=None)
                        for r in usable
                    ],
                )
        total = len(stored)
        if limit > 0:
            ok = [r for r in stored if not r.failed and r.prepared is not None]
            stored = sorted(ok, key=lambda r: sum(r.run_secs) / len(r.run_secs))[:limit]
        return stored, total

    def measure_untuned(self) -> tuple[list[MeasureOutcome], float, float]:
        self._own_measurement("MeasureUntuned")
        args = ms.arg_info.ArgInfo.from_prim_func(self.mod["main"])
        return self.measurer.measure([self.mod], [args], untuned=True)

    def describe(self) -> dict:
        return {
            "flop": self.flop,
            "target_json": json.dumps(_target_dict(self.target), separators=(",", ":")),
            "workload_key": shash2hex(self.mod),
            "tvmscript": self.mod.script(),
        }

    def close(self) -> None:
        if self.measurer is not None:
            self.measurer.close()
        self._cache.clear()


def _target_dict(target) -> dict:
    return plain(dict(target.export()))


def open_database(work_dir: str):
    """Another run's JSON database, read as it is: a directory without one is a user's mistake."""
    files = [os.path.join(work_dir, f) for f in ("database_workload.json", "database_tuning_record.json")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise InvalidArgument(f"{work_dir} holds no MetaSchedule database (no {os.path.basename(missing[0])})")
    try:
        return ms.database.JSONDatabase(path_workload=files[0], path_tuning_record=files[1], allow_missing=False)
    except Exception as err:  # pylint: disable=broad-except
        raise InvalidArgument(f"cannot read the database in {work_dir}: {one_line(err)}") from None


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
