"""Attacks tried for real: another process on this machine dials a spawned bridge, a hosted
bridge (colt_tvm's, in this process) and a daemon, without the token or with a wrong one. Only
health answers; with the token the same calls go through."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from colt_bridge.auth import new_token, read_token_file, token_file_for, tokens_equal

from conftest import BRIDGE_DIR

REPO = os.path.dirname(BRIDGE_DIR)

# The attacker: a separate Python process that knows the address and maybe a token ($ATTACK_TOKEN).
ATTACKER = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {bridge_dir!r})
    import grpc
    from colt_bridge.proto import pb, pb_grpc
    channel = grpc.insecure_channel(sys.argv[1])
    stub = pb_grpc.BridgeStub(channel)
    token = os.environ.get("ATTACK_TOKEN")
    metadata = (("authorization", "Bearer " + token),) if token else ()
    calls = {{
        "Health": (stub.Health, pb.HealthRequest()),
        "OpenTask": (stub.OpenTask, pb.OpenTaskRequest(workload="NOPE:1", work_dir="/tmp/colt-attack")),
        "GetTask": (stub.GetTask, pb.GetTaskRequest(task_id="nope")),
        "Measure": (stub.Measure, pb.MeasureRequest(task_id="nope")),
        "CloseTask": (stub.CloseTask, pb.CloseTaskRequest(task_id="nope")),
    }}
    out = {{}}
    for name, (method, request) in calls.items():
        try:
            method(request, metadata=metadata, timeout=120)
            out[name] = ["OK", ""]
        except grpc.RpcError as err:
            out[name] = [err.code().name, err.details()]
    print(json.dumps(out))
    """
).format(bridge_dir=BRIDGE_DIR)


def attack(address: str, token: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ATTACK_TOKEN"}
    if token is not None:
        env["ATTACK_TOKEN"] = token
    out = subprocess.run(
        [sys.executable, "-c", ATTACKER, address], env=env, capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_refused_but_health(results: dict) -> None:
    assert results["Health"][0] == "OK"
    for name in ("OpenTask", "GetTask", "Measure", "CloseTask"):
        assert results[name][0] == "UNAUTHENTICATED", (name, results[name])
        assert "token" in results[name][1]


def test_a_spawned_bridge_refuses_callers_without_its_token(bridge):
    address = f"127.0.0.1:{bridge.port}"
    assert_refused_but_health(attack(address))
    assert_refused_but_health(attack(address, new_token()))
    # The same calls with the token reach the service (and fail there, on their own merits).
    allowed = attack(address, bridge.token)
    assert allowed["OpenTask"][0] == "INVALID_ARGUMENT" and "NOPE" in allowed["OpenTask"][1]
    assert allowed["GetTask"][0] == "NOT_FOUND"


def test_a_bridge_without_a_token_on_stdin_does_not_start():
    proc = subprocess.run(
        [sys.executable, "-m", "colt_bridge", "--port", "0"],
        cwd=BRIDGE_DIR,
        input="",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("colt_bridge: error: no token on stdin")
    assert "COLT_BRIDGE_READY" not in proc.stdout


def test_the_hosted_bridge_refuses_callers_without_its_token():
    from colt_tvm.host import HostedBridge  # pylint: disable=import-outside-toplevel

    host = HostedBridge.get()
    assert_refused_but_health(attack(host.address))
    assert_refused_but_health(attack(host.address, new_token()))
    allowed = attack(host.address, host.token)
    assert allowed["GetTask"][0] == "NOT_FOUND"


def test_tokens_compare_whole():
    token = new_token()
    assert len(token) == 64 and int(token, 16) >= 0
    assert tokens_equal(token, token)
    for other in (None, "", token[:-1], token + "0", token.upper() if token != token.upper() else token + "x"):
        assert not tokens_equal(token, other)


@pytest.fixture
def daemon_on_socket(tmp_path):
    """`colt daemon` on a socket in a private folder, as a user starts it."""
    main = os.path.join(REPO, "dist", "cli", "main.js")
    if not os.path.isfile(main):
        pytest.skip("dist/ is not built: npm run build")
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    socket = folder / "daemon.sock"
    env = {k: v for k, v in os.environ.items() if k != "COLT_TOKEN"}
    proc = subprocess.Popen(
        ["node", main, "daemon", "--listen", f"unix:{socket}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    assert line.startswith("COLT_DAEMON_READY "), proc.stderr.read() if proc.poll() is not None else line
    fields = dict(f.split("=", 1) for f in line.split()[1:])
    yield fields, socket
    proc.terminate()
    proc.wait(timeout=60)


def test_colt_tvm_finds_the_daemons_token_by_itself(daemon_on_socket, monkeypatch):
    from colt_tvm._proto import tpb  # pylint: disable=import-outside-toplevel
    from colt_tvm.daemon import Daemon  # pylint: disable=import-outside-toplevel
    from colt_tvm.errors import Unauthenticated  # pylint: disable=import-outside-toplevel

    fields, socket = daemon_on_socket
    address = f"unix:{socket}"
    assert fields["address"] == address
    assert fields["token_file"] == token_file_for(address)
    token = read_token_file(fields["token_file"])
    assert token not in " ".join(fields.values())
    assert stat.S_IMODE(os.stat(fields["token_file"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(socket.parent).st_mode) == 0o700

    monkeypatch.delenv("COLT_TOKEN", raising=False)
    daemon = Daemon(address)  # the token file next to the socket
    try:
        assert daemon.call("ListJobs", tpb.ListJobsRequest(), timeout=60).jobs is not None
    finally:
        daemon.close()
    for wrong in (Daemon(address, token=new_token()),):
        try:
            with pytest.raises(Unauthenticated, match="token"):
                wrong.call("ListJobs", tpb.ListJobsRequest(), timeout=60)
        finally:
            wrong.close()
    monkeypatch.setenv("COLT_TOKEN", token)
    daemon = Daemon(address)
    try:
        assert daemon.call("ListJobs", tpb.ListJobsRequest(), timeout=60).jobs is not None
    finally:
        daemon.close()
