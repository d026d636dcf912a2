"""The bridge over real gRPC, in its own process, on the real TVM: tasks, transformations,
prediction, measurement and the database TVM reads back."""

import json
import os
import subprocess
import sys
import time

import grpc
import pytest

from colt_bridge.auth import new_token
from colt_bridge.proto import pb

from conftest import BRIDGE_DIR, BridgeProcess, stock_tvm_applies

TARGET = '{"kind":"llvm","num-cores":2}'


def test_health(bridge):
    health = bridge.stub.Health(pb.HealthRequest())
    assert health.status == "SERVING"
    assert health.tvm_version.startswith("0.27")


def test_open_task_describes_the_workload(gmm_task):
    task, work_dir = gmm_task
    assert task.task_name == "gmm_0"
    assert task.flop == 2 * 128 * 128 * 128
    assert "T.sblock" in task.tvmscript
    assert {m.name for m in task.mutators} == {"MutateTileSize", "MutateComputeLocation", "MutateUnroll", "MutateParallel"}
    assert abs(sum(m.probability for m in task.mutators) - 1.0) < 1e-6
    assert len(task.design_spaces) >= 1
    assert json.loads(task.target_json)["num-cores"] == 2
    assert os.path.exists(work_dir / "database_workload.json")


def test_sample_initial_gives_distinct_valid_schedules(bridge, gmm_task):
    task, _ = gmm_task
    response = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=8, seed=3))
    assert len(response.candidates) == 8
    assert len({c.shash for c in response.candidates}) >= 6
    tiles = [d for d in response.candidates[0].decisions if d.kind == "SamplePerfectTile"]
    assert tiles, "a matmul schedule has tile decisions"
    for d in tiles:
        value, detail = json.loads(d.value_json), json.loads(d.detail_json)
        product = 1
        for v in value:
            product *= v
        assert product == detail["extent"] and len(value) == detail["n"]


def _sample(bridge, task, seed=5):
    return bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=1, seed=seed)).candidates[0]


def test_apply_mutators_and_unknown_names(bridge, gmm_task):
    task, _ = gmm_task
    cand = _sample(bridge, task)
    response = bridge.stub.Apply(
        pb.ApplyRequest(
            task_id=task.task_id,
            trace_json=cand.trace_json,
            transformations=[pb.Transformation(mutator="MutateTileSize"), pb.Transformation(mutator="MutateEverything")],
            seed=11,
        )
    )
    assert response.HasField("candidate")
    assert response.candidate.shash != cand.shash
    assert [o.applied for o in response.outcomes] == [True, False]
    assert pb.ApplyErrorCode.Name(response.outcomes[1].code) == "UNKNOWN_TRANSFORMATION"

    only_unknown = bridge.stub.Apply(
        pb.ApplyRequest(task_id=task.task_id, trace_json=cand.trace_json, transformations=[pb.Transformation(mutator="rm -rf /")], seed=1)
    )
    assert not only_unknown.HasField("candidate")
    assert pb.ApplyErrorCode.Name(only_unknown.error) == "UNKNOWN_TRANSFORMATION"


def test_directed_tile_edit_sets_the_decision(bridge, gmm_task):
    task, _ = gmm_task
    cand = _sample(bridge, task, seed=9)
    tile = next(d for d in cand.decisions if d.kind == "SamplePerfectTile" and json.loads(d.detail_json)["extent"] == 128)
    wanted = [2, 4, 4, 4]
    ok = bridge.stub.Apply(
        pb.ApplyRequest(
            task_id=task.task_id,
            trace_json=cand.trace_json,
            transformations=[pb.Transformation(set_decision=pb.SetDecision(inst_index=tile.inst_index, value_json=json.dumps(wanted)))],
            seed=2,
        )
    )
    assert ok.HasField("candidate"), ok.message
    after = next(d for d in ok.candidate.decisions if d.inst_index == tile.inst_index)
    assert json.loads(after.value_json) == wanted

    for value, code in [([3, 4, 4, 4], "INVALID_DECISION"), ([1, 1, 1, 128], "INVALID_DECISION"), ("x", "INVALID_DECISION")]:
        bad = bridge.stub.Apply(
            pb.ApplyRequest(
                task_id=task.task_id,
                trace_json=cand.trace_json,
                transformations=[pb.Transformation(set_decision=pb.SetDecision(inst_index=tile.inst_index, value_json=json.dumps(value)))],
                seed=2,
            )
        )
        assert not bad.HasField("candidate")
        assert pb.ApplyErrorCode.Name(bad.error) == code
    not_a_sample = bridge.stub.Apply(
        pb.ApplyRequest(
            task_id=task.task_id,
            trace_json=cand.trace_json,
            transformations=[pb.Transformation(set_decision=pb.SetDecision(inst_index=0, value_json="[1]"))],
            seed=2,
        )
    )
    assert pb.ApplyErrorCode.Name(not_a_sample.error) == "UNKNOWN_TRANSFORMATION"


