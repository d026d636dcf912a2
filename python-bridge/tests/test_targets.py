"""Targets: the CLI's `llvm` shorthand compiles for this CPU; a target given in full stays as given."""

from __future__ import annotations

import pytest
from tvm.target import codegen

from colt_bridge.errors import InvalidArgument
from colt_bridge.targets import host_cpu, parse_target


def test_host_target_gets_this_cpus_mcpu_and_its_instructions():
    cpu = str(codegen.llvm_get_system_cpu())
    assert host_cpu() == cpu
    target = parse_target('{"kind":"llvm","num-cores":2}', host=True)
    assert str(target.attrs["mcpu"]) == cpu
    # The point of it: the vector width TVM schedules for is this CPU's, not generic x86-64's.
    generic = parse_target('{"kind":"llvm","num-cores":2}')
    assert "mcpu" not in generic.attrs
    assert int(codegen.llvm_get_vector_width(target)) >= int(codegen.llvm_get_vector_width(generic))


def test_a_given_mcpu_and_other_kinds_are_left_alone():
    assert str(parse_target('{"kind":"llvm","mcpu":"skylake"}', host=True).attrs["mcpu"]) == "skylake"
    assert "mcpu" not in parse_target('{"kind":"c"}', host=True).attrs


def test_a_bad_target_is_invalid_argument():
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        parse_target('{"kind":', host=True)
