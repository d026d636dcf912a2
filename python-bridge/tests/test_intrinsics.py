"""colt_bridge.intrinsics: inspect.getmodule's answers unchanged, TVM's intrinsics registered,
and the slow walk of sys.modules skipped (counted, not timed)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

from conftest import BRIDGE_DIR

from colt_bridge.intrinsics import fast_getmodule


def _frame_of(source: str, filename: str):
    """A live frame whose code claims `filename`, with its traceback."""
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), filename, "exec"), namespace)  # pylint: disable=exec-used
    try:
        namespace["fail"]()
    except ZeroDivisionError as err:
        tb = err.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        return tb.tb_frame, tb
    raise AssertionError("fail() did not fail")


def test_answers_as_inspect_getmodule_does():
    frame, tb = _frame_of("def fail():\n    return 1 / 0\n", "<ast>")
    here = inspect.currentframe()
    objects = [
        inspect,
        json.dumps,
        json.JSONDecoder,
        fast_getmodule,
        here,
        here.f_code,
        frame,
        frame.f_code,
        tb,
        len,
        3,
    ]
    for obj in objects:
        assert fast_getmodule(obj) is inspect.getmodule(obj), obj
    assert fast_getmodule(frame, "<ast>") is None
    assert fast_getmodule(here, here.f_code.co_filename) is inspect.getmodule(here, here.f_code.co_filename)
    assert fast_getmodule(frame) is None
    assert fast_getmodule(here).__name__ == __name__


_CHILD = """
import inspect, json
import colt_bridge.intrinsics as intrinsics
asked = 0
real = intrinsics._ORIGINAL
def counted(obj, _filename=None):
    global asked
    asked += 1
    return real(obj, _filename)
intrinsics._ORIGINAL = counted
calls = 0
def counting(obj, _filename=None):
    global calls
    calls += 1
    return intrinsics.fast_getmodule(obj, _filename)
inspect.getmodule = counting
import tvm.s_tir.tensor_intrin
from tvm.s_tir import TensorIntrin
names = ["dot_16x4_vnni", "dot_16x4_avx512", "wmma_sync_16x16x16_f16f16f32"]
print(json.dumps({"calls": calls, "asked": asked, "registered": [TensorIntrin.get(n, allow_missing=True) is not None for n in names]}))
"""


def test_tensor_intrinsics_import_whole_with_most_lookups_answered_at_once():
    run = subprocess.run([sys.executable, "-c", _CHILD], cwd=BRIDGE_DIR, capture_output=True, text=True, timeout=600, check=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["registered"] == [True, True, True]
    # Most of the lookups were of frames with no file: answered without walking sys.modules.
    assert out["calls"] > 1000, out
    assert out["asked"] * 2 < out["calls"], out
