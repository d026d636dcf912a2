"""The correctness check: every trial that runs is run once more on fixed-seed data and its
arguments compared with the untuned module's; a mismatch is WRONG_RESULT, the schedule's
failure, recorded as MetaSchedule records failures and learnt as one. On this host and on the
devices of a real RPC tracker (scripts/rpc-local on 127.0.0.1).

The tasks here are opened in this process, so that a test can hand the measurer a wrong kernel
or perturb the reference: no schedule MetaSchedule accepts computes a wrong result on purpose.
"""

import json
import os

import numpy as np
import pytest
from tvm.s_tir import meta_schedule as ms

from colt_bridge.measure import MeasureSettings, RpcSettings
from colt_bridge.measure.check import check_inputs, compare, tolerance
from colt_bridge.proto import pb
from colt_bridge.server import _measure_response
from colt_bridge.targets import parse_target
from colt_bridge.task import FAILED_RUN_SECS, Task
from colt_bridge.workload import load_workload

from conftest import MATMUL_TVMSCRIPT
from test_rpc import RpcLocal

TARGET = '{"kind":"llvm","num-cores":1}'
# The same matmul, one step of its reduction short: it builds, runs, and is wrong.
WRONG_MATMUL = MATMUL_TVMSCRIPT.replace("T.grid(64, 64, 64)", "T.grid(64, 64, 63)")


def _module(tmp_path, source, name="matmul"):
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return load_workload(str(path))[1]


class CostModelSpy:
    """Records what the cost model is taught, and teaches the real one."""

    def __init__(self, inner):
        self.inner = inner
        self.taught = []

    def update(self, ctx, candidates, results):
        self.taught.extend(results)
        self.inner.update(ctx, candidates, results)

    def predict(self, ctx, candidates):
        return self.inner.predict(ctx, candidates)


def _open(tmp_path, check=True, rpc=None):
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    settings = MeasureSettings(number=1, repeat=3, min_repeat_ms=0, timeout_sec=30, check_correctness=check, rpc=rpc)
    mod = _module(tmp_path, MATMUL_TVMSCRIPT)
    task = Task.open("t", "matmul", mod, parse_target(TARGET), str(work_dir), 1, "random", settings)
    task.cost_model = CostModelSpy(task.cost_model)
    return task


def _records(task_dir):
    """The run times of each record in the task's database, in commit order."""
    with open(os.path.join(task_dir, "wd", "database_tuning_record.json"), encoding="utf-8") as f:
        return [json.loads(line)[1][1] for line in f if line.strip()]


def _wrong_kernel(tmp_path):
    wrong = _module(tmp_path, WRONG_MATMUL, "wrong")
    return wrong, ms.arg_info.ArgInfo.from_prim_func(wrong["main"])


def _check_a_task(task, tmp_path, device_prefix=""):
    # The untuned build is measured once; on a CPU its run gives the reference on the way.
    [untuned], _, _ = task.measure_untuned()
    assert untuned.ok and untuned.code == "MEASURE_OK", untuned.message
    assert task.measurer.check.ready
    # Timed once for the summary, not `repeat` times like a trial: an untuned build can take
    # seconds a run, and its time is a baseline, not a contest.
    assert len(untuned.run_secs) == 1

    # Schedules MetaSchedule accepts compute the same: they pass, and keep their times.
    prepared, _ = task.sample_initial(3, seed=2)
    outcomes, _, _ = task.measure([p.trace_json for p in prepared])
    assert [o.code for o in outcomes] == ["MEASURE_OK"] * 3, [o.message for o in outcomes]
    assert all(o.ok and len(o.run_secs) == 3 and o.outputs is None for o in outcomes)
    assert all(o.device.startswith(device_prefix) for o in outcomes)

    # A kernel that drops one step of the reduction builds and runs, but is wrong.
    wrong, args = _wrong_kernel(tmp_path)
    [outcome], _, _ = task.measurer.measure([wrong], [args])
    assert outcome.code == "WRONG_RESULT" and not outcome.ok and outcome.run_secs == []
    assert outcome.committable  # the schedule's failure, not the device's
    assert outcome.message.startswith("argument 2 (float32[64x64]): ")
    assert "of 4096 values differ from the untuned module's" in outcome.message
    assert outcome.device.startswith(device_prefix)

    # Against a reference one value off, the same schedules are now all wrong: committed as
    # MetaSchedule commits failures, and taught to the cost model as failures.
    task.measurer.check.expected[2][5, 7] += 1.0
    task.cost_model.taught.clear()
    outcomes, _, _ = task.measure([p.trace_json for p in prepared])
    assert [o.code for o in outcomes] == ["WRONG_RESULT"] * 3
    assert all("1 of 4096 values differ" in o.message for o in outcomes)
    assert [r.run_secs for r in task.cost_model.taught] == [None] * 3
    assert all(r.error_msg.startswith("argument 2") for r in task.cost_model.taught)
    run_secs = _records(tmp_path)
    assert len(run_secs) == 6 and all(r[0] < FAILED_RUN_SECS for r in run_secs[:3])
    assert run_secs[3:] == [[FAILED_RUN_SECS]] * 3
    # The proto says so too.
    response = _measure_response(outcomes, 0.0, 0.0)
    assert [pb.MeasureErrorCode.Name(r.error) for r in response.results] == ["WRONG_RESULT"] * 3


