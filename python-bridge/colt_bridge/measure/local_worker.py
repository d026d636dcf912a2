"""One trial on this host, run inside a runner worker process.

The steps are MetaSchedule's LocalRunner's (its own argument and evaluator functions), plus,
when the correctness check gives data, one more run on it whose arguments come back: a
LocalRunner reports run times only.
"""

from __future__ import annotations


def run_local(evaluator, artifact_path: str, device_type: str, args_info: tuple, check_inputs) -> dict:
    """Times the artifact (evaluator: number, repeat, min_repeat_ms, cache flush; None: no
    timing) and runs it once on check_inputs when given. Returns run_secs and outputs; raises
    what the module raised."""
    # pylint: disable=import-outside-toplevel
    import tvm
    from tvm.s_tir.meta_schedule.runner import EvaluatorConfig
    from tvm.s_tir.meta_schedule.runner.local_runner import default_alloc_argument, default_run_evaluator

    from .check import run_once

    rt_mod = tvm.runtime.load_module(artifact_path)
    device = tvm.runtime.device(device_type, 0)
    out: dict = {"run_secs": []}
    if evaluator is not None:
        number, repeat, min_repeat_ms, flush = evaluator
        config = EvaluatorConfig(number=number, repeat=repeat, min_repeat_ms=min_repeat_ms, enable_cpu_cache_flush=flush)
        repeated_args = default_alloc_argument(device, args_info, 1)
        out["run_secs"] = [float(c) for c in default_run_evaluator(rt_mod, device, config, repeated_args)]
    if check_inputs is not None:
        out["outputs"] = run_once(rt_mod, device, check_inputs)
    return out
