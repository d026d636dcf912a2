"""Measuring on the devices of a TVM RPC tracker: builds stay on this host (the warm BuildPool),
runs go to the devices, as many at once as the tracker has devices for the key.

Faults are sorted by who is to blame. A trial whose device could not be had, or went away
mid-trial, is the device's fault: it is run again on another device (at most `max_retries`
times) and, if still lost, reported as DEVICE_LOST, which is neither committed nor learnt
from. A trial that the device ended at its session timeout, or whose session died while the
device stayed up, is the schedule's fault and is recorded as MetaSchedule records failures.
"""

from __future__ import annotations

import collections
import importlib
import logging
import os
import socket
import struct
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Callable

from tvm.s_tir import meta_schedule as ms

from ..errors import InvalidArgument
from .base import MeasureOutcome, MeasureSettings, Measurer, classify_build_error, short_message
from .builder import BuildPool
from .guarded import GuardedPool
from .rpc_worker import run_on_device

log = logging.getLogger("colt_bridge.rpc")

# Runner workers at most, whatever a tracker reports: each is a process that waits on one device's
# session, so 64 keep a large farm busy, and a tracker that claims 10,000 devices (by mistake or
# to exhaust this host) gets no more.
MAX_DEVICE_WORKERS = 64

# A remote exception (the device ran our call and it raised) as TVM's RPC reports it.
_REMOTE_ERROR = "error caught from rpc call"
_SESSION_EXPIRED = "rpcsessiontimeouterror"


@dataclass
class RpcSettings:
    host: str
    port: int
    key: str
    priority: int = 1
    session_timeout_sec: float = 30.0
    max_retries: int = 2

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def queue_timeout_sec(self) -> float:
        """How long a trial may wait at the tracker for a free device before it counts as lost."""
        return max(30.0, self.session_timeout_sec)


class TrackerError(Exception):
    """The tracker cannot be reached or does not answer like a TVM RPC tracker."""


def tracker_summary(host: str, port: int, timeout_sec: float = 5.0) -> dict:
    """The tracker's summary (queue_info, server_info), or TrackerError within timeout_sec.

    tvm.rpc.connect_tracker retries a refused connection for a minute: too long to tell a user
    that the address is wrong.
    """
    from tvm.rpc import base  # pylint: disable=import-outside-toplevel

    try:
        sock = socket.create_connection((host, port), timeout=timeout_sec)
    except OSError as err:
        raise TrackerError(f"cannot reach the RPC tracker at {host}:{port}: {err.strerror or err}") from None
    try:
        sock.sendall(struct.pack("<i", base.RPC_TRACKER_MAGIC))
        magic = struct.unpack("<i", base.recvall(sock, 4))[0]
        if magic != base.RPC_TRACKER_MAGIC:
            raise TrackerError(f"{host}:{port} is not a TVM RPC tracker")
        base.sendjson(sock, [base.TrackerCode.SUMMARY])
        value = base.recvjson(sock)
        if value[0] != base.TrackerCode.SUCCESS:
            raise TrackerError(f"the RPC tracker at {host}:{port} refused a summary: {value!r}")
        return value[1]
    except (OSError, struct.error, ValueError) as err:
        raise TrackerError(f"the RPC tracker at {host}:{port} does not answer: {err}") from None
    finally:
        sock.close()


def devices_in(summary: dict, key: str) -> list[str]:
    """host:port of every server registered under `key`, sorted."""
    out = []
    for item in summary.get("server_info", []):
        if item.get("key") == f"server:{key}":
            addr = item.get("addr") or ["?", 0]
            out.append(f"{addr[0]}:{addr[1]}")
    return sorted(out)


def check_tracker(settings: RpcSettings) -> list[str]:
    """The devices for the key; InvalidArgument (one line) when there is no tracker or no device."""
    try:
        summary = tracker_summary(settings.host, settings.port)
    except TrackerError as err:
        raise InvalidArgument(str(err)) from None
    devices = devices_in(summary, settings.key)
    if not devices:
        keys = sorted({str(item.get("key", "")).split(":", 1)[-1] for item in summary.get("server_info", [])})
        offered = f"it has {', '.join(keys)}" if keys else "it has no servers"
        raise InvalidArgument(f"the RPC tracker at {settings.address} has no server with key {settings.key!r} ({offered})")
    return devices


