"""A cost model trained beforehand on other workloads' measured trials (colt_bridge.pretrained):
collected from a real database, trained, written and read back as plain arrays; a run scores
with it alone until its own XGBoost is trained, then with both; any other file is one line, and
a pickle inside one never runs."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from colt_bridge.errors import InvalidArgument
from colt_bridge.measure import MeasureSettings
from colt_bridge.pretrained import BUNDLED, FORMAT, VERSION, Pretrained, bundled_for, collect, feature_width, save, train
from colt_bridge.proto import pb
from colt_bridge.targets import parse_target
from colt_bridge.task import Task
from colt_bridge.workload import load_workload

TARGET = '{"kind":"llvm","num-cores":1}'
REPO = pathlib.Path(__file__).resolve().parents[2]


def open_task(workload, work_dir, pretrained=None):
    _, mod = load_workload(workload)
    settings = MeasureSettings(number=1, repeat=1, min_repeat_ms=0, timeout_sec=30)
    os.makedirs(work_dir, exist_ok=True)
    return Task.open("t", workload, mod, parse_target(TARGET), str(work_dir), 3, "xgb", settings, pretrained=pretrained)


@pytest.fixture(name="measured", scope="module")
def _measured(tmp_path_factory):
    """A database of GMM:0 trials measured for real on this CPU."""
    work_dir = tmp_path_factory.mktemp("gmm0-records")
    task = open_task("GMM:0", work_dir)
    try:
        prepared, _ = task.sample_initial(12, 5)
        outcomes, _, _ = task.measure([p.trace_json for p in prepared])
    finally:
        task.close()
    assert sum(o.ok for o in outcomes) >= 8
    return work_dir


@pytest.fixture(name="model_file", scope="module")
def _model_file(measured, tmp_path_factory):
    groups, skipped = collect([str(measured)], parse_target(TARGET))
    booster, rounds = train(groups, 1)
    path = tmp_path_factory.mktemp("model") / "gmm0.npz"
    save(str(path), booster, {"note": "test"})
    return path, groups, skipped, rounds


def test_collects_a_databases_measured_trials_with_the_cost_models_own_features(measured, model_file):
    _, groups, skipped, rounds = model_file
    records = ms.database.JSONDatabase(work_dir=str(measured)).get_all_tuning_records()
    measured_secs = sorted(float(np.median([float(s) for s in r.run_secs])) for r in records if r.run_secs and float(r.run_secs[0]) < 1e9)
    assert len(groups) == 1
    (group,) = groups
    assert len(group.features) == len(measured_secs) == len(records) - skipped
    np.testing.assert_allclose(sorted(group.costs), measured_secs, rtol=1e-6)
    assert all(f.dtype == np.float32 and f.ndim == 2 and f.shape[1] == feature_width() for f in group.features)
    assert rounds >= 1


def test_the_file_reads_back_as_the_same_model_and_holds_plain_arrays_only(model_file):
    path, groups, _, _ = model_file
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["booster", "meta"]
        meta = json.loads(str(npz["meta"][()]))
    assert meta["format"] == FORMAT and meta["version"] == VERSION and meta["note"] == "test"
    model = Pretrained.load(str(path))
    # The same booster: trained again on the same trials, it predicts what the file does.
    again = Pretrained(None, {}, "")
    import xgboost as xgb  # pylint: disable=import-outside-toplevel

    again.booster = xgb.Booster()
    again.booster.load_model(bytearray(train(groups, 1)[0]))
    np.testing.assert_allclose(model.predict(groups[0].features), again.predict(groups[0].features), rtol=1e-6)


def test_a_run_scores_with_it_alone_until_its_own_model_is_trained_then_with_both(model_file, tmp_path):
    path, _, _, _ = model_file
    pretrained = Pretrained.load(str(path))
    task = open_task("GMM:1", tmp_path / "gmm1", pretrained=pretrained)
    try:
        prepared, _ = task.sample_initial(24, 7)
        traces = [p.trace_json for p in prepared]
        first = np.array(task.predict(traces))
        features = [p.features for p in prepared]
        assert all(f is not None for f in features)
        # Not XGBoost's untrained random numbers, nor the vector prior: the pretrained model's scores.
        np.testing.assert_allclose(first, pretrained.predict(features))
        np.testing.assert_allclose(task.predict(traces), first)

        results = [ms.runner.RunnerResult(run_secs=[tvm.runtime.convert(1e-4 * (i + 1))], error_msg=None) for i in range(8)]
        task.cost_model.update(task.ctx, [p.candidate for p in prepared[:8]], results)
        own = task.cost_model.predict(task.ctx, [p.candidate for p in prepared])
        w = 8 / (8 + Pretrained.HALF_WEIGHT_TRIALS)
        np.testing.assert_allclose(task.predict(traces), w * own + (1 - w) * first, rtol=1e-6)
    finally:
        task.close()


class _Payload:
    """Unpickled, it would write the sentinel."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (pathlib.Path(self.sentinel).write_text, ("ran",))


