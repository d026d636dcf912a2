"""Measuring through a real TVM RPC tracker and real RPC servers on 127.0.0.1 (started here with
scripts/rpc-local): devices in parallel, a device killed mid-batch, typed faults, and listing
the records a resumed or warm-started run builds on."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest

from colt_bridge.proto import pb
from colt_bridge.measure.rpc import classify_rpc_result

from conftest import BRIDGE_DIR

REPO = os.path.dirname(BRIDGE_DIR)
RPC_LOCAL = os.path.join(REPO, "scripts", "rpc-local")
TARGET = '{"kind":"llvm","num-cores":1}'
FAILED = 1e10


def _free_port() -> int:
    # The tracker takes this port; its servers take free ones above it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RpcLocal:
    def __init__(self, directory, servers: int):
        self.dir = str(directory)
        self.port = _free_port()
        self.servers = servers
        subprocess.run(
            [RPC_LOCAL, "start", "--servers", str(servers), "--port", str(self.port), "--dir", self.dir],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self):
        subprocess.run([RPC_LOCAL, "stop", "--dir", self.dir], capture_output=True, timeout=60)

    def pid(self, i: int) -> int:
        with open(os.path.join(self.dir, f"server-{i}.pid"), encoding="utf-8") as f:
            return int(f.read())

    def log(self, i: int) -> str:
        with open(os.path.join(self.dir, f"server-{i}.log"), encoding="utf-8") as f:
            return f.read()


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    rpc = RpcLocal(tmp_path_factory.mktemp("rpc"), servers=2)
    yield rpc
    rpc.stop()


def _open(bridge, rpc_port, work_dir, key="cpu", min_repeat_ms=10, host="127.0.0.1", check_correctness=True):
    return bridge.stub.OpenTask(
        pb.OpenTaskRequest(
            workload="GMM:0",
            target_json=TARGET,
            work_dir=str(work_dir),
            seed=1,
            measure=pb.MeasureConfig(
                number=2,
                repeat=1,
                min_repeat_ms=min_repeat_ms,
                timeout_sec=30,
                rpc=pb.RpcConfig(tracker_host=host, tracker_port=rpc_port, key=key),
                check_correctness=check_correctness,
            ),
        )
    )


def _records(work_dir):
    with open(os.path.join(work_dir, "database_tuning_record.json"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_trials_run_on_every_device_and_land_in_the_database(bridge, devices, tmp_path):
    task = _open(bridge, devices.port, tmp_path)
    assert task.devices == 2
    cands = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=6, seed=4)).candidates
    response = bridge.stub.Measure(pb.MeasureRequest(task_id=task.task_id, trace_json=[c.trace_json for c in cands]))
    for r in response.results:
        assert pb.MeasureErrorCode.Name(r.error) == "MEASURE_OK", r.message
        assert 0 < r.run_secs[0] < 1.0 and r.attempts == 1
    used = {r.device for r in response.results}
    assert len(used) == 2 and all(d.startswith("127.0.0.1:") for d in used)
    # The servers say so too: each loaded modules sent to it.
    assert "load_module" in devices.log(1) and "load_module" in devices.log(2)
    assert len(_records(tmp_path)) == 6

    # What a resumed run gets back: every record, as the same schedules (same structural hash).
    listed = bridge.stub.ListRecords(pb.ListRecordsRequest(task_id=task.task_id, train_cost_model=True))
    assert listed.total == 6
    assert sorted(r.candidate.shash for r in listed.records) == sorted(c.shash for c in cands)
    assert all(not r.failed and len(r.run_secs) == 1 for r in listed.records)


def test_warm_start_lists_the_best_records_of_another_database(bridge, devices, tmp_path):
    first = _open(bridge, devices.port, tmp_path / "first")
    cands = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=first.task_id, count=4, seed=8)).candidates
    bridge.stub.Measure(pb.MeasureRequest(task_id=first.task_id, trace_json=[c.trace_json for c in cands]))
    second = _open(bridge, devices.port, tmp_path / "second")
    best = bridge.stub.ListRecords(
        pb.ListRecordsRequest(task_id=second.task_id, work_dir=str(tmp_path / "first"), limit=2, train_cost_model=True)
    )
    assert best.total == 4 and len(best.records) == 2
    means = [sum(r.run_secs) / len(r.run_secs) for r in best.records]
    assert means == sorted(means)
    # A warm start reads the other database; it writes nothing into this run's.
    assert _records(tmp_path / "second") == []
    with pytest.raises(grpc.RpcError) as err:
        bridge.stub.ListRecords(pb.ListRecordsRequest(task_id=second.task_id, work_dir=str(tmp_path / "nothing")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "holds no MetaSchedule database" in err.value.details()


def test_no_tracker_or_no_device_for_the_key_is_a_one_line_invalid_argument(bridge, devices, tmp_path):
    cases = [
        (dict(rpc_port=_free_port()), "cannot reach the RPC tracker at 127.0.0.1:"),
        (dict(rpc_port=devices.port, key="gpu"), "has no server with key 'gpu' (it has cpu)"),
    ]
    for kwargs, words in cases:
        with pytest.raises(grpc.RpcError) as err:
            _open(bridge, work_dir=tmp_path / "wd", **kwargs)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in err.value.details() and "\n" not in err.value.details()
    # Checked before the database is created.
    assert not (tmp_path / "wd").exists()


def test_a_device_killed_mid_batch_costs_no_trial_and_no_failure_record(bridge, tmp_path):
    rpc = RpcLocal(tmp_path / "rpc", servers=2)
    try:
        # Long enough runs (2 x 200 ms at least) that the kill lands inside a session. Without the
        # correctness check, whose short reference session would come first and could take the
        # kill between sessions (test_check.py covers the check on devices).
        task = _open(bridge, rpc.port, tmp_path / "wd", min_repeat_ms=200, check_correctness=False)
        cands = bridge.stub.SampleInitial(pb.SampleInitialRequest(task_id=task.task_id, count=6, seed=6)).candidates
        future = bridge.stub.Measure.future(pb.MeasureRequest(task_id=task.task_id, trace_json=[c.trace_json for c in cands]))
        deadline = time.time() + 120
        while "connected from" not in rpc.log(1):
            assert time.time() < deadline, "no trial reached server 1"
            time.sleep(0.05)
        os.killpg(rpc.pid(1), signal.SIGKILL)  # the device, with every process it runs
        response = future.result(timeout=600)
        codes = [pb.MeasureErrorCode.Name(r.error) for r in response.results]
        assert codes == ["MEASURE_OK"] * 6, [r.message for r in response.results]
        assert max(r.attempts for r in response.results) >= 2
        records = _records(tmp_path / "wd")
        assert len(records) == 6
        assert all(r[1][1][0] < FAILED for r in records)  # [workload, [trace, run_secs, ...]]: no failure time
    finally:
        rpc.stop()


def test_faults_are_typed_by_who_is_to_blame():
    never = lambda device: False  # noqa: E731
    always = lambda device: True  # noqa: E731
    ok = classify_rpc_result({"ok": True, "run_secs": [1e-3], "device": "h:1"}, 10, never)
    assert ok.ok and ok.device == "h:1" and ok.committable
    queued = classify_rpc_result({"ok": False, "stage": "queue", "error": "timed out"}, 10, always)
    assert queued.code == "DEVICE_LOST" and not queued.committable
    expired = classify_rpc_result(
        {"ok": False, "stage": "run", "device": "h:1", "error": "RPCSessionTimeoutError: Your 10s session has expired", "session_secs": 3},
        10,
        always,
    )
    assert expired.code == "SESSION_TIMEOUT" and expired.committable
    slow = classify_rpc_result({"ok": False, "stage": "run", "device": "h:1", "error": "socket closed", "session_secs": 9.9}, 10, never)
    assert slow.code == "SESSION_TIMEOUT"
    remote = classify_rpc_result(
        {"ok": False, "stage": "run", "device": "h:1", "error": "RPCError: Error caught from RPC call: bad", "session_secs": 1}, 10, never
    )
    assert remote.code == "RUN_FAILED"
    gone = {"ok": False, "stage": "run", "device": "h:1", "error": "connection reset by peer", "session_secs": 1}
    assert classify_rpc_result(gone, 10, never).code == "DEVICE_LOST"
    # The session died but the device is still registered: the schedule took it down.
    assert classify_rpc_result(gone, 10, always).code == "RUN_FAILED"
