"""What the bench's Python programs share: the bridge's own workload loader, target parser and
warm build pool, so MetaSchedule's runs build and load exactly what COLT's runs do."""

from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python-bridge"))

# pylint: disable=wrong-import-position
from tvm.ir.utils import derived_object  # noqa: E402
from tvm.s_tir import meta_schedule as ms  # noqa: E402

from colt_bridge.measure import BuildPool  # noqa: E402
from colt_bridge.targets import parse_target  # noqa: E402,F401  (re-exported)
from colt_bridge.workload import load_workload  # noqa: E402,F401  (re-exported)


@derived_object
class WarmBuilder(ms.builder.PyBuilder):
    """MetaSchedule's LocalBuilder step on the bridge's warm worker pool.

    Stock LocalBuilder starts fresh workers for every batch (10-20 s of imports each time here),
    which COLT's bridge avoids: without this, MetaSchedule's wall times would carry a cost that
    has nothing to do with its search. The build itself is LocalBuilder's own worker function.
    """

    def __init__(self, timeout_sec: float, max_workers: int | None = None):
        super().__init__()
        self.pool = BuildPool.get(max_workers, timeout_sec)
        self.pool.warm()

    def build(self, build_inputs):
        if not build_inputs:
            return []
        target = build_inputs[0].target
        results = self.pool.build([inp.mod for inp in build_inputs], target)
        return [ms.builder.BuilderResult(path, error) for path, error in results]


def emit(obj) -> None:
    """The one line the TypeScript side reads: JSON, last on stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