def test_wrong_results_on_this_host_are_typed_and_recorded_as_failures(tmp_path):
    task = _open(tmp_path)
    try:
        _check_a_task(task, tmp_path)
    finally:
        task.close()


def test_the_check_can_be_turned_off(tmp_path):
    task = _open(tmp_path, check=False)
    try:
        assert task.measurer.check is None
        wrong, args = _wrong_kernel(tmp_path)
        [outcome], _, _ = task.measurer.measure([wrong], [args])
        assert outcome.code == "MEASURE_OK" and outcome.run_secs
    finally:
        task.close()


def test_wrong_results_on_an_rpc_device_are_typed_and_recorded_as_failures(tmp_path):
    rpc = RpcLocal(tmp_path / "rpc", servers=1)
    try:
        task = _open(tmp_path, rpc=RpcSettings(host="127.0.0.1", port=rpc.port, key="cpu"))
        try:
            _check_a_task(task, tmp_path, device_prefix="127.0.0.1:")
        finally:
            task.close()
        # The reference and every check ran on the device: one module load per run there.
        assert rpc.log(1).count("load_module") >= 1 + 3 + 1 + 3
    finally:
        rpc.stop()


def test_the_reference_is_computed_on_first_need_when_the_untuned_build_was_not_measured(tmp_path):
    task = _open(tmp_path)
    try:
        wrong, args = _wrong_kernel(tmp_path)
        [outcome], _, _ = task.measurer.measure([wrong], [args])
        assert outcome.code == "WRONG_RESULT"
        assert task.measurer.check.ready
    finally:
        task.close()


def test_compare_tolerates_reordered_float_sums_but_not_wrong_values():
    rng = np.random.default_rng(0)
    want = rng.uniform(size=(32, 32)).astype("float32") @ rng.uniform(size=(32, 32)).astype("float32")
    assert compare([want], [want * (1 + 1e-5)]) is None
    off = want.copy()
    off[3, 4] *= 1.01
    assert "1 of 1024 values differ" in compare([want], [off])
    # Small outputs are held to their own scale (a softmax's values are all far below 1).
    small = np.full((8,), 1e-3, dtype="float32")
    assert compare([small], [small * 2]) is not None
    # NaN where the reference has NaN is a match; where it has a number, a mismatch.
    nan = np.array([np.nan, 1.0], dtype="float32")
    assert compare([nan], [nan.copy()]) is None
    assert "largest difference inf" in compare([np.array([1.0, 1.0], "float32")], [nan])
    # Integers are exact; shapes and argument counts must agree.
    ints = np.arange(6, dtype="int32")
    assert compare([ints], [ints.copy()]) is None
    assert "compared exactly" in compare([ints], [ints + np.array([0, 0, 0, 0, 0, 1], "int32")])
    assert "shape" in compare([ints], [ints.reshape(2, 3)])
    assert "arguments came back" in compare([ints, ints], [ints])
    assert tolerance("float16") > tolerance("float32") > tolerance("float64")
    assert tolerance("int8") is None and tolerance("bool") is None


def test_check_inputs_are_fixed_and_fit_each_dtype():
    infos = [["TENSOR", "float32", [4, 4]], ["TENSOR", "int32", [3]], ["TENSOR", "bool", [2]], ["TENSOR", "float16", [2, 2]]]
    first, second = check_inputs(infos), check_inputs(infos)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert [str(a.dtype) for a in first] == ["float32", "int32", "bool", "float16"]
    assert [list(a.shape) for a in first] == [[4, 4], [3], [2], [2, 2]]
    assert first[1].min() >= 0  # integer inputs may be indices
