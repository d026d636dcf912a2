"""A cost model trained beforehand on other workloads' trials, for a run's first batches.

MetaSchedule's XGBoost model learns from the run's own trials only: before its first batch it
knows nothing, and after a few batches it knows a few dozen schedules. Its features (per-store
loop, buffer and arithmetic statistics) are not tied to one workload, and its labels are
normalised within each workload (the workload's best time / this schedule's time), so trials of
other workloads can train it too (TenSet's transfer). `scripts/cost-model` collects measured
trials from MetaSchedule databases (colt runs, ms.tune_tir work dirs), trains XGBoost on them
exactly as XGBModel trains (its objective, its settings) and writes the booster to a file. A run
given the file scores with it before its own model is trained, and then with both, the run's
own model weighing more with each trial it has learned from (Pretrained.blend).

The file is NumPy's .npz holding plain arrays only (the booster as XGBoost's JSON text, and a
JSON meta), read with allow_pickle=False: a file from elsewhere is data, never code (TVM's
XGBModel.load unpickles, so it is not used here).
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import tvm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.cost_model.xgb_model import FeatureGroup, PackSum
from tvm.s_tir.meta_schedule.utils import shash2hex

from .database import DATABASE_FILES
from .errors import InvalidArgument, one_line

FORMAT = "colt-cost-model"
VERSION = 1
# A file larger than this is not one scripts/cost-model wrote (those are a few MB).
MAX_FILE_BYTES = 64 << 20
# Times at or above this are MetaSchedule's marks for a failed trial, not measurements.
FAILED_SECS = 1e9
# The cost model shipped with the bridge (scripts/cost-model, from records of workloads outside
# the benchmark suite on an x86-64 CPU): what an xgb run on an x86-64 CPU scores with by default.
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost_models", "llvm-x86_64.npz")
# What a request names to score without any file, the bundled one included.
NO_FILE = "none"


@dataclass
class Group:
    """One workload's trials: what XGBModel keeps per workload (a FeatureGroup)."""

    key: str  # the workload's structural hash, as XGBModel names its groups
    features: list[np.ndarray]  # per schedule: stores x features, float32
    costs: np.ndarray  # per schedule: seconds (median of its runs), float32


def feature_extractor() -> ms.FeatureExtractor:
    """XGBModel's own default extractor: the features a run's model computes."""
    return ms.feature_extractor.PerStoreFeature()


def _median_secs(run_secs) -> float | None:
    secs = [float(s) for s in (run_secs or [])]
    if not secs or not all(math.isfinite(s) and 0 < s < FAILED_SECS for s in secs):
        return None
    return float(np.median(secs))


def collect(work_dirs: list[str], target: tvm.target.Target) -> tuple[list[Group], int]:
    """The measured trials of MetaSchedule databases (colt runs, ms.tune_tir work dirs), as groups
    with `target`'s features. Returns (groups, trials skipped: failed, or not replayable)."""
    groups: OrderedDict[str, Group] = OrderedDict()
    skipped = 0
    extractor = feature_extractor()
    for work_dir in work_dirs:
        missing = [f for f in DATABASE_FILES if not os.path.isfile(os.path.join(work_dir, f))]
        if missing:
            raise InvalidArgument(f"{work_dir}: not a MetaSchedule database (no {missing[0]})")
        try:
            records = ms.database.JSONDatabase(work_dir=work_dir, allow_missing=False).get_all_tuning_records()
        except Exception as err:  # pylint: disable=broad-except
            raise InvalidArgument(f"{work_dir}: cannot read its database: {one_line(err)}") from None
        by_workload: OrderedDict[str, list] = OrderedDict()
        for record in records:
            by_workload.setdefault(shash2hex(record.workload.mod), []).append(record)
        for key, recs in by_workload.items():
            mod = recs[0].workload.mod
            ctx = ms.TuneContext(mod=mod, target=target, task_name="main")
            candidates, costs = [], []
            for record in recs:
                cost = _median_secs(record.run_secs)
                if cost is None:
                    skipped += 1
                    continue
                try:
                    sch = Schedule(mod)
                    record.trace.apply_to_schedule(sch, remove_postproc=False)
                    candidates.append(ms.MeasureCandidate(sch, ArgInfo.from_entry_func(sch.mod, remove_preproc=True)))
                except Exception:  # pylint: disable=broad-except
                    skipped += 1
                    continue
                costs.append(cost)
            if not candidates:
                continue
            features = [x.numpy().astype("float32") for x in extractor.extract_from(ctx, candidates)]
            kept = [(f, c) for f, c in zip(features, costs) if len(f) != 0]
            skipped += len(features) - len(kept)
            if not kept:
                continue
            group = groups.get(key)
            if group is None:
                groups[key] = Group(key, [f for f, _ in kept], np.array([c for _, c in kept], dtype="float32"))
            else:
                group.features.extend(f for f, _ in kept)
                group.costs = np.concatenate([group.costs, np.array([c for _, c in kept], dtype="float32")])
    return list(groups.values()), skipped