def classify_rpc_result(result: dict, session_timeout_sec: float, device_alive: Callable[[str], bool]) -> MeasureOutcome:
    """Sorts one device run into an outcome; device_alive(device) asks the tracker."""
    device = result.get("device", "")
    if result.get("ok"):
        return MeasureOutcome(True, run_secs=list(result["run_secs"]), device=device, outputs=result.get("outputs"))
    stage = result.get("stage", "queue")
    error = short_message(result.get("error", "unknown error"))
    if stage in ("queue", "connect"):
        where = f" ({device})" if device else ""
        return MeasureOutcome(False, code="DEVICE_LOST", message=f"no device{where}: {error}", device=device)
    low = error.lower()
    if _SESSION_EXPIRED in low or result.get("session_secs", 0.0) >= 0.95 * session_timeout_sec:
        return MeasureOutcome(
            False,
            code="SESSION_TIMEOUT",
            message=f"the session on {device} ran past its {session_timeout_sec:g} s timeout",
            device=device,
        )
    if _REMOTE_ERROR in low:
        return MeasureOutcome(False, code="RUN_FAILED", message=error, device=device)
    # The connection broke. A device that is still registered survived: the schedule took its
    # session down with it. One that is gone was lost under the trial.
    if device and device_alive(device):
        return MeasureOutcome(
            False,
            code="RUN_FAILED",
            message=f"the session on {device} died while the device stayed up: {error}",
            device=device,
        )
    return MeasureOutcome(False, code="DEVICE_LOST", message=f"lost {device or 'the device'}: {error}", device=device)


