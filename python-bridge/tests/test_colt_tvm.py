"""colt_tvm.ColtSearch as a MetaSchedule user runs it: stock ms.tune_tir / ms.tune_tasks /
relax_integration.tune_relax in this plain Python process, with the COLT daemon (started on
demand, real gRPC) doing the search and MetaSchedule's own builder, runner, database and cost
model doing the rest. Every database is applied with TVM's own compile functions and checked
against numpy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tvm
from tvm import relax
from tvm.s_tir import meta_schedule as ms
from tvm.script import ir as I
from tvm.script import relax as R
from tvm.script import tirx as T

from colt_tvm import ColtError, ColtSearch, local_builder
from colt_tvm._proto import tpb
from colt_tvm.daemon import shared_daemon

from conftest import BRIDGE_DIR, MATMUL_TVMSCRIPT

TARGET = tvm.target.Target({"kind": "llvm", "num-cores": 2})
REPO = os.path.dirname(BRIDGE_DIR)
MODEL_FILE = os.path.join(REPO, "models", "smollm2-135m-instruct.q4_1.gguf")


def builder():
    # MetaSchedule's LocalBuilder starts fresh workers for every batch; colt_tvm's has them import
    # TVM's tensor intrinsics in seconds, not 20-30 s. The long timeout is for a busy machine.
    return local_builder(timeout_sec=180)


def runner():
    return ms.runner.LocalRunner(timeout_sec=180)


def matmul_mod() -> tvm.tirx.PrimFunc:
    # A PrimFunc, as MetaSchedule's own tests pass it: tune_tir files a PrimFunc under its
    # normalised form, and compile_tir finds it again only when given the same kind of thing.
    return tvm.script.from_source(MATMUL_TVMSCRIPT.replace("from tvm.script import tirx as T", ""))


@T.prim_func(s_tir=True)
def dense_relu(a: T.handle, b: T.handle, c: T.handle):
    A = T.match_buffer(a, (32, 128), "float32")
    B = T.match_buffer(b, (128, 48), "float32")
    C = T.match_buffer(c, (32, 48), "float32")
    D = T.alloc_buffer((32, 48), "float32")
    for i, j, k in T.grid(32, 48, 128):
        with T.sblock("D"):
            vi, vj, vk = T.axis.remap("SSR", [i, j, k])
            with T.init():
                D[vi, vj] = T.float32(0)
            D[vi, vj] = D[vi, vj] + A[vi, vk] * B[vk, vj]
    for i, j in T.grid(32, 48):
        with T.sblock("C"):
            vi, vj = T.axis.remap("SS", [i, j])
            C[vi, vj] = T.max(D[vi, vj], T.float32(0))


def run_prim(lib, shapes_in, shape_out):
    dev = tvm.cpu()
    rng = np.random.default_rng(0)
    args = [rng.random(s, dtype="float32") for s in shapes_in]
    out = tvm.runtime.tensor(np.zeros(shape_out, "float32"), dev)
    lib["main"](*[tvm.runtime.tensor(a, dev) for a in args], out)
    return args, out.numpy()


def search_jobs() -> list:
    return [j for j in shared_daemon().call("ListJobs", tpb.ListJobsRequest()).jobs if j.kind == tpb.SEARCH]


def test_tune_tir_with_colt_search_applies_and_matches_numpy(tmp_path):
    if not os.path.isfile(MODEL_FILE):
        pytest.skip("the bundled SmolLM2 model is missing: scripts/setup fetches it")
    before = {j.job_id for j in search_jobs()}
    mod = matmul_mod()
    strategy = ColtSearch()  # the out-of-the-box default: built-in proposer and SmolLM2
    db = ms.tune_tir(
        mod,
        TARGET,
        work_dir=str(tmp_path),
        max_trials_global=16,
        num_trials_per_iter=8,
        builder=builder(),
        runner=runner(),
        strategy=strategy,
    )
    records = db.get_all_tuning_records()
    assert len(records) == 16
    assert any(r.run_secs and float(r.run_secs[0]) < 1e9 for r in records)

    # The database TVM applies unchanged.
    sch = ms.tir_integration.compile_tir(db, mod, TARGET)
    assert sch is not None
    lib = tvm.compile(sch.mod, target=TARGET)
    (a, b), c = run_prim(lib, [(64, 64), (64, 64)], (64, 64))
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)

    # The daemon ran the search: one SEARCH job, its own budget spent, the bundled LLM asked.
    jobs = [j for j in search_jobs() if j.job_id not in before]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.state == tpb.SUCCEEDED, job.error
    assert job.trials == 16 and job.max_trials == 16
    assert job.best_latency_us > 0
    assert [m.name for m in job.models] == ["smollm2-135m"]
    assert job.models[0].calls > 0
    # tune_tir tuned with a clone: the strategy the user holds still tells which job it was.
    assert [j.job_id for j in strategy.jobs] == [job.job_id]
    assert strategy.jobs[0].state == tpb.SUCCEEDED


def test_tune_tasks_over_two_tasks(tmp_path):
    before = {j.job_id for j in search_jobs()}
    mods = {"matmul": matmul_mod(), "dense_relu": dense_relu}
    tasks = [
        ms.TuneContext(
            mod=mod,
            target=TARGET,
            space_generator="post-order-apply",
            search_strategy=ColtSearch(no_llm=True, seed=7),
            task_name=name,
            num_threads=2,
        ).clone()
        for name, mod in mods.items()
    ]
    db = ms.tune_tasks(
        tasks=tasks,
        task_weights=[1.0, 1.0],
        work_dir=str(tmp_path),
        max_trials_global=16,
        max_trials_per_task=8,
        num_trials_per_iter=4,
        builder=builder(),
        runner=runner(),
    )
    jobs = [j for j in search_jobs() if j.job_id not in before]
    assert sorted(j.name for j in jobs) == ["dense_relu", "matmul"]
    for job in jobs:
        assert job.state == tpb.SUCCEEDED, job.error
        assert job.trials == 8 and job.max_trials == 8

    sch = ms.tir_integration.compile_tir(db, mods["matmul"], TARGET)
    (a, b), c = run_prim(tvm.compile(sch.mod, target=TARGET), [(64, 64), (64, 64)], (64, 64))
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    sch = ms.tir_integration.compile_tir(db, mods["dense_relu"], TARGET)
    (a, b), c = run_prim(tvm.compile(sch.mod, target=TARGET), [(32, 128), (128, 48)], (32, 48))
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)


def test_daemon_errors_are_python_exceptions_with_its_message(tmp_path):
    missing = tmp_path / "no-such-models.json"
    with pytest.raises(Exception) as caught:
        ms.tune_tir(
            matmul_mod(),
            TARGET,
            work_dir=str(tmp_path / "run"),
            max_trials_global=4,
            num_trials_per_iter=4,
            strategy=ColtSearch(models=missing),
        )
    assert str(missing) in str(caught.value)
    # A daemon that is not there, named by address.
    with pytest.raises(Exception, match="COLT daemon is not reachable"):
        ms.tune_tir(
            matmul_mod(),
            TARGET,
            work_dir=str(tmp_path / "run2"),
            max_trials_global=4,
            num_trials_per_iter=4,
            strategy=ColtSearch(address="127.0.0.1:1"),
        )
    with pytest.raises(ColtError, match="not reachable"):
        shared_daemon("127.0.0.1:1").call("ListJobs", tpb.ListJobsRequest(), timeout=5)


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {bridge_dir!r})
    from tvm.s_tir import meta_schedule as ms
    import tvm
    from colt_tvm import ColtSearch
    sys.path.insert(0, {tests_dir!r})
    from test_colt_tvm import matmul_mod, builder, runner, TARGET
    print("TUNING", flush=True)
    ms.tune_tir(matmul_mod(), TARGET, work_dir={work_dir!r}, max_trials_global=64, num_trials_per_iter=8,
                builder=builder(), runner=runner(), strategy=ColtSearch(no_llm=True))
    """
)


