"""Traces on the wire: TVM's own trace JSON, and the sampling decisions inside a trace."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tvm.s_tir import Schedule
from tvm_ffi import Array, Map
from tvm.tirx import FloatImm, IntImm
from tvm.s_tir.schedule import Trace

from .errors import InvalidArgument, one_line

SAMPLE_KINDS = ("SamplePerfectTile", "SampleCategorical", "SampleComputeLocation")


def plain(obj):
    """TVM containers and immediates as plain Python values (TVM 0.27 mixes both in as_json)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple, Array)):
        return [plain(item) for item in obj]
    if isinstance(obj, (dict, Map)):
        return {str(plain(k)): plain(v) for k, v in obj.items()}
    if isinstance(obj, (IntImm, FloatImm)):
        return obj.value
    return str(obj)


def trace_to_json(trace: Trace) -> str:
    return json.dumps(plain(trace.as_json()), separators=(",", ":"))


def replay(mod, trace_json: str, seed: int) -> Schedule:
    """A fresh schedule of `mod` with the trace (and its decisions) applied, postprocs removed."""
    try:
        obj = json.loads(trace_json)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"trace is not valid JSON: {err.msg}") from None
    sch = Schedule(mod, seed=_seed(seed), debug_mask="none", error_render_level="none")
    try:
        Trace.apply_json_to_schedule(obj, sch)
    except Exception as err:  # pylint: disable=broad-except
        raise InvalidArgument(f"trace does not apply to this task: {one_line(err)}") from None
    return sch


def without_postproc(sch: Schedule) -> Trace:
    """The trace as mutators expect it: simplified, postprocessing instructions removed."""
    return sch.trace.simplified(remove_postproc=True)


@dataclass
class DecisionInfo:
    inst_index: int
    kind: str
    value: object
    detail: dict


def decisions_of(trace: Trace) -> list[DecisionInfo]:
    out = []
    for index, inst in enumerate(trace.insts):
        kind = inst.kind.name
        if kind not in SAMPLE_KINDS:
            continue
        decision = trace.get_decision(inst)
        if decision is None:
            continue
        value = plain(decision)
        detail: dict = {}
        attrs = [plain(a) for a in inst.attrs]
        if kind == "SamplePerfectTile":
            extent = 1
            for factor in value:
                extent *= int(factor)
            detail = {"extent": extent, "n": int(attrs[0]), "max_innermost_factor": int(attrs[1])}
        elif kind == "SampleCategorical":
            detail = {"candidates": attrs[0]}
        out.append(DecisionInfo(index, kind, value, detail))
    return out


def check_decision(info: DecisionInfo, value: object) -> object:
    """Validates a directed edit against what the sampling instruction could have produced."""
    if info.kind == "SamplePerfectTile":
        n, extent = info.detail["n"], info.detail["extent"]
        inner = info.detail["max_innermost_factor"]
        if (
            not isinstance(value, list)
            or len(value) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
        ):
            raise ValueError(f"a tile decision is a list of {n} positive integers")
        product = 1
        for v in value:
            product *= v
        if product != extent:
            raise ValueError(f"tile factors {value} multiply to {product}, the loop extent is {extent}")
        if inner > 0 and value[-1] > inner:
            raise ValueError(f"innermost factor {value[-1]} exceeds max_innermost_factor {inner}")
        return value
    if info.kind == "SampleCategorical":
        count = len(info.detail["candidates"])
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
            raise ValueError(f"a categorical decision is an index in 0..{count - 1}")
        return value
    if info.kind == "SampleComputeLocation":
        if not isinstance(value, int) or isinstance(value, bool) or value < -2:
            raise ValueError("a compute-location decision is an integer >= -2")
        return value
    raise ValueError(f"instruction kind {info.kind} has no settable decision")


_MASK64 = (1 << 64) - 1


def _seed(seed: int) -> int:
    """A TVM random state for `seed`: a non-negative 31-bit value (-1 would mean "from the
    clock"). Mixed first (splitmix64's finaliser): TVM's engine is a linear congruential one, and
    neighbouring seeds such as a sampling loop's seed + 1, seed + 2 ... would start it in
    neighbouring states, whose first draws are nearly equal."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return z % (2**31 - 1) or 1
