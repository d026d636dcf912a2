"""The cost model's first opinion: before XGBoost is trained, schedules that fill a vector
register lead; once it is trained, its own predictions stand."""

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from colt_bridge.measure import MeasureSettings
from colt_bridge.prior import vector_lanes, vector_score
from colt_bridge.targets import parse_target
from colt_bridge.task import Task
from colt_bridge.traces import replay, trace_to_json, without_postproc
from colt_bridge.workload import load_workload

TARGET = '{"kind":"llvm","num-cores":1}'


@pytest.fixture(name="make_task")
def _make_task(tmp_path):
    tasks = []

    def make(cost_model="xgb"):
        _, mod = load_workload("GMM:0")
        settings = MeasureSettings(number=1, repeat=1, min_repeat_ms=0, timeout_sec=30)
        work_dir = tmp_path / cost_model
        work_dir.mkdir()
        tasks.append(Task.open("t", "gmm", mod, parse_target(TARGET), str(work_dir), 3, cost_model, settings))
        return tasks[-1]

    yield make
    for task in tasks:
        task.close()


def test_vector_lanes_count_the_output_type_in_one_register():
    _, mod = load_workload("GMM:0")
    width = int(tvm.target.codegen.llvm_get_vector_width(parse_target(TARGET)))
    assert width >= 128
    assert vector_lanes(parse_target(TARGET), mod) == width // 32
    assert vector_lanes(tvm.target.Target({"kind": "cuda", "arch": "sm_80"}), mod) == 0
    # A TuneContext may have no target at all (TVM's own strategy tests build such): no prior.
    assert vector_lanes(None, mod) == 0


def test_untrained_xgboost_ranks_full_vectors_first_then_trusts_its_training(make_task):
    task = make_task()
    prepared, _ = task.sample_initial(48, 11)
    traces = [p.trace_json for p in prepared]
    priors = [vector_score(p.sch.mod, task._lanes) for p in prepared]  # pylint: disable=protected-access
    assert min(priors) < 1.0 and max(priors) == 1.0  # the sample holds both kinds
    scores = task.predict(traces)
    for prior, score in zip(priors, scores):
        assert prior <= score <= prior + 1e-3
    ranked = sorted(range(len(traces)), key=lambda i: -scores[i])
    assert sorted(priors, reverse=True) == [priors[i] for i in ranked]

    # Train the model on 8 results: from then on its predictions are its own, not the prior.
    results = [ms.runner.RunnerResult(run_secs=[tvm.runtime.convert(1e-4 * (i + 1))], error_msg=None) for i in range(8)]
    task.cost_model.update(task.ctx, [p.candidate for p in prepared[:8]], results)
    trained = np.array(task.predict(traces[8:]))
    expected = task.cost_model.predict(task.ctx, [p.candidate for p in prepared[8:]])
    np.testing.assert_allclose(trained, expected)


def test_random_cost_model_gets_no_prior(make_task):
    task = make_task("random")
    prepared, _ = task.sample_initial(16, 5)
    scores = task.predict([p.trace_json for p in prepared])
    priors = [vector_score(p.sch.mod, task._lanes) for p in prepared]  # pylint: disable=protected-access
    assert sum(p <= s <= p + 1e-3 for s, p in zip(scores, priors)) < len(scores) // 2


def test_a_trained_models_features_are_extracted_once_per_schedule(make_task):
    task = make_task()
    prepared, _ = task.sample_initial(24, 7)
    traces = [p.trace_json for p in prepared]
    task.predict(traces)  # untrained: XGBoost's random scores and the prior, no features
    assert all(p.features is None for p in prepared)

    def train(offset):
        results = [ms.runner.RunnerResult(run_secs=[tvm.runtime.convert(1e-4 * ((i + offset) % 8 + 1))], error_msg=None) for i in range(8)]
        task.cost_model.update(task.ctx, [p.candidate for p in prepared[:8]], results)

    train(0)
    first = np.array(task.predict(traces))
    np.testing.assert_allclose(first, task.cost_model.predict(task.ctx, [p.candidate for p in prepared]))
    kept = [p.features for p in prepared]
    assert all(f is not None and f.dtype == np.float32 and f.ndim == 2 for f in kept)

    # Retrained: the same features, a new opinion, and still what XGBModel.predict says.
    train(3)
    second = np.array(task.predict(traces))
    assert all(p.features is f for p, f in zip(prepared, kept))
    np.testing.assert_allclose(second, task.cost_model.predict(task.ctx, [p.candidate for p in prepared]))
    assert not np.allclose(first, second)


def test_expanding_a_prepared_schedule_gives_what_replaying_its_json_gives(make_task):
    task = make_task()
    prepared, _ = task.sample_initial(8, 3)
    for parent in prepared:
        # The trace kept with a prepared schedule is the one its JSON replays to.
        replayed = without_postproc(replay(task.mod, parent.trace_json, 9))
        assert trace_to_json(parent.wire) == trace_to_json(replayed) == parent.trace_json

    # The same edits give the same child from the kept trace as from a replay of the JSON.
    # (Edits of decisions: TVM's mutators pick among a trace's decisions in an order that
    # depends on where its instructions sit in memory, so they differ between two replays too.)
    parent = prepared[0]
    edits = []
    for d in parent.decisions:
        if d.kind == "SamplePerfectTile" and len(set(d.value)) > 1:
            edits.append({"inst_index": d.inst_index, "value": list(reversed(d.value))})
    assert len(edits) >= 2
    children = []
    for use_cache in (True, False):
        if not use_cache:
            task._cache.clear()  # pylint: disable=protected-access
        child, outcomes, error = task.apply(parent.trace_json, edits, 5)
        assert error is None and all(ok for ok, _, _ in outcomes), (error, outcomes)
        children.append((child.trace_json, child.shash))
    assert children[0] == children[1]
    assert children[0][0] != parent.trace_json

    # Mutators apply to the kept trace as they do to a replayed one.
    task._remember(parent)  # pylint: disable=protected-access
    child, outcomes, error = task.apply(parent.trace_json, [{"mutator": "MutateTileSize"}, {"mutator": "MutateUnroll"}], 5)
    assert error is None and [ok for ok, _, _ in outcomes] == [True, True]
    assert child.trace_json != parent.trace_json