def train(groups: list[Group], cores: int) -> tuple[bytes, int]:
    """XGBoost trained on the groups as XGBModel.update trains it (per-workload normalised
    labels, its objective and settings); returns (booster as JSON, boosting rounds)."""
    if not groups:
        raise InvalidArgument("no measured trials to train on")
    model = ms.cost_model.XGBModel(num_tuning_cores=max(1, cores))
    data = [FeatureGroup(group_hash=g.key, features=list(g.features), costs=g.costs) for g in groups]
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = [f for group in data for f in group.features]
        ys = np.concatenate([group.min_cost / group.costs for group in data])
    model._train(xs=xs, ys=ys)  # pylint: disable=protected-access
    return bytes(model.booster.save_raw("json")), int(model.booster.num_boosted_rounds())


def save(path: str, booster_json: bytes, meta: dict) -> None:
    """Writes the booster and `meta` as plain arrays (np.savez_compressed)."""
    document = dict(meta, format=FORMAT, version=VERSION, featureWidth=feature_width())
    with open(path, "wb") as handle:
        np.savez_compressed(
            handle,
            booster=np.frombuffer(booster_json, dtype=np.uint8),
            meta=np.array(json.dumps(document), dtype=np.str_),
        )


class Pretrained:
    """A booster from a file, scoring schedules by their features as XGBModel._predict does."""

    # Trials of its own after which a run's model and this one weigh the same.
    HALF_WEIGHT_TRIALS = 64

    def __init__(self, booster, meta: dict, path: str):
        self.booster = booster
        self.meta = meta
        self.path = path

    @classmethod
    def load(cls, path: str) -> "Pretrained":
        """Reads a file save() wrote; anything else is one InvalidArgument line."""
        import xgboost as xgb  # pylint: disable=import-outside-toplevel

        def bad(why: str) -> InvalidArgument:
            return InvalidArgument(f"cost model {path}: {why}")

        try:
            size = os.stat(path).st_size
        except OSError as err:
            raise bad((err.strerror or "unreadable").lower()) from None
        if not os.path.isfile(path):
            raise bad("not a file")
        if size > MAX_FILE_BYTES:
            raise bad(f"{size} bytes, more than {MAX_FILE_BYTES}: not a file scripts/cost-model wrote")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as err:  # pylint: disable=broad-except
            # Pickled objects included: allow_pickle=False refuses them before anything is built.
            raise bad(f"not a file scripts/cost-model wrote ({one_line(err, 120)})") from None
        if set(arrays) != {"booster", "meta"}:
            raise bad("not a file scripts/cost-model wrote (its arrays are not booster and meta)")
        try:
            meta = json.loads(str(arrays["meta"][()]))
        except (ValueError, TypeError, IndexError):
            raise bad("its meta is not JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise bad(f"not a {FORMAT} file of version {VERSION}")
        if meta.get("featureWidth") != feature_width():
            raise bad(f"made for {meta.get('featureWidth')} features a store; this TVM has {feature_width()}")
        raw = arrays["booster"]
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise bad("its booster is not bytes")
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(raw.tobytes()))
        except Exception as err:  # pylint: disable=broad-except
            raise bad(f"XGBoost cannot read its booster ({one_line(err, 120)})") from None
        return cls(booster, meta, path)

    def predict(self, features: list[np.ndarray]) -> np.ndarray:
        d = PackSum(xs=features, ys=None)
        return np.asarray(d.predict_with_score(self.booster.predict(d.dmatrix)), dtype="float64")

    def blend(self, own: np.ndarray | None, mine: np.ndarray, own_trials: int) -> np.ndarray:
        """This model's scores alone while the run's own model is untrained (`own` None); then
        both, the run's weighing own_trials / (own_trials + HALF_WEIGHT_TRIALS)."""
        if own is None:
            return mine
        w = own_trials / (own_trials + self.HALF_WEIGHT_TRIALS)
        return w * own + (1.0 - w) * mine


