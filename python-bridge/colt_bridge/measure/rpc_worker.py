"""One trial on one RPC device, run inside a runner worker process.

The steps are MetaSchedule's RPCRunner's (its own upload, argument and evaluator functions),
but the tracker request is ours: RPCRunner reports only run times or an error string, while a
fault-tolerant runner must know which device ran a trial and whether the trial failed before
its session started (no device: retry), during it (device lost, or the schedule crashed it),
or at the device's session timeout (the schedule ran too long). When the correctness check
gives data, the trial runs once more on it in the same session and its arguments come back.
"""

from __future__ import annotations

import os
import socket
import struct
import time


def request_device(host: str, port: int, key: str, priority: int, timeout_sec: float) -> tuple[str, int, str]:
    """Waits (at most timeout_sec) for the tracker to hand us a free device: (host, port, matchkey).

    TrackerSession.request retries for minutes on a dead tracker and waits forever for a
    device; a runner that must notice lost devices cannot afford either.
    """
    from tvm.rpc import base  # pylint: disable=import-outside-toplevel

    sock = socket.create_connection((host, port), timeout=min(10.0, timeout_sec))
    try:
        sock.sendall(struct.pack("<i", base.RPC_TRACKER_MAGIC))
        magic = struct.unpack("<i", base.recvall(sock, 4))[0]
        if magic != base.RPC_TRACKER_MAGIC:
            raise RuntimeError(f"{host}:{port} is not a TVM RPC tracker")
        sock.settimeout(timeout_sec)
        base.sendjson(sock, [base.TrackerCode.REQUEST, key, "", priority])
        value = base.recvjson(sock)
        if value[0] != base.TrackerCode.SUCCESS:
            raise RuntimeError(f"the tracker refused the request: {value!r}")
        url, dev_port, matchkey = value[1]
        return str(url), int(dev_port), str(matchkey)
    finally:
        sock.close()


def run_on_device(
    tracker: tuple[str, int, str, int],
    session_timeout_sec: float,
    queue_timeout_sec: float,
    evaluator: tuple[int, int, int, bool] | None,
    artifact_path: str,
    device_type: str,
    args_info: tuple,
    check_inputs: list | None = None,
) -> dict:
    """Runs one built artifact on a device the tracker offers; never raises.

    Returns ok, run_secs, device ("host:port"), stage (where it stopped: queue, connect,
    upload, run, check), error, session_secs (time since the session started on the device),
    and outputs (the arguments after the run on check_inputs, when given). evaluator None: no
    timing runs.
    """
    # pylint: disable=import-outside-toplevel
    from tvm import rpc
    from tvm.s_tir.meta_schedule.runner import EvaluatorConfig
    from tvm.s_tir.meta_schedule.runner.rpc_runner import (
        default_alloc_argument,
        default_cleanup,
        default_run_evaluator,
        default_upload_module,
    )

    from .check import run_once

    host, port, key, priority = tracker
    out: dict = {"ok": False, "stage": "queue", "device": "", "session_secs": 0.0, "queue_secs": 0.0}
    queued = time.monotonic()
    started = None
    session = None
    remote_path = None
    try:
        url, dev_port, matchkey = request_device(host, port, key, priority, queue_timeout_sec)
        out["device"] = f"{url}:{dev_port}"
        out["queue_secs"] = time.monotonic() - queued
        out["stage"] = "connect"
        session = rpc.connect(url, dev_port, matchkey, session_timeout=session_timeout_sec)
        # The session's clock: the device kills the session this long after it starts.
        started = time.monotonic()
        out["stage"] = "upload"
        device = session.device(device_type, 0)
        remote_path = os.path.basename(artifact_path)
        rt_mod = default_upload_module(session, artifact_path, remote_path)
        out["stage"] = "run"
        out["run_secs"] = []
        if evaluator is not None:
            number, repeat, min_repeat_ms, flush = evaluator
            config = EvaluatorConfig(number=number, repeat=repeat, min_repeat_ms=min_repeat_ms, enable_cpu_cache_flush=flush)
            repeated_args = default_alloc_argument(session, device, args_info, 1)
            costs = default_run_evaluator(session, rt_mod, device, config, repeated_args)
            out["run_secs"] = [float(c) for c in costs]
        if check_inputs is not None:
            out["stage"] = "check"
            out["outputs"] = run_once(rt_mod, device, check_inputs)
        out["ok"] = True
    except Exception as err:  # pylint: disable=broad-except
        out["error"] = f"{type(err).__name__}: {err}"
    finally:
        if started is not None:
            out["session_secs"] = time.monotonic() - started
        try:
            default_cleanup(session, remote_path)
        except Exception:  # pylint: disable=broad-except
            pass  # a lost device cannot clean up
    return out
