"""Worker pools whose calls have a deadline kept on the bridge's side too.

TVM's PopenPoolExecutor enforces a call's timeout inside the worker (a timer thread there), and
the bridge then waits on the worker's pipe with no limit of its own. A worker that cannot run
its timer (stopped with SIGSTOP, or wedged with nothing moving) leaves the bridge waiting for
ever, while the bridge itself still answers its health checks: the whole Measure call runs out
(found by scripts/soak: 360 s, then a failed run).

GuardedPool watches each call: once it is past its timeout plus a grace, and its worker has used
no CPU time since the last look (stopped or blocked; a worker still working, such as one slowed
by a busy machine while it imports TVM, is left alone), the worker is killed. The call then ends
as a timeout, as TVM's own would; the pool starts a fresh worker for the next call.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from tvm.support.popen_pool import PopenPoolExecutor

CHECK_EVERY_SEC = 5.0


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process in clock ticks; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split(" ")
    return int(fields[11]) + int(fields[12])


class GuardedPool(PopenPoolExecutor):
    """A PopenPoolExecutor whose stuck workers are killed: see the module's docstring."""

    def __init__(self, *args, grace_sec: float = 10.0, check_every_sec: float = CHECK_EVERY_SEC, **kwargs):
        super().__init__(*args, **kwargs)
        self._grace_sec = grace_sec
        self._check_every_sec = check_every_sec
        # Calls in flight, by the pool thread that runs them: (deadline, last CPU ticks seen).
        self._calls: dict[int, tuple[float, int | None]] = {}
        self._killed: set[int] = set()
        self._guard = threading.Lock()
        self._closed = threading.Event()
        self.kills = 0
        if self._timeout is not None:
            threading.Thread(target=self._watch, name="guarded-pool", daemon=True).start()

    def _worker_run(self, fn, args, kwargs):
        tid = threading.get_ident()
        with self._guard:
            if self._timeout is not None:
                self._calls[tid] = (time.monotonic() + float(self._timeout) + self._grace_sec, None)
        try:
            return super()._worker_run(fn, args, kwargs)
        except ChildProcessError as err:
            with self._guard:
                killed = tid in self._killed
            if killed:
                raise TimeoutError(f"the worker stopped answering and was killed after {self._timeout} s") from err
            raise
        finally:
            with self._guard:
                self._calls.pop(tid, None)
                self._killed.discard(tid)

    def _worker_pid(self, tid: int) -> int | None:
        worker = self._worker_map.get(tid)
        proc = getattr(worker, "_proc", None)
        return proc.pid if proc is not None else None

    def _watch(self) -> None:
        while not self._closed.wait(self._check_every_sec):
            now = time.monotonic()
            with self._guard:
                calls = list(self._calls.items())
            for tid, (deadline, seen) in calls:
                if now < deadline or tid in self._killed:
                    continue
                pid = self._worker_pid(tid)
                if pid is None:
                    continue
                ticks = cpu_ticks(pid)
                if ticks is not None and ticks != seen:
                    # Still working: look again next time.
                    with self._guard:
                        if tid in self._calls:
                            self._calls[tid] = (deadline, ticks)
                    continue
                with self._guard:
                    if tid not in self._calls:
                        continue
                    self._killed.add(tid)
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except OSError:
                    pass

    def shutdown(self, wait=True):
        self._closed.set()
        super().shutdown(wait=wait)
