"""The end of `colt bench`: every run's best schedules, re-measured under one setting.

    .venv/bin/python scripts/bench/remeasure.py PLAN.json

PLAN.json lists, per workload, the kernels to time: a run's work dir and the line of its
JSONDatabase holding the record to apply (its best within some budget). Each record is applied
with stock `ms.tir_integration.compile_tir`, built, checked against the untuned build's output,
and timed with `time_evaluator`; the numpy/OpenBLAS version of the same operation is timed
alongside for matmul-like work. Everything is timed in rounds, in turn, so that a busy
neighbour slows every contender alike. Threads come from the environment (TVM_NUM_THREADS,
OPENBLAS_NUM_THREADS), which the caller sets to the target's num-cores. The caller also unsets
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE here, so that OpenBLAS runs its best kernels for this CPU;
which kernel it ran is reported (threadpoolctl).

Prints one JSON line: per workload, per kernel key, the latencies in µs.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np
import tvm
from tvm.s_tir.analysis import estimate_tir_flops

from _common import emit, load_workload, ms, parse_target
from references import is_matmul_like, reference_for


# What decides how fast the contenders run: thread counts, and which kernels OpenBLAS picks.
ENV_KEYS = ("TVM_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# OpenBLAS's threads spin for a while after a call before they sleep, and so do TVM's pool
# threads after a kernel. Timed right after BLAS, a TVM kernel shared the cores with them: in one
# bench the kernel timed after numpy in 11 of 12 rounds had a median 60x its minimum. Both sides
# get this long to go quiet around the numpy kernel.
BLAS_SETTLE_SEC = 0.5


def blas_runtime() -> list[dict]:
    """threadpoolctl's view of the BLAS numpy loaded: library, version, threads, kernel."""
    try:
        from threadpoolctl import threadpool_info  # pylint: disable=import-outside-toplevel
    except ImportError:
        return [{"error": "threadpoolctl is not installed (run scripts/setup)"}]
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    return [{k: info.get(k) for k in keys if k in info} for info in threadpool_info()]


def _random_inputs(mod) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.uniform(-1, 1, [int(d) for d in a.shape]).astype(str(a.dtype))
        for a in ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    ]


def _read_record(work_dir: str, line: int):
    with open(os.path.join(work_dir, "database_tuning_record.json"), encoding="utf-8") as handle:
        for i, text in enumerate(handle):
            if i == line:
                return json.loads(text)[1]
    raise ValueError(f"{work_dir}: no record on line {line}")


def _compile_record(mod, target, work_dir: str, line: int):
    """The record applied exactly as users apply a database: compile_tir on a one-record DB."""
    db = ms.database.MemoryDatabase()
    workload = db.commit_workload(mod)
    db.commit_tuning_record(ms.database.TuningRecord.from_json(_read_record(work_dir, line), workload))
    sch = ms.tir_integration.compile_tir(db, mod, target)
    if sch is None:
        raise ValueError("compile_tir found no schedule for the record")
    return tvm.compile(sch.mod, target=target)


class Kernel:
    """Something to time: `measure(repeat, min_repeat_ms)` gives `repeat` seconds-per-call samples."""

    def __init__(self, key: str, measure):
        self.key = key
        self.measure = measure
        self.samples: list[float] = []


def _tvm_kernel(key: str, lib, tensors, dev) -> Kernel:
    """Timed in C++ by time_evaluator, as MetaSchedule's runner times trials."""

    def measure(repeat: int, min_repeat_ms: float) -> list[float]:
        rt = lib.mod
        timer = rt.time_evaluator(rt.entry_name, dev, number=1, repeat=repeat, min_repeat_ms=min_repeat_ms)
        return [float(x) for x in timer(*tensors).results]

    return Kernel(key, measure)


def _numpy_kernel(fn, inputs) -> Kernel:
    """time_evaluator's protocol in Python: each sample the mean of enough calls to last min_repeat_ms."""

    def measure(repeat: int, min_repeat_ms: float) -> list[float]:
        fn(*inputs)  # warm caches and BLAS's threads
        number = 1
        while True:
            started = time.perf_counter()
            for _ in range(number):
                fn(*inputs)
            took = time.perf_counter() - started
            if took * 1e3 >= min_repeat_ms or number >= 1 << 20:
                break
            number = max(number * 2, int(number * min_repeat_ms / max(took * 1e3, 1e-3)))
        samples = [took / number]
        for _ in range(repeat - 1):
            started = time.perf_counter()
            for _ in range(number):
                fn(*inputs)
            samples.append((time.perf_counter() - started) / number)
        return samples

    return Kernel("numpy", measure)


def _summary(samples: list[float]) -> dict:
    return {
        "medianUs": statistics.median(samples) * 1e6,
        "minUs": min(samples) * 1e6,
        "samples": len(samples),
    }


def remeasure_workload(entry: dict, target, settings: dict) -> dict:
    task, mod = load_workload(entry["workload"])
    dev = tvm.cpu(0)
    arrays = _random_inputs(mod)
    untuned = tvm.compile(mod, target=target)
    expected_tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
    untuned(*expected_tensors)
    expected = expected_tensors[-1].numpy()
    scale = max(1.0, float(np.abs(expected).max()))

    kernels: list[Kernel] = []
    results: dict[str, dict] = {}
    for spec in entry["kernels"]:
        key = spec["key"]
        try:
            lib = _compile_record(mod, target, spec["workDir"], spec["record"])
            tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
            lib(*tensors)
            correct = bool(np.allclose(tensors[-1].numpy(), expected, rtol=1e-4, atol=1e-5 * scale))
            results[key] = {"correct": correct}
            kernels.append(_tvm_kernel(key, lib, tensors, dev))
        except Exception as err:  # pylint: disable=broad-except
            results[key] = {"error": " ".join(str(err).split())[:300]}

    blas = None
    reference = reference_for(task)
    if is_matmul_like(task) and reference is not None:
        blas = _numpy_kernel(reference, arrays[:-1])
        kernels.append(blas)

    for round_index in range(settings["rounds"]):
        # Rotate the order each round: no contender always goes first (or last).
        shift = round_index % max(1, len(kernels))
        for kernel in kernels[shift:] + kernels[:shift]:
            if kernel is blas:
                time.sleep(BLAS_SETTLE_SEC)
            kernel.samples.extend(kernel.measure(settings["repeat"], settings["minRepeatMs"]))
            if kernel is blas:
                time.sleep(BLAS_SETTLE_SEC)

    for kernel in kernels:
        if kernel is not blas:
            results[kernel.key].update(_summary(kernel.samples))
    return {
        "workload": entry["workload"],
        "task": task,
        "flop": float(estimate_tir_flops(mod)),
        "kernels": results,
        "blas": _summary(blas.samples) if blas else None,
    }


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    target = parse_target(json.dumps(plan["target"]))
    settings = plan["settings"]
    out = []
    for entry in plan["workloads"]:
        out.append(remeasure_workload(entry, target, settings))
        print(f"remeasured {entry['workload']} ({len(entry['kernels'])} schedules)", file=sys.stderr, flush=True)
    emit(
        {
            "workloads": out,
            "env": {k: os.environ.get(k) for k in ENV_KEYS},
            "blasRuntime": blas_runtime(),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