class RpcMeasurer(Measurer):
    """Builds on the warm BuildPool and runs each artifact, as soon as it is built, on a device.
    The correctness check's run and its outputs' fetch happen there too, in the trial's session."""

    # Batches may be measured side by side: the devices, not this host, bound them.
    concurrent = True

    def __init__(
        self, target, settings: MeasureSettings, rpc: RpcSettings, device_type: str, devices: int, untuned=None
    ):
        super().__init__(target, settings, untuned)
        self.devices_at_open = devices
        self.target = target
        self.rpc = rpc
        self.device_type = device_type
        self.builder = BuildPool.get(settings.max_workers, settings.timeout_sec)
        self.builder.warm()
        # One pool for the measurer's life. Its threads, and the worker process each holds, start
        # only as runs are let in: `_places` runs at once, one per device, up to the cap.
        self._pool = GuardedPool(
            max_workers=MAX_DEVICE_WORKERS,
            # A worker that outlives both its wait for a device and the device's own session
            # timeout is talking to a device that stopped answering.
            timeout=self.rpc.queue_timeout_sec + self.rpc.session_timeout_sec + 30,
            initializer=importlib.import_module,
            initargs=("tvm.s_tir.meta_schedule.runner.rpc_runner",),
        )
        self._room = threading.Condition()
        self._places = 0
        self._in_flight = 0
        self._resize(devices)

    @property
    def places(self) -> int:
        """Runs let out at once: the tracker's devices for the key, at least 1, at most the cap."""
        return self._places

    def _resize(self, devices: int) -> None:
        """One run per device, the tracker handing each a different free device."""
        size = min(MAX_DEVICE_WORKERS, max(1, devices))
        with self._room:
            # Workers started ahead of the first trial (each imports TVM): no more than the cores.
            warm = min(size, os.cpu_count() or 1) - min(self._places, os.cpu_count() or 1)
            self._places = size
            self._room.notify_all()
        for _ in range(max(0, warm)):
            self._pool.submit(int, 0)

    def _take_place(self, wait_for_one: bool) -> bool:
        """A place for one more run; when wait_for_one, waits until concurrent batches free one."""
        with self._room:
            while self._in_flight >= self._places:
                if not wait_for_one:
                    return False
                self._room.wait(timeout=1.0)
            self._in_flight += 1
            return True

    def _free_place(self) -> None:
        with self._room:
            self._in_flight -= 1
            self._room.notify_all()

    def _devices(self) -> list[str]:
        try:
            return devices_in(tracker_summary(self.rpc.host, self.rpc.port), self.rpc.key)
        except TrackerError as err:
            log.warning("%s", err)
            return []

    def _device_alive(self, device: str) -> bool:
        # The tracker drops a server when its connection closes; give it a moment to notice.
        deadline = time.monotonic() + 2.0
        while True:
            if device not in self._devices():
                return False
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.25)

    def _wait_for_a_device(self) -> bool:
        deadline = time.monotonic() + self.rpc.queue_timeout_sec
        while True:
            if self._devices():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(1.0)

    def _submit_run(self, artifact: str, args_info, check_inputs, timing: tuple | None) -> Future:
        return self._pool.submit(
            run_on_device,
            (self.rpc.host, self.rpc.port, self.rpc.key, self.rpc.priority),
            self.rpc.session_timeout_sec,
            self.rpc.queue_timeout_sec,
            timing,
            artifact,
            self.device_type,
            tuple(arg.as_json() for arg in args_info),
            check_inputs,
        )

    def _run_result(self, future: Future) -> dict:
        try:
            return future.result()
        except TimeoutError:
            return {"ok": False, "stage": "queue", "error": "the device stopped answering", "device": ""}
        except Exception as err:  # pylint: disable=broad-except
            return {"ok": False, "stage": "queue", "error": f"runner worker failed: {err}", "device": ""}

    def _run(self, mods: list, args_infos: list, check_inputs: list, timing: tuple | None) -> tuple[list[MeasureOutcome], float, float]:
        """An outcome per module, and the wall seconds until the last build and of the runs."""
        started = time.perf_counter()
        devices = self._devices()
        if not devices and not self._wait_for_a_device():
            lost = f"the RPC tracker at {self.rpc.address} has no device with key {self.rpc.key!r}"
            return [MeasureOutcome(False, code="DEVICE_LOST", message=lost) for _ in mods], 0.0, 0.0
        self._resize(len(devices))
        outcomes: list[MeasureOutcome | None] = [None] * len(mods)
        attempts = [0] * len(mods)
        artifacts: list[str | None] = [None] * len(mods)
        builds = {self.builder.submit(mod, self.target): i for i, mod in enumerate(mods)}
        runs: dict[Future, int] = {}
        ready: collections.deque[int] = collections.deque()
        build_wall = 0.0
        first_run: float | None = None

        while builds or runs or ready:
            # With nothing of its own in flight, a batch waits for a place another batch holds.
            while ready and self._take_place(wait_for_one=not runs and not builds):
                i = ready.popleft()
                attempts[i] += 1
                runs[self._submit_run(artifacts[i], args_infos[i], check_inputs[i], timing)] = i
                first_run = first_run if first_run is not None else time.perf_counter()
            done, _ = wait(list(builds) + list(runs), return_when=FIRST_COMPLETED)
            for future in done:
                if future in builds:
                    i = builds.pop(future)
                    path, error = self.builder.result(future)
                    build_wall = time.perf_counter() - started
                    if error:
                        msg = short_message(error)
                        outcomes[i] = MeasureOutcome(False, code=classify_build_error(msg), message=msg)
                    else:
                        artifacts[i] = path
                        ready.append(i)
                    continue
                i = runs.pop(future)
                self._free_place()
                outcome = classify_rpc_result(self._run_result(future), self.rpc.session_timeout_sec, self._device_alive)
                outcome.attempts = attempts[i]
                if outcome.code == "DEVICE_LOST" and attempts[i] <= self.rpc.max_retries:
                    log.warning("trial %d: %s; running it again (retry %d of %d)", i, outcome.message, attempts[i], self.rpc.max_retries)
                    ready.appendleft(i)
                else:
                    outcomes[i] = outcome
        run_wall = time.perf_counter() - first_run if first_run is not None else 0.0
        for path in artifacts:
            if path:
                ms.utils.remove_build_dir(path)
        per_build = build_wall / max(1, len(mods))
        for outcome in outcomes:
            outcome.build_secs = per_build  # type: ignore[union-attr]
        return outcomes, build_wall, run_wall  # type: ignore[return-value]

    def close(self) -> None:
        self._pool.shutdown(wait=False)
