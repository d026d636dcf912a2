"""The TVMScript checker: TVMScript passes, anything else is refused in one line before TVM's
parser (which evaluates Python) sees it. Every attack is tried for real, against a sentinel file."""

import os

import grpc
import pytest
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.testing import te_workload

from colt_bridge.errors import InvalidArgument
from colt_bridge.proto import pb
from colt_bridge.tvmscript_check import check_tvmscript
from colt_bridge.workload import bench_workload_names, load_workload

from conftest import MATMUL_TVMSCRIPT

# The payload: TVM's parser wrote the file while it parsed this.
PAYLOAD = 'T.evaluate(T.evaluate.__globals__["__builtins__"]["__import__"]("pathlib").Path({path!r}).write_text("x"))'


def _script(body: str, params: str = 'A: T.Buffer((4,), "float32")') -> str:
    lines = "\n".join(f"    {line}" for line in body.splitlines())
    return f"from tvm.script import tirx as T\n\n@T.prim_func\ndef main({params}):\n{lines}\n"


def _refused(source: str) -> str:
    with pytest.raises(InvalidArgument) as err:
        check_tvmscript(source, "w.py")
    message = err.value.message
    assert "\n" not in message and message.startswith("w.py: ")
    return message


def _te_specs():
    specs = []
    for name, (_, shapes) in sorted(te_workload.CONFIGS.items()):
        if name == "C2D_WIN_NHWC":
            continue  # TVM 0.27 cannot create it at all ("LEGACY-FLOW triggered")
        specs += [f"{name}:{i}" for i in range(len(shapes))]
    return specs


@pytest.mark.parametrize("body", [
    'T.evaluate(0)',
    'for i in T.serial(4):\n    A[i] = T.float32(1)',
    'for i in range(4):\n    A[i] = A[i] * 2.0 + T.float32(1)',
    'for i, j in T.grid(2, 2):\n    with T.sblock("b"):\n        vi, vj = T.axis.remap("SS", [i, j])\n        T.reads(A[vi * 2 + vj])\n        T.writes(A[vi * 2 + vj])\n        A[vi * 2 + vj] = T.max(A[vi * 2 + vj], T.float32(0))',
    'T.func_attr({"tirx.noalias": True, "global_symbol": "main"})',
    'x: T.int32 = 3\nA[x] = T.if_then_else(x < 2 and not x > 3, T.float32(0), T.Cast("float32", x))',
    'B = T.Buffer((4,), data=A.data)\nB[0] = A[min(1, 2)]',
    'if A.shape[0] > 2:\n    A[0] = -A[1]\nelse:\n    A[0] = A[2] if True else A[3]',
    'assert 1 < 2, "fine"\nT.evaluate(A.access_ptr("r"))',
])
def test_tvmscript_passes(body):
    check_tvmscript(_script(body), "w.py")


@pytest.mark.parametrize("body, words", [
    (PAYLOAD.format(path="/x"), "a call to a computed function"),
    ('T.evaluate(T.evaluate.__globals__)', "__globals__"),
    ('T.evaluate(A._x)', "_x"),
    ('_x = 1', "the name _x"),
    ('T.evaluate(open("/etc/passwd"))', "a call to open"),
    ('T.evaluate(getattr(T, "x"))', "a call to getattr"),
    ('T.evaluate(eval("1"))', "a call to eval"),
    ('T.evaluate(exec)', "the name exec"),
    ('T.evaluate(tvm.runtime.load_module("x.so"))', "a call to tvm.runtime.load_module"),
    ('T.evaluate(__import__("os"))', "__import__"),
    ('T.evaluate(T.utils.inspect)', "a Python module"),
    ('T.evaluate(T.tile)', "a Python module"),
    ('T.evaluate(T.no_such_thing(1))', "not part of TVMScript"),
    ('T.evaluate(T.grid.x.y.z)', "more than 2 look-ups"),
    ('f = lambda: 0', "a lambda"),
    ('x = [i for i in range(3)]', "a comprehension"),
    ('x = {i: i for i in range(3)}', "a comprehension"),
    ('x = max(i for i in range(3))', "a generator expression"),
    ('x = f"{A}"', "an f-string"),
    ('import os', "an import inside a function"),
    ('T.evaluate((y := 1))', "`:=`"),
    ('T.evaluate(A["__class__"])', "a subscript by a string"),
    ('x = {1, 2}', "a set literal"),
    ('T.evaluate(T.grid(*[1]))', "`*` unpacking"),
    ('T.evaluate(T.grid(**{"a": 1}))', "`**` unpacking"),
    ('try:\n    pass\nexcept Exception:\n    pass', "try"),
    ('del A', "del"),
    ('def helper():\n    return 1', "without @T.prim_func"),
    ('T = 1', "assigning to T"),
    ('A.data = 1', "assigning to .data"),
    ('T.evaluate(A.gi_frame)', ".gi_frame"),
    ('x = A.shape.count(1)', "a call to A.shape.count"),
    ('global g', "global"),
    ('raise ValueError', "raise"),
    ('T.evaluate(b"x")', "a bytes literal"),
])
def test_non_tvmscript_is_refused_by_line_and_construct(body, words):
    message = _refused(_script(body))
    assert words in message, message
    assert "line 5" in message or "line 6" in message or "line 7" in message, message