def test_describe_prints_the_scheduled_module_of_each_trace(bridge, gmm_task):
    task, _ = gmm_task
    cands = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=4, seed=31)).candidates
    first = cands[0]
    other = next(c for c in cands if c.shash != first.shash)
    traces = [first.trace_json, other.trace_json, first.trace_json]
    scripts = bridge.stub.Describe(pb.DescribeRequest(task_id=task.task_id, trace_json=traces)).tvmscript
    assert len(scripts) == 3
    for script in scripts:
        assert "@T.prim_func" in script
        # The matmul's block "Z", its reduction split off by a postprocessor (DecomposeReduction).
        assert 'T.sblock("Z_update")' in script
    assert 'T.sblock("Z")' in task.tvmscript and "Z_update" not in task.tvmscript
    assert scripts[0] != scripts[1], "different schedules print differently"
    assert scripts[2] == scripts[0]

    assert bridge.stub.Describe(pb.DescribeRequest(task_id=task.task_id)).tvmscript == []
    with pytest.raises(grpc.RpcError) as err:
        bridge.stub.Describe(pb.DescribeRequest(task_id=task.task_id, trace_json=["[[], []]x"]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        bridge.stub.Describe(pb.DescribeRequest(task_id="nope", trace_json=[first.trace_json]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_predict_measure_and_database(bridge, gmm_task):
    task, work_dir = gmm_task
    cands = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=2, seed=21)).candidates
    traces = [c.trace_json for c in cands]
    scores = bridge.stub.Predict(pb.PredictRequest(task_id=task.task_id, trace_json=traces)).scores
    assert len(scores) == 2
    measured = bridge.stub.Measure(pb.MeasureRequest(task_id=task.task_id, trace_json=traces))
    assert len(measured.results) == 2
    for result in measured.results:
        assert pb.MeasureErrorCode.Name(result.error) == "MEASURE_OK", result.message
        assert len(result.run_secs) == 1 and 0 < result.run_secs[0] < 1.0
    untuned = bridge.stub.MeasureUntuned(pb.MeasureUntunedRequest(task_id=task.task_id)).results[0]
    assert pb.MeasureErrorCode.Name(untuned.error) == "MEASURE_OK"
    assert untuned.run_secs[0] > 0
    # The records are TVM's own: a separate plain Python process loads them and applies the best.
    count, applied = stock_tvm_applies(work_dir)
    assert count >= 2 and applied


def test_bad_workload_is_invalid_argument_and_leaves_no_database(bridge, tmp_path):
    work_dir = tmp_path / "wd"
    for workload, target in [("NOPE:1", TARGET), ("GMM:0", '{"kind":'), ("GMM:0", '{"kind":"llvm-nope"}')]:
        with pytest.raises(grpc.RpcError) as err:
            bridge.stub.OpenTask(pb.OpenTaskRequest(workload=workload, target_json=target, work_dir=str(work_dir)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "\n" not in err.value.details()
    assert not work_dir.exists()


def test_unknown_task_is_not_found(bridge):
    with pytest.raises(grpc.RpcError) as err:
        bridge.stub.Predict(pb.PredictRequest(task_id="nope", trace_json=["[]"]))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(event, what: str, limit_sec: float = 600.0) -> None:
    """Returns as soon as event() holds; the limit only catches a hang, on however busy a machine."""
    deadline = time.monotonic() + limit_sec
    while not event():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {limit_sec:.0f} s")
        time.sleep(0.2)


def test_bridge_exits_when_its_parent_dies(tmp_path):
    # A parent shell starts the bridge (its output to a file: our pipe must not wait on it), and
    # waits on its stdin; once the bridge serves, the parent is killed.
    out = tmp_path / "bridge.out"
    parent = subprocess.Popen(
        [
            "bash",
            "-c",
            f"cd {BRIDGE_DIR}; echo {new_token()} | {sys.executable} -m colt_bridge --port 0 --parent-pid $$ >{out} 2>&1 & echo $!; read _",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    try:
        _wait_for(lambda: out.exists() and "COLT_BRIDGE_READY" in out.read_text(errors="replace"), "the bridge to serve")
        assert _alive(child)
        parent.kill()
        parent.wait()
        _wait_for(lambda: not _alive(child), "the bridge to exit after its parent died")
    finally:
        if _alive(child):
            os.kill(child, 9)
        parent.kill()
        parent.wait()
