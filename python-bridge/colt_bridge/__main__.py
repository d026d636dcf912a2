"""`python -m colt_bridge --host 127.0.0.1 --port 0`: serve until SIGTERM or SIGINT.

Reads its token from the first line of stdin (never argv: every user can read argv in /proc)
and refuses every call without it but the health check. Prints one line
`COLT_BRIDGE_READY port=<n> pid=<pid>` on stdout once it accepts calls. With `--parent-pid`, it
exits when that process is gone, so a killed daemon leaves no orphan.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .intrinsics import import_tensor_intrinsics
from .intrinsics import install as install_fast_getmodule
from .lifecycle import clean_up, make_temp_root, start_time


def _parent_gone(pid: int, started: str = "") -> bool:
    """Gone: no longer our parent, no such pid, or the pid now names a process started later."""
    if os.getppid() != pid:
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # another user's process has the pid: the start time says whether it is ours
    except OSError:
        return True
    return bool(started) and start_time(pid) != started


def _warm_up() -> None:
    """Pays TVM's slow first imports while the client is still preparing its first task."""
    from .measure import BuildPool, MeasureSettings  # pylint: disable=import-outside-toplevel

    BuildPool.get(None, MeasureSettings().timeout_sec).warm()
    import_tensor_intrinsics()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="colt_bridge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    # The parent as it is now: its pid handed to another process later is not our parent.
    parent_started = start_time(args.parent_pid) if args.parent_pid else ""
    from .auth import well_formed  # pylint: disable=import-outside-toplevel

    token = sys.stdin.readline().strip()
    if not well_formed(token):
        print("colt_bridge: error: no token on stdin (whoever starts the bridge writes one line: 16 to 512 printable characters)", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Before anything imports TVM's tensor intrinsics (TuneContext does too): 4 s, not 20.
    install_fast_getmodule()
    # Build artifacts and other worker temp files: under a root of our own, removed at exit.
    temp_root = make_temp_root()
    from .server import serve  # pylint: disable=import-outside-toplevel  (TVM loads slowly)

    server, port = serve(args.host, args.port, token=token)
    print(f"COLT_BRIDGE_READY port={port} pid={os.getpid()}", flush=True)
    threading.Thread(target=_warm_up, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        if args.parent_pid and _parent_gone(args.parent_pid, parent_started):
            from .task import SHUTTING_DOWN  # pylint: disable=import-outside-toplevel

            # Nobody will hear about a batch still landing: leave it out of the database.
            SHUTTING_DOWN.set()
            break
        stop.wait(0.5)
    server.stop(grace=1.0).wait(2.0)
    # Busy build/run workers would outlive us with nobody to enforce their timeout.
    clean_up(temp_root)
    # Popen pools and TVM's threads can keep the interpreter alive: leave now.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
