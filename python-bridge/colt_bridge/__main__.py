"""`python -m colt_bridge --host 127.0.0.1 --port 0`: serve until SIGTERM or SIGINT.

Prints one line `COLT_BRIDGE_READY port=<n> pid=<pid>` on stdout once it accepts calls. With
`--parent-pid`, it exits when that process is gone, so a killed daemon leaves no orphan.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading


def _parent_gone(pid: int) -> bool:
    if os.getppid() != pid:
        return True
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


def _warm_up() -> None:
    """Pays TVM's slow first imports while the client is still preparing its first task."""
    from .measure import BuildPool, MeasureSettings  # pylint: disable=import-outside-toplevel

    BuildPool.get(None, MeasureSettings().timeout_sec).warm()
    import tvm.s_tir.tensor_intrin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="colt_bridge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import serve  # pylint: disable=import-outside-toplevel  (TVM loads slowly)

    server, port = serve(args.host, args.port)
    print(f"COLT_BRIDGE_READY port={port} pid={os.getpid()}", flush=True)
    threading.Thread(target=_warm_up, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        if args.parent_pid and _parent_gone(args.parent_pid):
            from .task import SHUTTING_DOWN  # pylint: disable=import-outside-toplevel

            # Nobody will hear about a batch still landing: leave it out of the database.
            SHUTTING_DOWN.set()
            break
        stop.wait(0.5)
    server.stop(grace=1.0).wait(2.0)
    # Popen pools and TVM's threads can keep the interpreter alive: leave now.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
