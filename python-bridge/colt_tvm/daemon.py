"""The COLT daemon, seen from Python: connect to one by address, or start one (`colt daemon`) on a
Unix socket in a private folder of its own, shared by every ColtSearch of this process and
stopped with it. Every call carries the daemon's token: the `token=` given, else $COLT_TOKEN, else
the token file the daemon keeps next to its socket (or, for a loopback port, in the per-user
folder)."""

from __future__ import annotations

import atexit
import os
import queue
import shlex
import shutil
import tempfile
import subprocess
import sys
import threading
from pathlib import Path

import grpc

from colt_bridge.auth import GRPC_OPTIONS, TOKEN_ENV, TOKEN_METADATA_KEY, bearer, read_token_file, token_file_for

from ._proto import tpb, tpb_grpc
from .errors import DeadlineExceeded, InvalidArgument, Unavailable, from_rpc_error

READY_PREFIX = "COLT_DAEMON_READY "
START_TIMEOUT_SEC = 120.0


def daemon_command() -> list[str]:
    """How to run `colt`: $COLT_DAEMON_COMMAND, else the checkout this package lives in (its
    compiled CLI under node), else `colt` on PATH."""
    configured = os.environ.get("COLT_DAEMON_COMMAND", "").strip()
    if configured:
        return shlex.split(configured)
    main = Path(__file__).resolve().parents[2] / "dist" / "cli" / "main.js"
    node = shutil.which("node")
    if main.is_file() and node:
        return [node, str(main)]
    colt = shutil.which("colt")
    if colt:
        return [colt]
    raise Unavailable(
        "cannot find the COLT daemon: run `bash scripts/setup` in the COLT checkout, put `colt` on PATH, "
        "set COLT_DAEMON_COMMAND, or pass address= of a running `colt daemon`"
    )


def find_token(address: str, token: str | None = None) -> str | None:
    """The token for the daemon at `address`: `token`, else $COLT_TOKEN, else its token file.
    None when there is none to be found: the daemon then says what it wants (UNAUTHENTICATED),
    or that it is not there."""
    if token:
        return token
    if os.environ.get(TOKEN_ENV, "").strip():
        return os.environ[TOKEN_ENV].strip()
    path = token_file_for(address)
    if path is None or not os.path.exists(path):
        return None
    try:
        return read_token_file(path)
    except ValueError as err:
        raise InvalidArgument(f"no token for the COLT daemon at {address}: {err} (pass token=, or set ${TOKEN_ENV})") from None


class Daemon:
    """A gRPC client of the daemon's Tuner service; owns the process when it started it."""

    def __init__(
        self,
        address: str,
        process: subprocess.Popen | None = None,
        *,
        token: str | None = None,
        private_dir: str | None = None,
    ):
        self.address = address
        self.process = process
        self._private_dir = private_dir
        found = find_token(address, token)
        self._metadata = ((TOKEN_METADATA_KEY, bearer(found)),) if found else ()
        self._channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
        self._stub = tpb_grpc.TunerStub(self._channel)

    @classmethod
    def start(cls, command: list[str] | None = None, timeout: float = START_TIMEOUT_SEC) -> "Daemon":
        """Starts `colt daemon` on a Unix socket in a folder only this user can enter. It watches
        this process and exits when this process is gone, however it ends."""
        private_dir = tempfile.mkdtemp(prefix="colt-")  # mode 0700, ours
        listen = f"unix:{os.path.join(private_dir, 'daemon.sock')}"
        argv = list(command or daemon_command()) + ["daemon", "--listen", listen, "--parent-pid", str(os.getpid())]
        env = dict(os.environ)
        env.setdefault("COLT_LOG_LEVEL", "warn")
        try:
            # Its own session: a Ctrl-C in the user's terminal is the user's process's to handle.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None,
                env=env,
                text=True,
                start_new_session=True,
            )
        except OSError as err:
            shutil.rmtree(private_dir, ignore_errors=True)
            raise Unavailable(f"cannot start the COLT daemon ({shlex.join(argv)}): {err.strerror}") from None
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="colt-daemon-stdout", daemon=True).start()
        try:
            while True:
                line = lines.get(timeout=timeout)
                if line is None:
                    code = process.wait()
                    raise Unavailable(f"the COLT daemon exited with code {code} before it was ready (its errors are above)")
                if line.startswith(READY_PREFIX):
                    fields = dict(f.split("=", 1) for f in line[len(READY_PREFIX) :].split() if "=" in f)
                    token = read_token_file(fields["token_file"])
                    return cls(fields["address"], process, token=token, private_dir=private_dir)
        except queue.Empty:
            process.kill()
            shutil.rmtree(private_dir, ignore_errors=True)
            raise DeadlineExceeded(f"the COLT daemon was not ready within {timeout:.0f} s") from None
        except BaseException:
            process.kill()
            shutil.rmtree(private_dir, ignore_errors=True)
            raise

    def call(self, method: str, request, timeout: float | None = None, metadata=()):
        try:
            return getattr(self._stub, method)(request, timeout=timeout, metadata=self._metadata + tuple(metadata))
        except grpc.RpcError as err:
            raise from_rpc_error(err, method) from None

    def close(self) -> None:
        self._channel.close()
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)


_shared: dict[tuple, Daemon] = {}
_shared_lock = threading.Lock()


def shared_daemon(address: str | None = None, command: list[str] | None = None, token: str | None = None) -> Daemon:
    """The daemon at `address` (or $COLT_DAEMON_ADDRESS: host:port or unix:PATH), else the one this
    process started, else a new one. One per address or command per process."""
    address = address or os.environ.get("COLT_DAEMON_ADDRESS") or None
    key = ("address", address) if address else ("command", tuple(command or ()))
    with _shared_lock:
        daemon = _shared.get(key)
        if daemon is not None and (daemon.process is None or daemon.process.poll() is None):
            return daemon
        daemon = Daemon(address, token=token) if address else Daemon.start(command)
        _shared[key] = daemon
        return daemon


@atexit.register
def _close_all() -> None:
    with _shared_lock:
        daemons = list(_shared.values())
        _shared.clear()
    for daemon in daemons:
        try:
            daemon.close()
        except Exception as err:  # pylint: disable=broad-except
            print(f"colt_tvm: stopping the COLT daemon: {err}", file=sys.stderr)
