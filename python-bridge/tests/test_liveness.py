"""The bridge's parent watch names the parent by pid and start time: a reused pid is not it."""

import os

from colt_bridge.__main__ import _parent_gone
from colt_bridge.lifecycle import start_time as _start_time


def test_the_parent_is_there_while_its_pid_and_start_time_match():
    parent = os.getppid()
    started = _start_time(parent)
    assert started.isdigit()
    assert not _parent_gone(parent, started)
    assert not _parent_gone(parent)


def test_a_pid_that_names_a_later_process_or_no_parent_is_gone():
    parent = os.getppid()
    assert _parent_gone(parent, str(int(_start_time(parent)) + 1))
    # A living process that is not our parent (ourselves: init may be our parent, if whoever
    # started us has gone).
    assert _parent_gone(os.getpid(), _start_time(os.getpid()))
    assert _start_time(2**22 + 12345) == ""


def test_stale_temp_roots_go_and_living_ones_stay(tmp_path):
    from colt_bridge.lifecycle import TEMP_PREFIX, remove_stale_roots, start_time

    mine = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-{start_time(os.getpid())}"
    reused = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-1"  # our pid, another start: a dead bridge's
    gone = tmp_path / f"{TEMP_PREFIX}{2**22 + 12345}-77"
    other = tmp_path / "not-ours"
    for d in (mine, reused, gone, other):
        (d / "tmpabc").mkdir(parents=True)
        (d / "tmpabc" / "tvm_tmp_mod.tar").write_bytes(b"x")
    removed = remove_stale_roots(str(tmp_path))
    assert sorted(removed) == sorted([str(reused), str(gone)])
    assert mine.exists() and other.exists()
    assert not reused.exists() and not gone.exists()


_REAP = """
import json, subprocess, sys
from colt_bridge.lifecycle import descendants, reap_descendants
# A worker that started a child of its own (as a build starts a compiler), both busy.
code = "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; time.sleep(600)']); print('up', flush=True); time.sleep(600)"
worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
worker.stdout.readline()
before = descendants()
reap_descendants()
print(json.dumps({"worker": worker.pid, "before": before, "after": descendants(), "reaped": worker.poll() is not None}))
"""


def test_reap_descendants_leaves_no_process_below_it():
    import json
    import subprocess
    import sys

    # In a process of its own: this test's process may hold other tests' worker pools.
    out = subprocess.run([sys.executable, "-c", _REAP], capture_output=True, text=True, timeout=120, check=True,
                         cwd=os.path.join(os.path.dirname(__file__), ".."))
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["worker"] in seen["before"] and len(seen["before"]) == 2
    assert seen["after"] == []
    assert seen["reaped"]
    for pid in seen["before"]:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] in "ZX"
