"""A prior for the cost model's first opinion, before anything has been measured.

Until XGBoost has seen its warm-up samples its scores are uniform random numbers, so the first
batch of a run is a random draw from the initial population. On CPUs many of those draws
vectorize a loop shorter than one SIMD register, or nothing at all, and they are slow: in 400
measured GMM:1 schedules from earlier runs, those whose every vectorized loop filled an AVX-512
register had a median of 77 us, those with a shorter one 320-810 us. The prior prefers
schedules whose vectorized loops cover at least one full vector of the output's element type
on the target; the cost model's own (random) score only breaks ties. It holds for the
unmeasured start only: once the model is trained, its predictions stand.
"""

from __future__ import annotations

import tvm
from tvm import tirx
from tvm.s_tir.meta_schedule.arg_info import ArgInfo


def vector_lanes(target: tvm.target.Target, mod: tvm.IRModule) -> int:
    """Elements of the output's type in one SIMD register of `target`; 0 where not a CPU (or
    no target at all: a TuneContext may have none, as TVM's own strategy tests build them)."""
    if target is None or target.kind.name != "llvm":
        return 0
    try:
        width = int(tvm.target.codegen.llvm_get_vector_width(target))
    except Exception:  # pylint: disable=broad-except
        return 0
    bits = 32
    try:
        args = ArgInfo.from_entry_func(mod, remove_preproc=True)
        bits = max(1, tvm.DataType(args[-1].dtype).bits)
    except Exception:  # pylint: disable=broad-except
        pass
    return max(1, width // bits) if width > 0 else 0


def _vectorized_extents(stmt, out: list[int]) -> None:
    if isinstance(stmt, tirx.For) and int(stmt.kind) == int(tirx.ForKind.VECTORIZED):
        out.append(int(stmt.extent) if isinstance(stmt.extent, tirx.IntImm) else 0)
    for name in ("body", "block", "then_case", "else_case", "init"):
        child = getattr(stmt, name, None)
        if isinstance(child, tirx.Stmt):
            _vectorized_extents(child, out)
    for child in getattr(stmt, "seq", None) or []:
        _vectorized_extents(child, out)


def vector_score(mod: tvm.IRModule, lanes: int) -> float:
    """In [0, 1]: how far the schedule's shortest and longest vectorized loops fill a register."""
    extents: list[int] = []
    for func in mod.functions.values():
        if isinstance(func, tirx.PrimFunc):
            _vectorized_extents(func.body, extents)
    if not extents or lanes <= 0:
        return 0.0
    fill = lambda n: min(n, lanes) / lanes  # noqa: E731
    return 0.5 * fill(min(extents)) + 0.5 * fill(max(extents))
