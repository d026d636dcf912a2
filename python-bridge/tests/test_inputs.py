"""Workload specs and targets: good ones load, bad ones give one clear line."""

import pytest

from colt_bridge.errors import InvalidArgument
from colt_bridge.targets import parse_target
from colt_bridge.workload import load_workload

from conftest import MATMUL_TVMSCRIPT


def test_te_workload_by_name_and_index():
    name, mod = load_workload("GMM:0")
    assert name == "gmm_0"
    assert "main" in [gv.name_hint for gv in mod.get_global_vars()]


@pytest.mark.parametrize(
    "spec, words",
    [("NOPE:1", "unknown workload 'NOPE'"), ("GMM:99", "GMM has indices 0..3"), ("", "empty workload"), ("gmm", "unknown workload")],
)
def test_bad_workload_specs(spec, words):
    with pytest.raises(InvalidArgument) as err:
        load_workload(spec)
    assert words in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize("spec, task", [("llama3-attn", "llama3_attn"), ("deepseek-moe", "deepseek_moe"), ("flux-conv", "flux_conv")])
def test_bench_layers_by_name(spec, task):
    name, mod = load_workload(spec)
    assert name == task
    assert "T.sblock" in mod.script()


def test_unknown_name_lists_the_bench_layers():
    with pytest.raises(InvalidArgument) as err:
        load_workload("llama9-attn")
    assert "unknown workload" in err.value.message and "llama4-mlp" in err.value.message


def test_tvmscript_file(tmp_path):
    path = tmp_path / "my_mm.py"
    path.write_text(MATMUL_TVMSCRIPT)
    name, mod = load_workload(str(path))
    assert name == "my_mm"
    assert "T.sblock" in mod.script()


def test_tvmscript_syntax_error_is_one_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(MATMUL_TVMSCRIPT.replace("T.grid(64, 64, 64):", "T.grid(64, 64, 64)"))
    with pytest.raises(InvalidArgument) as err:
        load_workload(str(path))
    assert str(path) in err.value.message and "not valid TVMScript" in err.value.message
    assert "\n" not in err.value.message


def test_targets():
    assert int(parse_target('{"kind":"llvm","num-cores":2}').attrs["num-cores"]) == 2
    assert int(parse_target('{"kind":"llvm"}').attrs["num-cores"]) >= 1
    for bad, words in [('{"kind":', "not valid JSON"), ('["llvm"]', "JSON object"), ('{"kind":"nope"}', "invalid target")]:
        with pytest.raises(InvalidArgument) as err:
            parse_target(bad)
        assert words in err.value.message


def test_neighbouring_seeds_start_tvms_engine_far_apart():
    # TVM's random engine is x -> 48271 x mod (2^31 - 1): seeds n, n + 1, ... used as they are
    # would make every first draw of a sampling loop nearly the same number.
    from colt_bridge.traces import _seed  # pylint: disable=import-outside-toplevel

    modulus = 2**31 - 1
    for base in (0, 7 * 1_000_003):
        states = [_seed(base + i) for i in range(64)]
        assert all(0 < s < modulus for s in states)
        first_draws = sorted(s * 48271 % modulus / modulus for s in states)
        assert first_draws[-1] - first_draws[0] > 0.5
        assert len(set(states)) == 64
