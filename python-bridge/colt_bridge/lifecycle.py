"""What a bridge leaves behind, on every way out: its worker processes and its temp files.

Build and run workers (TVM's PopenPoolExecutor), the compilers they start and RPC sessions are
the bridge's descendants. A bridge that leaves (SIGTERM, or its parent gone after a kill -9)
kills them all and reaps its own children, so that no busy worker outlives it with nobody left
to enforce its timeout. Their temp files (build artifacts: MetaSchedule's builder makes a
`tempfile.mkdtemp()` per build) go under one temp root per bridge, given to the workers as
TMPDIR and removed at exit; a root left by a bridge that died anyway (SIGKILL) is removed by
the next bridge that starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

TEMP_PREFIX = "colt-bridge-"


def start_time(pid: int) -> str:
    """The process's start time (/proc/<pid>/stat field 22); '' where /proc cannot tell."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: count fields after its closing one.
    return stat[stat.rfind(")") + 2 :].split(" ")


def same_process(pid: int, started: str) -> bool:
    """Whether `pid` still names the process that started at `started` (and has not exited)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return not started or fields[19] == started


def make_temp_root() -> str:
    """This bridge's temp root, TMPDIR for every worker it starts from now on.

    The bridge itself keeps the system's temp dir (tempfile caches it here, before TMPDIR
    changes): files it names for others, such as a daemon's token, stay where they belong.
    """
    base = tempfile.gettempdir()
    remove_stale_roots(base)
    root = os.path.join(base, f"{TEMP_PREFIX}{os.getpid()}-{start_time(os.getpid())}")
    os.makedirs(root, mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = root
    return root


def remove_stale_roots(base: str) -> list[str]:
    """Removes temp roots of this user's bridges that are gone; returns what it removed."""
    removed = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid_text, _, started = name[len(TEMP_PREFIX) :].partition("-")
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        # Only real directories of ours; never through a link someone else planted.
        if not pid_text.isdigit() or st.st_uid != os.getuid() or not os.path.isdir(path) or os.path.islink(path):
            continue
        if same_process(int(pid_text), started):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def descendants(root: int | None = None) -> list[int]:
    """Every living process below `root` (this process by default), from /proc."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None or len(fields) < 2 or fields[0] in ("Z", "X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def reap_descendants(timeout_sec: float = 5.0) -> None:
    """SIGKILLs every descendant and reaps this process's children (a bounded wait)."""
    deadline = time.monotonic() + timeout_sec
    for _ in range(5):
        pids = descendants()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_children(deadline)
    _reap_children(deadline)


def _reap_children(deadline: float) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)


def clean_up(temp_root: str | None) -> None:
    """Every exit path: workers killed and reaped, then the temp root removed."""
    reap_descendants()
    if temp_root:
        shutil.rmtree(temp_root, ignore_errors=True)
