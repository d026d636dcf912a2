"""colt_tvm.local_builder: MetaSchedule's own LocalBuilder, whose fresh workers import TVM's
tensor intrinsics the fast way (colt_bridge.intrinsics) and then run the user's initializer."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from colt_bridge import intrinsics
from colt_tvm import local_builder

from conftest import MATMUL_TVMSCRIPT

TARGET = tvm.target.Target({"kind": "llvm", "num-cores": 2})


def test_workers_get_the_fast_lookup_and_the_users_initializer_and_build_stock_artifacts(tmp_path):
    seen = tmp_path / "workers"
    seen.mkdir()

    def mine():
        # Runs in each fresh worker, after colt's: records what inspect.getmodule is there.
        fn = inspect.getmodule
        (seen / str(os.getpid())).write_text(f"{fn.__module__}.{fn.__name__}")

    builder = local_builder(max_workers=2, timeout_sec=300, initializer=mine)
    assert isinstance(builder, ms.builder.LocalBuilder)
    mod = tvm.IRModule({"main": tvm.script.from_source(MATMUL_TVMSCRIPT.replace("from tvm.script import tirx as T", ""))})
    results = builder.build([ms.builder.BuilderInput(mod, TARGET) for _ in range(3)])
    assert [r.error_msg for r in results] == [None, None, None]

    # Every worker that started ran colt's initializer first, then the user's.
    lines = [p.read_text() for p in seen.iterdir()]
    assert lines and all(line == "colt_bridge.intrinsics.fast_getmodule" for line in lines), lines
    # The user's own process keeps Python's inspect.getmodule.
    assert inspect.getmodule is not intrinsics.fast_getmodule

    # The artifacts are stock exports: load one and check it against numpy.
    lib = tvm.runtime.load_module(results[0].artifact_path)
    rng = np.random.default_rng(0)
    a, b = rng.random((64, 64), dtype="float32"), rng.random((64, 64), dtype="float32")
    c = tvm.runtime.tensor(np.zeros((64, 64), "float32"))
    lib["main"](tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-4, atol=1e-4)


def test_a_non_callable_initializer_is_refused_before_any_worker_starts():
    with pytest.raises(TypeError, match="initializer must be callable, not str"):
        local_builder(initializer="colt_bridge.intrinsics.install")