def _is_x86_64_cpu(target: tvm.target.Target) -> bool:
    """An llvm target for an x86-64 CPU: its mtriple says so, or it has none and this host is one."""
    if target.kind.name != "llvm":
        return False
    triple = str(target.attrs.get("mtriple", "") or "")
    if triple:
        return triple.split("-")[0] in ("x86_64", "amd64")
    return platform.machine().lower() in ("x86_64", "amd64")


def bundled_for(target: tvm.target.Target) -> tuple["Pretrained | None", str | None]:
    """The bundled cost model where it fits the target (an llvm target for an x86-64 CPU), and a
    warning line when it should have but could not be read (then the run goes on without it)."""
    if not _is_x86_64_cpu(target) or not os.path.exists(BUNDLED):
        return None, None
    try:
        return Pretrained.load(BUNDLED), None
    except InvalidArgument as err:
        return None, f"the bundled cost model was left out: {err.message}"


_WIDTH: list[int] = []


def feature_width() -> int:
    """Features per store of XGBModel's default extractor in this TVM (164 in 0.27)."""
    if not _WIDTH:
        from tvm import te  # pylint: disable=import-outside-toplevel

        a = te.placeholder((4,), name="A")
        b = te.compute((4,), lambda i: a[i] + 1.0, name="B")
        mod = tvm.IRModule({"main": te.create_prim_func([a, b])})
        ctx = ms.TuneContext(mod=mod, target=tvm.target.Target("llvm"), task_name="main")
        candidate = ms.MeasureCandidate(Schedule(mod), ArgInfo.from_entry_func(mod, remove_preproc=True))
        _WIDTH.append(int(feature_extractor().extract_from(ctx, [candidate])[0].numpy().shape[1]))
    return _WIDTH[0]


def _databases(roots: list[str]) -> list[str]:
    """The MetaSchedule databases under each root (the root itself, or any folder below it)."""
    found = []
    for root in roots:
        if not os.path.isdir(root):
            raise InvalidArgument(f"{root}: no such folder")
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            if all(name in files for name in DATABASE_FILES):
                found.append(folder)
    if not found:
        raise InvalidArgument(f"no MetaSchedule database (database_tuning_record.json) under {', '.join(roots)}")
    return found


def main(argv: list[str] | None = None) -> int:
    """`scripts/cost-model train`: one line per database read, then what was written."""
    import argparse  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    from .intrinsics import install  # pylint: disable=import-outside-toplevel
    from .targets import parse_target  # pylint: disable=import-outside-toplevel

    # Before TuneContext imports TVM's tensor intrinsics: seconds, not tens of them.
    install()

    parser = argparse.ArgumentParser(prog="scripts/cost-model train", description="Trains a cost model on earlier tuning records.")
    parser.add_argument("--from", dest="roots", required=True, help="comma-separated folders holding MetaSchedule databases")
    parser.add_argument("--out", required=True, help="the file to write (.npz)")
    parser.add_argument("--target", help="the target the trials ran on, as TVM's JSON (default: llvm for this CPU)")
    args = parser.parse_args(argv)
    try:
        # Given in full, as given; by default this CPU, as `colt tune` means by llvm.
        target = parse_target(args.target or '{"kind":"llvm"}', host=args.target is None)
        databases = _databases([r for r in args.roots.split(",") if r.strip()])
        groups, skipped = collect(databases, target)
        if not groups:
            raise InvalidArgument("those databases hold no measured trial")
        cores = int(target.attrs.get("num-cores", 1) or 1)
        booster, rounds = train(groups, cores)
        trials = sum(len(g.features) for g in groups)
        save(args.out, booster, {"target": str(target), "tvm": tvm.__version__, "workloads": len(groups), "trials": trials, "sources": databases})
    except InvalidArgument as err:
        print(f"cost-model: error: {err.message}", file=sys.stderr)
        return 2
    print(f"cost-model: {trials} trials of {len(groups)} workloads from {len(databases)} databases ({skipped} failed or unreadable left out)")
    print(f"cost-model: XGBoost, {rounds} rounds, for {target}")
    print(f"cost-model: wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
