"""Targets arrive as TVM's JSON dict; TVM 0.27 rejects the old CLI string form."""

from __future__ import annotations

import json

from tvm.target import Target, codegen
from tvm.s_tir.meta_schedule.utils import cpu_count

from .errors import InvalidArgument, one_line


def host_cpu() -> str:
    """LLVM's name for this machine's CPU (e.g. "znver4"): what `-mcpu` must say to use its ISA."""
    return str(codegen.llvm_get_system_cpu())


def parse_target(target_json: str, host: bool = False) -> Target:
    """The target of a request; `host`: it stands for this machine, and an llvm target without
    mcpu gets this CPU's (without one, TVM compiles for generic x86-64: no AVX, no FMA)."""
    try:
        spec = json.loads(target_json)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"target is not valid JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise InvalidArgument('target must be a JSON object with a "kind", e.g. {"kind":"llvm","num-cores":2}')
    if spec["kind"] == "llvm" and "num-cores" not in spec:
        # MetaSchedule needs num-cores on llvm targets.
        spec["num-cores"] = cpu_count(logical=False)
    if host and spec["kind"] == "llvm" and "mcpu" not in spec:
        spec["mcpu"] = host_cpu()
    try:
        return Target(spec)
    except Exception as err:  # pylint: disable=broad-except
        raise InvalidArgument(f"invalid target {json.dumps(spec)}: {one_line(err)}") from None


def target_kind(target: Target) -> str:
    return str(target.kind.name)
