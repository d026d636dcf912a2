"""The bench layers (bench/workloads/): each loads by name, builds untuned, and matches numpy."""

import os
import sys

import numpy as np
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

from colt_bridge.workload import bench_workload_names, load_workload

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "bench"))

from references import is_matmul_like, reference_for  # noqa: E402  pylint: disable=wrong-import-position

LAYERS = ["llama3-attn", "llama3-qk", "llama3-sv", "llama4-mlp", "deepseek-moe", "flux-conv", "flux-attn"]


def test_every_layer_is_listed():
    assert sorted(LAYERS) == bench_workload_names()


def test_every_layer_names_its_origin():
    for name in LAYERS:
        with open(os.path.join(REPO, "bench", "workloads", f"{name.replace('-', '_')}.py"), encoding="utf-8") as fh:
            header = fh.read().split("@T.prim_func")[0]
        assert "Original:" in header and "Here:" in header, name


@pytest.mark.parametrize("spec", LAYERS + ["GMM:0"])
def test_untuned_build_matches_numpy(spec):
    task, mod = load_workload(spec)
    reference = reference_for(task)
    assert reference is not None, f"no numpy reference for {task}"
    args = ms.arg_info.ArgInfo.from_prim_func(mod["main"])
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-1, 1, [int(d) for d in a.shape]).astype(str(a.dtype)) for a in args]
    lib = tvm.compile(mod, target=tvm.target.Target({"kind": "llvm", "num-cores": 1}))
    dev = tvm.cpu(0)
    tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
    lib(*tensors)
    expected = reference(*arrays[:-1])
    assert expected.shape == arrays[-1].shape
    # float32 sums of hundreds of terms: the tolerance scales with the output's magnitude.
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(tensors[-1].numpy(), expected, rtol=1e-4, atol=1e-5 * scale)


def test_matmul_like_work_is_marked():
    assert is_matmul_like("gmm_1") and is_matmul_like("llama4_mlp")
    assert not is_matmul_like("c2d_0") and not is_matmul_like("flux_conv")
