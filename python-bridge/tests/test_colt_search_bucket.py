"""ColtSearch(bucket=...): the daemon's offline buckets by name, as `colt tune --bucket` takes
them. Flags that do not go together are refused in the caller's process; a name the daemon does
not know comes back as InvalidArgument with the daemon's one line."""

from __future__ import annotations

import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from colt_tvm import ColtSearch, local_builder
from colt_tvm.errors import InvalidArgument

from conftest import MATMUL_TVMSCRIPT

TARGET = tvm.target.Target({"kind": "llvm", "num-cores": 2})


def test_bucket_cannot_be_combined_with_models_or_no_llm():
    with pytest.raises(InvalidArgument, match="bucket cannot be combined with models or no_llm"):
        ColtSearch("models.json", bucket="offline-3")
    with pytest.raises(InvalidArgument, match="bucket cannot be combined with models or no_llm"):
        ColtSearch(bucket="offline", no_llm=True)


def test_an_unknown_bucket_is_the_daemons_invalid_argument(tmp_path):
    # MetaSchedule tunes with a clone of the strategy: the name reaches the daemon through it.
    mod = tvm.script.from_source(MATMUL_TVMSCRIPT.replace("from tvm.script import tirx as T", ""))
    with pytest.raises(InvalidArgument, match='no bucket "online": the buckets are offline, offline-3'):
        ms.tune_tir(
            mod,
            TARGET,
            work_dir=str(tmp_path / "run"),
            max_trials_global=4,
            num_trials_per_iter=4,
            builder=local_builder(),  # the stock one's start-up check costs a 20-30 s worker
            strategy=ColtSearch(bucket="online"),
        )
