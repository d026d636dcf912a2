"""The bridge a MetaSchedule run hosts in its own process: the daemon's search applies, checks
and scores schedules through it, with the run's own TuneContext, design spaces and cost model.
It is the same Bridge service `colt tune` starts as a separate process; one per process, on a
free loopback port, started when the first ColtSearch needs it. Like every bridge it refuses
callers without its token, a fresh one, which ColtSearch hands to the daemon it trusts."""

from __future__ import annotations

import atexit
import threading

from colt_bridge.auth import new_token
from colt_bridge.server import BridgeService, serve
from colt_bridge.task import Task


class HostedBridge:
    _instance: "HostedBridge | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.service = BridgeService()
        self.token = new_token()
        self.server, port = serve("127.0.0.1", 0, token=self.token, service=self.service)
        self.address = f"127.0.0.1:{port}"

    @classmethod
    def get(cls) -> "HostedBridge":
        with cls._lock:
            if cls._instance is None:
                cls._instance = HostedBridge()
                atexit.register(cls._instance.stop)
            return cls._instance

    def add(self, task: Task) -> None:
        self.service.add_task(task)

    def remove(self, task_id: str) -> None:
        task = self.service.remove_task(task_id)
        if task is not None:
            with task.lock:
                task.close()

    def stop(self) -> None:
        self.server.stop(grace=None)