@pytest.mark.parametrize("source, words", [
    ("import os\n", "an import other than"),
    ("from os import system\n", "`from os import ...`"),
    ("from tvm.script import tirx as os\n", "`from tvm.script import ...`"),
    ("from tvm.contrib import cc\n", "`from tvm.contrib import ...`"),
    ("x = 1\n", "at the top level"),
    ("print('hi')\n", "at the top level"),
    ("@T.prim_func\nclass M(object):\n    pass\n", "with base classes"),
    ("@staticmethod\ndef main():\n    pass\n", "a decorator other than"),
    ("@T.prim_func\ndef main(*args):\n    pass\n", "`*args`"),
    ("@T.prim_func\ndef main(a=open('x')):\n    pass\n", "a call to open"),
    ("@T.prim_func\ndef main(a: __import__('os')):\n    pass\n", "__import__"),
    ("@I.ir_module\nclass M:\n    x = open('/etc/passwd')\n", "in an @I.ir_module class"),
    ("def main(:\n", "not valid TVMScript"),
    ("(" * 500 + ")" * 500 + "\n", "not valid TVMScript"),
])
def test_module_level_refusals(source, words):
    assert words in _refused(source)


def test_a_huge_text_is_refused_unparsed():
    assert "more than a TVMScript workload may hold" in _refused("#" * (4 * 1024 * 1024 + 1))


def test_printed_modules_and_functions_pass():
    check_tvmscript(MATMUL_TVMSCRIPT, "matmul")
    mod = load_workload("GMM:0")[1]
    assert "@I.ir_module" in mod.script()
    check_tvmscript(mod.script(), "gmm module")
    check_tvmscript(mod["main"].script(), "gmm function")
    # ...and what passes is what TVM's parser reads back.
    path_free = mod.script().replace("# from", "from")
    check_tvmscript(path_free, "gmm module, imports uncommented")


@pytest.mark.parametrize("spec", _te_specs() + bench_workload_names())
def test_every_shipped_workload_and_its_printed_script_pass(spec):
    # bench layers go through the checker on load; every module's printed form must pass too.
    _, mod = load_workload(spec)
    check_tvmscript(mod.script(), spec)


@pytest.mark.parametrize("spec", ["GMM:1", "C2D:0", "flux-conv"])
def test_scheduled_design_spaces_pass(spec):
    # A user may hand back a scheduled module TVM printed: its design spaces use the same constructs.
    _, mod = load_workload(spec)
    ctx = ms.TuneContext(
        mod=mod, target=tvm.target.Target({"kind": "llvm", "num-cores": 2}),
        space_generator="post-order-apply", search_strategy="evolutionary", task_name=spec,
    )
    for sch in ctx.generate_design_space():
        check_tvmscript(sch.mod.script(), spec)


def test_payload_in_a_workload_file_never_runs(tmp_path):
    sentinel = tmp_path / "sentinel"
    path = tmp_path / "evil.py"
    path.write_text(_script(PAYLOAD.format(path=str(sentinel))))
    with pytest.raises(InvalidArgument) as err:
        load_workload(str(path))
    assert "line 5" in err.value.message and "not allowed in TVMScript" in err.value.message
    assert not sentinel.exists()


def test_payload_smuggled_through_import_lines_never_runs(tmp_path):
    # Import-like lines that close the docstrings around the payload: had every line that looks
    # like an import been dropped after the check, the two docstrings would have become one and
    # the payload a statement TVM's parser runs. Only import statements are dropped: the payload
    # stays a docstring, and the function is the matmul it was.
    sentinel = tmp_path / "sentinel"
    matmul = MATMUL_TVMSCRIPT.split("\n")
    head = next(i for i, line in enumerate(matmul) if line.startswith("def "))
    smuggled = ['    """', 'import tvm """', '    """', "    " + PAYLOAD.format(path=str(sentinel)), 'import tvm """']
    path = tmp_path / "evil.py"
    path.write_text("\n".join(matmul[: head + 1] + smuggled + matmul[head + 1 :]))
    _, mod = load_workload(str(path))
    assert "main" in [gv.name_hint for gv in mod.get_global_vars()]
    assert not sentinel.exists()

    # A real import statement sharing its line with the end of a string: dropping that line
    # does change what follows, so the text the parser would get is checked again, and refused.
    top = next(i for i, line in enumerate(matmul) if line.startswith("from tvm"))
    payload = PAYLOAD.format(path=str(sentinel))
    smuggled = ['"""', '"""; ' + matmul[top], '"""', payload, '"""', '# """']
    path.write_text("\n".join(smuggled + matmul[:top] + matmul[top + 1 :]))
    check_tvmscript(path.read_text(), "as written")  # as written, the payload is a string
    with pytest.raises(InvalidArgument) as err:
        load_workload(str(path))
    assert "line 4: " in err.value.message and "not allowed in TVMScript" in err.value.message
    assert not sentinel.exists()


def test_payload_through_a_bridge_open_task_never_runs(bridge, tmp_path):
    sentinel = tmp_path / "sentinel"
    path = tmp_path / "evil.py"
    path.write_text(_script(PAYLOAD.format(path=str(sentinel))))
    with pytest.raises(grpc.RpcError) as err:
        bridge.stub.OpenTask(
            pb.OpenTaskRequest(workload=str(path), target_json='{"kind":"llvm","num-cores":1}', work_dir=str(tmp_path / "w"))
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not allowed in TVMScript" in err.value.details() and "\n" not in err.value.details()
    assert not sentinel.exists()
    assert not os.path.exists(tmp_path / "w")
