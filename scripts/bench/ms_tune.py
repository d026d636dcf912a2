"""One stock MetaSchedule run for `colt bench`: ms.tune_tir with a named search strategy.

    .venv/bin/python scripts/bench/ms_tune.py --workload GMM:1 --strategy evolutionary \
        --target '{"kind":"llvm","num-cores":2}' --trials 64 --per-iter 16 --seed 0 --work-dir DIR

Same workload loader, target, build pool, runner and evaluator settings as COLT's bridge; the
records land in DIR's JSONDatabase in commit order, which is the run's tuning curve. Prints one
JSON line at the end: trials recorded and wall seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from _common import WarmBuilder, emit, load_workload, ms, parse_target

STRATEGIES = ("evolutionary", "replay-trace", "replay-func")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", required=True)
    parser.add_argument("--strategy", choices=STRATEGIES, required=True)
    parser.add_argument("--target", required=True, help="TVM target as JSON")
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--per-iter", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--number", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--min-repeat-ms", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--cost-model", default="xgb", choices=("xgb", "random"))
    args = parser.parse_args()

    started = time.perf_counter()
    # MetaSchedule logs its own progress into work_dir/logs; keep stderr for real problems.
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
    _, mod = load_workload(args.workload)
    target = parse_target(args.target)
    os.makedirs(args.work_dir, exist_ok=True)
    builder = WarmBuilder(args.timeout)
    runner = ms.runner.LocalRunner(
        timeout_sec=args.timeout,
        evaluator_config=ms.runner.EvaluatorConfig(
            number=args.number, repeat=args.repeat, min_repeat_ms=args.min_repeat_ms, enable_cpu_cache_flush=False
        ),
    )
    tune_started = time.perf_counter()
    database = ms.tune_tir(
        mod,
        target,
        args.work_dir,
        max_trials_global=args.trials,
        num_trials_per_iter=args.per_iter,
        builder=builder,
        runner=runner,
        cost_model=args.cost_model,
        strategy=args.strategy,
        num_tuning_cores=int(target.attrs["num-cores"]),
        seed=args.seed,
    )
    finished = time.perf_counter()
    emit(
        {
            "trials": len(database.get_all_tuning_records()),
            "wallSeconds": {"startup": tune_started - started, "tune": finished - tune_started, "total": finished - started},
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
