"""A tracker that claims 10,000 devices: the RPC runner takes at most MAX_DEVICE_WORKERS of them,
in one pool, however often the count rises. The tracker here is a stub speaking only the
tracker's summary protocol (TVM's own framing, tvm.rpc.base), on 127.0.0.1."""

import os
import socket
import threading

import tvm
from tvm.rpc import base

from colt_bridge.measure import rpc as rpc_module
from colt_bridge.measure.base import MeasureSettings
from colt_bridge.measure.builder import BuildPool
from colt_bridge.measure.rpc import RpcMeasurer, RpcSettings, check_tracker

# The cap as shipped; the tests below lower it (each worker imports TVM: 64 of them would take
# minutes on a 2-core machine) and show that it holds, whatever the tracker claims.
assert rpc_module.MAX_DEVICE_WORKERS == 64
CAP = 6


class StubTracker:
    """Answers every SUMMARY with `devices` servers under key `cpu`; counts the summaries."""

    def __init__(self, devices: int):
        self.devices = devices
        self.summaries = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        if True:
            with conn:
                try:
                    base.recvall(conn, 4)
                    conn.sendall(base.struct.pack("<i", base.RPC_TRACKER_MAGIC))
                    assert base.recvjson(conn) == [base.TrackerCode.SUMMARY]
                    servers = [{"key": "server:cpu", "addr": ["127.0.0.1", 10000 + i]} for i in range(self.devices)]
                    self.summaries += 1
                    base.sendjson(conn, [base.TrackerCode.SUCCESS, {"queue_info": {}, "server_info": servers}])
                except (OSError, AssertionError):
                    pass

    def close(self):
        self.sock.close()


def _children() -> list[int]:
    """This process's child processes, from /proc."""
    me = str(os.getpid())
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            out.append(int(pid))
    return out


def test_ten_thousand_devices_start_no_more_workers_than_the_cap(monkeypatch):
    monkeypatch.setattr(rpc_module, "MAX_DEVICE_WORKERS", CAP)
    tracker = StubTracker(10_000)
    rpc = RpcSettings(host="127.0.0.1", port=tracker.port, key="cpu", session_timeout_sec=5)
    devices = check_tracker(rpc)
    assert len(devices) == 10_000
    settings = MeasureSettings(max_workers=1, rpc=rpc)
    BuildPool.get(settings.max_workers, settings.timeout_sec).warm()  # shared, and not the runner's
    before = set(_children())
    target = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    measurer = RpcMeasurer(target, settings, rpc, "cpu", len(devices))
    try:
        assert measurer.places == CAP
        # A batch asks the tracker again, and the count "rises" each time: still one pool, no growth.
        for _ in range(3):
            tracker.devices += 5_000
            outcomes, _, _ = measurer._run([], [], [], (1, 1, 0, False))  # pylint: disable=protected-access
            assert outcomes == []
        assert tracker.summaries >= 4
        assert measurer.places == CAP
        # Every place filled at once: the pool starts a worker per run, and no more than the cap.
        futures = [measurer._pool.submit(int, 0) for _ in range(50)]  # pylint: disable=protected-access
        for future in futures:
            future.result()
        workers = set(_children()) - before
        pool = measurer._pool  # pylint: disable=protected-access
        assert 0 < len(pool._worker_map) <= CAP  # pylint: disable=protected-access
        # Every new process is a worker of that pool, or of the shared build pool's one slot.
        assert len(workers) <= CAP + 1
        assert len(measurer._pool._threadpool._threads) <= CAP  # pylint: disable=protected-access
    finally:
        measurer.close()
        tracker.close()


def test_few_devices_take_few_places():
    tracker = StubTracker(3)
    rpc = RpcSettings(host="127.0.0.1", port=tracker.port, key="cpu", session_timeout_sec=5)
    target = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    measurer = RpcMeasurer(target, MeasureSettings(max_workers=1, rpc=rpc), rpc, "cpu", len(check_tracker(rpc)))
    try:
        assert measurer.places == 3
        tracker.devices = 5
        measurer._run([], [], [], (1, 1, 0, False))  # pylint: disable=protected-access
        assert measurer.places == 5
    finally:
        measurer.close()
        tracker.close()
