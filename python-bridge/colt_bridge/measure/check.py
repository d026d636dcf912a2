"""Whether a measured schedule computes what the untuned module computes.

Every argument of the entry function, inputs and outputs alike (as MetaSchedule's
validate_database compares them), is filled from fixed-seed random data. The untuned module,
built for the same target, is run once on it on the measuring device, once per task: its
arguments afterwards are the reference. Each trial that ran is run once more on the same data,
after its timing runs, and its arguments compared with the reference; a mismatch is the
schedule's failure, WRONG_RESULT, recorded as MetaSchedule records failures.

`run_once` runs inside the runner workers (local, or on an RPC device through its session);
the rest runs in the bridge.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import numpy as np

log = logging.getLogger("colt_bridge.check")

CHECK_SEED = 20240607

# Relative tolerance by dtype; the absolute one is the same times the argument's largest
# magnitude, so that small outputs (a softmax) are held to their own scale. Reordered float
# reductions differ in the last bits; a wrong schedule differs by far more.
_FLOAT_TOLERANCE = {"float64": 1e-6, "float32": 1e-3, "float16": 1e-2, "bfloat16": 2e-2}
_LOW_PRECISION_TOLERANCE = 1e-1  # float8 and narrower


class CheckUnavailable(Exception):
    """The workload's arguments cannot be filled with test data (e.g. an opaque handle)."""


def _np_dtype(dtype: str):
    try:
        return np.dtype(dtype)
    except TypeError:
        import ml_dtypes  # pylint: disable=import-outside-toplevel

        if not hasattr(ml_dtypes, dtype):
            raise CheckUnavailable(f"no test data for dtype {dtype}") from None
        return np.dtype(getattr(ml_dtypes, dtype))


def check_inputs(args_info_json: list) -> list[np.ndarray]:
    """Fixed-seed random data for every argument (ArgInfo.as_json() forms)."""
    rng = np.random.default_rng(CHECK_SEED)
    out = []
    for info in args_info_json:
        if not info or info[0] != "TENSOR":
            raise CheckUnavailable(f"no test data for argument {info!r}")
        dtype, shape = str(info[1]), [int(s) for s in info[2]]
        if dtype == "bool":
            out.append(rng.integers(0, 2, size=shape).astype(bool))
        elif dtype.startswith(("int", "uint")):
            # Small and non-negative: integer inputs may be indices or shift amounts.
            out.append(rng.integers(0, 8, size=shape).astype(_np_dtype(dtype)))
        elif dtype.startswith(("float", "bfloat")):
            out.append(rng.uniform(size=shape).astype("float32").astype(_np_dtype(dtype)))
        else:
            raise CheckUnavailable(f"no test data for dtype {dtype}")
    return out


def tolerance(dtype: str) -> float | None:
    """The relative tolerance for a dtype; None: compared exactly (integers, bool)."""
    if dtype in _FLOAT_TOLERANCE:
        return _FLOAT_TOLERANCE[dtype]
    if dtype.startswith(("float", "bfloat")):
        return _LOW_PRECISION_TOLERANCE
    return None


def compare(expected: list[np.ndarray], actual: list[np.ndarray]) -> str | None:
    """None when every argument matches; otherwise what differs, on one line."""
    if len(actual) != len(expected):
        return f"{len(actual)} arguments came back, the untuned module has {len(expected)}"
    for i, (want, got) in enumerate(zip(expected, actual)):
        dtype = str(want.dtype)
        where = f"argument {i} ({dtype}[{'x'.join(str(d) for d in want.shape)}])"
        if got.shape != want.shape:
            return f"{where}: came back with shape {list(got.shape)}"
        tol = tolerance(dtype)
        if tol is None:
            bad = want != got
            error = float(np.max(np.abs(want.astype(np.float64) - got.astype(np.float64)), initial=0.0, where=bad))
        else:
            w, g = want.astype(np.float64), got.astype(np.float64)
            finite = np.abs(w[np.isfinite(w)])
            scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            bad = ~np.isclose(g, w, rtol=tol, atol=tol * scale, equal_nan=True)
            diff = np.where(np.isnan(g) ^ np.isnan(w), np.inf, np.abs(g - w))
            error = float(np.nanmax(diff, initial=0.0, where=bad))
        count = int(np.count_nonzero(bad))
        if count:
            how = "exactly" if tol is None else f"within {tol:g} relative"
            return (
                f"{where}: {count} of {want.size} values differ from the untuned module's "
                f"(largest difference {error:.3g}; compared {how})"
            )
    return None