def _daemons_of(pid: int) -> list[int]:
    """Processes started with `daemon ... --parent-pid pid` (the COLT daemons pid started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "daemon" in argv and "--parent-pid" in argv and argv[argv.index("--parent-pid") + 1] == str(pid):
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_killing_the_users_process_leaves_no_daemon(tmp_path):
    code = CHILD.format(bridge_dir=BRIDGE_DIR, tests_dir=os.path.dirname(__file__), work_dir=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "TUNING"
        deadline = time.monotonic() + 120
        daemons: list[int] = []
        while not daemons and time.monotonic() < deadline:
            daemons = _daemons_of(child.pid)
            time.sleep(0.5)
        assert daemons, "the child never started a COLT daemon"
        time.sleep(3)  # let the search get going
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in daemons) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(_alive(p) for p in daemons), f"daemon(s) {daemons} outlived the process that started them"
    finally:
        if child.poll() is None:
            child.kill()


@I.ir_module
class TwoLayers:
    @R.function
    def main(
        x: R.Tensor((16, 32), "float32"),
        w1: R.Tensor((32, 32), "float32"),
        w2: R.Tensor((32, 8), "float32"),
    ) -> R.Tensor((16, 8), "float32"):
        with R.dataflow():
            h = R.nn.relu(R.matmul(x, w1))
            y = R.matmul(h, w2)
            R.output(y)
        return y


def test_two_layer_relax_model_tuned_end_to_end(tmp_path):
    before = {j.job_id for j in search_jobs()}
    mod = relax.transform.LegalizeOps()(TwoLayers)
    tasks = ms.relax_integration.extract_tasks(mod, TARGET)
    assert len(tasks) >= 2
    db = ms.relax_integration.tune_relax(
        mod,
        params={},
        target=TARGET,
        work_dir=str(tmp_path),
        max_trials_global=4 * len(tasks),
        num_trials_per_iter=4,
        builder=builder(),
        runner=runner(),
        strategy=ColtSearch(no_llm=True, seed=3),
    )
    jobs = [j for j in search_jobs() if j.job_id not in before]
    assert len(jobs) == len(tasks)
    assert all(j.state == tpb.SUCCEEDED for j in jobs), [j.error for j in jobs]
    # Each task's search ran, and every trial it counted is a record MetaSchedule committed.
    assert all(j.trials >= 1 for j in jobs)
    assert sum(j.trials for j in jobs) == len(db.get_all_tuning_records())

    ex = ms.relax_integration.compile_relax(db, mod, TARGET, params=None)
    vm = relax.VirtualMachine(ex, tvm.cpu())
    rng = np.random.default_rng(1)
    x, w1, w2 = (rng.random(s, dtype="float32") for s in [(16, 32), (32, 32), (32, 8)])
    out = vm["main"](*(tvm.runtime.tensor(v) for v in (x, w1, w2))).numpy()
    np.testing.assert_allclose(out, np.maximum(x @ w1, 0) @ w2, rtol=1e-4, atol=1e-4)
