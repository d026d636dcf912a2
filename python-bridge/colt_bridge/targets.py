"""Targets arrive as TVM's JSON dict; TVM 0.27 rejects the old CLI string form."""

from __future__ import annotations

import json

from tvm.target import Target
from tvm.s_tir.meta_schedule.utils import cpu_count

from .errors import InvalidArgument, one_line


def parse_target(target_json: str) -> Target:
    try:
        spec = json.loads(target_json)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"target is not valid JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise InvalidArgument('target must be a JSON object with a "kind", e.g. {"kind":"llvm","num-cores":2}')
    if spec["kind"] == "llvm" and "num-cores" not in spec:
        # MetaSchedule needs num-cores on llvm targets.
        spec["num-cores"] = cpu_count(logical=False)
    try:
        return Target(spec)
    except Exception as err:  # pylint: disable=broad-except
        raise InvalidArgument(f"invalid target {json.dumps(spec)}: {one_line(err)}") from None


def target_kind(target: Target) -> str:
    return str(target.kind.name)