def run_once(rt_mod, device, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Runs the module's entry function once on copies of `inputs` on `device` (local or an RPC
    session's); every argument afterwards, fetched back."""
    import tvm  # pylint: disable=import-outside-toplevel

    args = [tvm.runtime.tensor(x, device=device) for x in inputs]
    rt_mod[rt_mod.entry_name](*args)
    device.sync()
    return [a.numpy() for a in args]


def reference_module(mod, target):
    """The untuned module as it builds for the target: on a GPU, an unscheduled function needs
    its loops bound to threads first (TVM's DefaultGPUSchedule, as MetaSchedule's own does)."""
    from ..targets import target_kind  # pylint: disable=import-outside-toplevel

    if target_kind(target) in ("llvm", "c"):
        return mod
    import tvm  # pylint: disable=import-outside-toplevel

    with target:
        return tvm.s_tir.transform.DefaultGPUSchedule()(mod)


class ResultCheck:
    """One task's reference outputs, computed once on first need, and the verdict on each trial.

    `ensure(run)` computes the reference with `run(mod, args_info, inputs)`, which returns
    the MeasureOutcome of one untimed run carrying `outputs`. A reference that cannot be had
    (the untuned module does not build or run) turns the check off for the task, with one
    warning; a lost device leaves it to the next batch.
    """

    def __init__(self, mod, target):
        from tvm.s_tir import meta_schedule as ms  # pylint: disable=import-outside-toplevel

        self.untuned = mod
        self.args_info = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
        self.args_info_json = [list(a.as_json()) for a in self.args_info]
        self.expected: list[np.ndarray] | None = None
        self.off: str | None = None
        self._lock = threading.Lock()
        try:
            self.inputs = check_inputs(self.args_info_json)
            self.mod = reference_module(mod, target)
        except Exception as err:  # pylint: disable=broad-except
            self.inputs = []
            self.mod = mod
            self._turn_off(f"no test data for it ({err})")

    @property
    def ready(self) -> bool:
        return self.expected is not None

    def inputs_for(self, args_info) -> list[np.ndarray] | None:
        """The test data for a trial with these arguments; None when the reference is not ready
        or the trial's arguments are not the untuned module's."""
        if not self.ready:
            return None
        if [list(a.as_json()) for a in args_info] != self.args_info_json:
            return None
        return self.inputs

    def ensure(self, run) -> None:
        with self._lock:
            if self.ready or self.off:
                return
            self._adopt(run(self.mod, self.args_info, self.inputs))

    def adopt(self, outcome) -> None:
        """Takes a run of the untuned module on the test data as the reference."""
        with self._lock:
            if not self.ready and not self.off:
                self._adopt(outcome)

    def _adopt(self, outcome) -> None:
        if outcome.ok and outcome.outputs is not None:
            self.expected = outcome.outputs
        elif outcome.code != "DEVICE_LOST":
            self._turn_off(f"the untuned module could not be run: {outcome.message or outcome.code}")

    def judge(self, outcome):
        """The outcome, turned into WRONG_RESULT when its outputs differ from the reference."""
        outputs, outcome.outputs = outcome.outputs, None
        if not outcome.ok or outputs is None or self.expected is None:
            return outcome
        mismatch = compare(self.expected, outputs)
        if mismatch is None:
            return outcome
        return replace(outcome, ok=False, run_secs=[], code="WRONG_RESULT", message=mismatch)

    def _turn_off(self, why: str) -> None:
        self.off = why
        log.warning("results are not checked for this task: %s", why)
