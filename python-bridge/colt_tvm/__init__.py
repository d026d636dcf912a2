"""COLT for MetaSchedule users: `ColtSearch` replaces evolutionary search in `ms.tune_tir`,
`ms.tune_tasks` and relax's MetaSchedule tuning, on the stock TVM 0.27 wheel.

    from tvm.s_tir import meta_schedule as ms
    from colt_tvm import ColtSearch

    db = ms.tune_tir(mod, target, work_dir="runs/x", max_trials_global=64,
                     strategy=ColtSearch(models="models.json"))

MetaSchedule's task scheduler, builder, runner, database and cost model stay in charge; COLT
replaces only the search, which runs in the COLT daemon (`colt daemon`, started on demand).
What the daemon refuses is raised as a ColtError, of the class colt_tvm.errors gives its code.
`local_builder()` is MetaSchedule's LocalBuilder with build workers that start in seconds, not
the 20-30 s each fresh worker spends importing TVM's tensor intrinsics.
"""

from .daemon import Daemon
from .errors import ColtError
from .builder import local_builder
from .search import ColtSearch

__all__ = ["ColtError", "ColtSearch", "Daemon", "local_builder"]