def test_any_other_file_is_one_line_and_a_pickle_in_it_never_runs(model_file, tmp_path):
    path, _, _, _ = model_file
    sentinel = tmp_path / "sentinel"
    meta = np.array(json.dumps({"format": FORMAT, "version": VERSION, "featureWidth": feature_width()}), dtype=np.str_)
    with np.load(path, allow_pickle=False) as npz:
        booster = npz["booster"]

    def npz_file(name, **arrays):
        target = tmp_path / name
        with open(target, "wb") as handle:
            np.savez(handle, **arrays)
        return target

    html = tmp_path / "page.npz"
    html.write_text("<html>404</html>")
    cases = {
        html: "not a file scripts/cost-model wrote",
        npz_file("pickled.npz", booster=np.array([_Payload(str(sentinel))], dtype=object), meta=meta): "not a file scripts/cost-model wrote",
        npz_file("extra.npz", booster=booster, meta=meta, more=np.zeros(2)): "its arrays are not booster and meta",
        npz_file(
            "other.npz", booster=booster, meta=np.array(json.dumps({"format": "something", "version": 1}), dtype=np.str_)
        ): f"not a {FORMAT} file",
        npz_file(
            "width.npz",
            booster=booster,
            meta=np.array(json.dumps({"format": FORMAT, "version": VERSION, "featureWidth": 3}), dtype=np.str_),
        ): "made for 3 features a store",
        npz_file("cut.npz", booster=booster[: len(booster) // 2], meta=meta): "XGBoost cannot read its booster",
        tmp_path / "absent.npz": "no such file",
        tmp_path: "not a file",
    }
    for file, reason in cases.items():
        with pytest.raises(InvalidArgument) as caught:
            Pretrained.load(str(file))
        assert caught.value.message.startswith(f"cost model {file}: ")
        assert reason in caught.value.message
        assert "\n" not in caught.value.message
    assert not sentinel.exists()


def test_the_bridge_refuses_a_bad_file_or_one_with_the_random_model_before_opening(bridge, model_file, tmp_path):
    path, _, _, _ = model_file
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    for cost_model, file, reason in (("xgb", bad, "not a file scripts/cost-model wrote"), ("random", path, "goes with the xgb cost model")):
        work_dir = tmp_path / cost_model
        with pytest.raises(Exception) as caught:
            bridge.stub.OpenTask(
                pb.OpenTaskRequest(workload="GMM:0", target_json=TARGET, work_dir=str(work_dir), cost_model=cost_model, cost_model_file=str(file))
            )
        assert caught.value.code().name == "INVALID_ARGUMENT"
        assert reason in caught.value.details()
        assert not work_dir.exists()
    # A good one opens, and the task says it scores with it.
    response = bridge.stub.OpenTask(
        pb.OpenTaskRequest(workload="GMM:0", target_json=TARGET, work_dir=str(tmp_path / "good"), cost_model_file=str(path))
    )
    assert response.task_id
    assert response.cost_model_file == str(path)


def test_the_bundled_model_is_real_and_made_for_this_tvm():
    model = Pretrained.load(BUNDLED)
    assert model.meta["format"] == FORMAT and model.meta["featureWidth"] == feature_width()
    # Trained on records of workloads outside the benchmark suite (scripts/cost-model records).
    suite = {"gmm_1", "c2d_0", "c3d_0", "grp_0", "dil_0", "cbr_0", "nrm_0", "sfm_0", "tbg_0", "gmm_3"}
    names = {pathlib.PurePath(source).name for source in model.meta["sources"]}
    assert len(names) == model.meta["workloads"] >= 10
    assert not names & suite
    assert model.booster.num_boosted_rounds() > 0


def test_an_xgb_task_on_an_x86_cpu_scores_with_the_bundled_model_unless_told_none(bridge, tmp_path):
    def opened(name, **extra):
        return bridge.stub.OpenTask(pb.OpenTaskRequest(workload="GMM:0", target_json=TARGET, work_dir=str(tmp_path / name), **extra))

    assert opened("default").cost_model_file == BUNDLED
    assert opened("xgb", cost_model="xgb").cost_model_file == BUNDLED
    assert opened("none", cost_model_file="none").cost_model_file == ""
    assert opened("random", cost_model="random").cost_model_file == ""
    # Another machine's CPU or a GPU gets none: the model knows x86-64 CPUs only.
    assert bundled_for(tvm.target.Target({"kind": "llvm", "mtriple": "aarch64-linux-gnu"})) == (None, None)
    assert bundled_for(tvm.target.Target({"kind": "cuda", "arch": "sm_80"}, host="llvm")) == (None, None)
    model, warning = bundled_for(parse_target(TARGET))
    assert warning is None and model.path == BUNDLED


def test_scripts_cost_model_trains_from_folders_of_databases_and_says_what_it_wrote(measured, tmp_path):
    out = tmp_path / "model.npz"
    # A folder of runs: every database under it is read.
    runs = tmp_path / "runs"
    shutil.copytree(measured, runs / "gmm_0" / "colt-s0")
    (runs / "notes").mkdir()
    done = subprocess.run(
        [str(REPO / "scripts" / "cost-model"), "train", "--from", str(runs), "--out", str(out), "--target", TARGET],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "trials of 1 workloads from 1 databases" in done.stdout
    meta = Pretrained.load(str(out)).meta
    assert meta["sources"] == [str(runs / "gmm_0" / "colt-s0")]
    assert json.loads(meta["target"])["num-cores"] == 1 and "mcpu" not in json.loads(meta["target"])

    empty = tmp_path / "empty"
    empty.mkdir()
    refused = subprocess.run(
        [str(REPO / "scripts" / "cost-model"), "train", "--from", str(empty), "--out", str(tmp_path / "none.npz")],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [f"cost-model: error: no MetaSchedule database (database_tuning_record.json) under {empty}"]
    assert not (tmp_path / "none.npz").exists()
