"""Fixtures: a real bridge server in its own process, and a gRPC stub talking to it."""

from __future__ import annotations

import os
import subprocess
import sys

import grpc
import pytest

BRIDGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BRIDGE_DIR)

from colt_bridge.auth import new_token, token_channel  # noqa: E402
from colt_bridge.proto import pb, pb_grpc  # noqa: E402

MATMUL_TVMSCRIPT = '''
from tvm.script import tirx as T

@T.prim_func(s_tir=True)
def matmul(a: T.handle, b: T.handle, c: T.handle):
    A = T.match_buffer(a, (64, 64), "float32")
    B = T.match_buffer(b, (64, 64), "float32")
    C = T.match_buffer(c, (64, 64), "float32")
    for i, j, k in T.grid(64, 64, 64):
        with T.sblock("C"):
            vi, vj, vk = T.axis.remap("SSR", [i, j, k])
            with T.init():
                C[vi, vj] = T.float32(0)
            C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]
'''


class BridgeProcess:
    def __init__(self, parent_pid: int = 0):
        args = [sys.executable, "-m", "colt_bridge", "--host", "127.0.0.1", "--port", "0"]
        if parent_pid:
            args += ["--parent-pid", str(parent_pid)]
        # The bridge's token comes on its stdin, as the supervisor sends it.
        self.token = new_token()
        self.proc = subprocess.Popen(
            args, cwd=BRIDGE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.proc.stdin.write(self.token + "\n")
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        assert line.startswith("COLT_BRIDGE_READY port="), line
        self.port = int(line.split("port=")[1].split()[0])
        self.channel = token_channel(f"127.0.0.1:{self.port}", self.token)
        self.stub = pb_grpc.BridgeStub(self.channel)

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def bridge():
    server = BridgeProcess()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gmm_task(bridge, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("gmm")
    response = bridge.stub.OpenTask(
        pb.OpenTaskRequest(
            workload="GMM:0",
            target_json='{"kind":"llvm","num-cores":2}',
            work_dir=str(work_dir),
            seed=1,
            measure=pb.MeasureConfig(number=2, repeat=1, min_repeat_ms=10, timeout_sec=30),
        )
    )
    return response, work_dir


# Stock TVM in a process of its own: opens a work dir's database and applies it to GMM:0.
_STOCK_TVM_APPLIES = (
    "import sys, tvm\n"
    "from tvm.s_tir import meta_schedule as ms\n"
    "from tvm.s_tir.meta_schedule.testing import te_workload\n"
    "db = ms.database.JSONDatabase(work_dir=sys.argv[1])\n"
    "mod = tvm.IRModule({'main': te_workload.create_te_workload('GMM', 0)})\n"
    "sch = ms.tir_integration.compile_tir(db, mod, tvm.target.Target({'kind':'llvm','num-cores':2}))\n"
    "print(len(db.get_all_tuning_records()), sch is not None)\n"
)


def stock_tvm_applies(work_dir) -> tuple[int, bool]:
    """(records in the database, whether compile_tir applied one), as plain TVM sees them."""
    check = subprocess.run(
        [sys.executable, "-c", _STOCK_TVM_APPLIES, str(work_dir)], capture_output=True, text=True, timeout=600
    )
    assert check.returncode == 0, check.stderr[-2000:]
    count, applied = check.stdout.split()
    return int(count), applied == "True"
