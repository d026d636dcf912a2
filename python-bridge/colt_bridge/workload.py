"""Workload specs: `NAME:IDX` from MetaSchedule's te_workload suite, a bench layer by name
(`llama3-attn`: bench/workloads/llama3_attn.py), or a TVMScript file."""

from __future__ import annotations

import ast
import os
import re

import tvm
from tvm.s_tir.meta_schedule.testing import te_workload
from tvm.tirx import PrimFunc

from .errors import InvalidArgument, one_line
from .tvmscript_check import MAX_SOURCE_CHARS, check_tvmscript

_TE_SPEC = re.compile(r"^([A-Za-z0-9_]+):(\d+)$")
_LOCATION = re.compile(r"-->\s*<str>:(\d+):(\d+)")
# The paper's benchmark layers, kept as TVMScript with their provenance in the repository.
_BENCH_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench", "workloads"
)


def _diagnostic(err: Exception) -> str:
    """TVMScript's diagnostics span several lines; keep the message and where it points."""
    text = str(err)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    head = next((ln for ln in lines if ln.lower().startswith("error")), None) or one_line(err)
    where = _LOCATION.search(text)
    return f"{head} (line {where.group(1)}, column {where.group(2)})" if where else head


def _without_imports(source: str) -> str:
    """The source with the lines of its top-level import statements blanked (found in its syntax
    tree, so an import-like line inside a string is left alone)."""
    lines = source.split("\n")  # the lines as the syntax tree numbers them (\r\n ends in \n too)
    for node in ast.parse(source, mode="exec").body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for i in range(node.lineno - 1, (node.end_lineno or node.lineno)):
                lines[i] = ""
    return "\n".join(lines)


def parse_tvmscript(source: str, where: str):
    """TVMScript text as TVM's parser reads it (a PrimFunc or an IRModule), once the checker has
    shown it to be TVMScript alone: the parser evaluates the script's Python expressions, so
    this is the one door by which any text reaches it."""
    check_tvmscript(source, where)
    # The parser takes TVMScript alone: the import lines a printed module starts with are
    # dropped (kept as blank lines so that error line numbers match the file). The text the
    # parser gets is the one checked: dropping lines can change what the rest means (a string
    # that spanned them), so it is checked again as it is.
    source = _without_imports(source)
    check_tvmscript(source, where)
    try:
        return tvm.script.from_source(source)
    except Exception as err:  # pylint: disable=broad-except
        raise InvalidArgument(f"{where}: not valid TVMScript: {_diagnostic(err)}") from None


def te_workload_names() -> list[str]:
    return sorted(te_workload.CONFIGS.keys())


def bench_workload_names() -> list[str]:
    """`llama3-attn`, ...: the layers under bench/workloads/, by the names users type."""
    if not os.path.isdir(_BENCH_DIR):
        return []
    return sorted(f[:-3].replace("_", "-") for f in os.listdir(_BENCH_DIR) if f.endswith(".py"))


def _bench_file(spec: str) -> str | None:
    name = spec.lower().replace("-", "_")
    path = os.path.join(_BENCH_DIR, f"{name}.py")
    return path if re.fullmatch(r"[a-z0-9_]+", name) and os.path.isfile(path) else None


def load_workload(spec: str) -> tuple[str, tvm.IRModule]:
    """Returns (task name, IRModule with a single `main` prim_func)."""
    spec = spec.strip()
    if not spec:
        raise InvalidArgument("empty workload: give NAME:IDX (e.g. GMM:1) or a TVMScript file")
    match = _TE_SPEC.match(spec)
    if match and not os.path.exists(spec):
        return _from_te(match.group(1), int(match.group(2)))
    bench = _bench_file(spec)
    if bench and not os.path.exists(spec):
        return _from_tvmscript(bench)
    if os.path.isfile(spec):
        return _from_tvmscript(spec)
    raise InvalidArgument(
        f"unknown workload {spec!r}: give NAME:IDX with NAME one of "
        f"{', '.join(te_workload_names())}, a bench layer ({', '.join(bench_workload_names())}), "
        "or the path of a TVMScript file"
    )


def _from_te(name: str, idx: int) -> tuple[str, tvm.IRModule]:
    configs = te_workload.CONFIGS.get(name.upper())
    if configs is None:
        raise InvalidArgument(
            f"unknown workload {name!r}: te_workload has {', '.join(te_workload_names())}"
        )
    shapes = configs[1]
    if idx >= len(shapes):
        raise InvalidArgument(
            f"workload {name.upper()}:{idx} does not exist: {name.upper()} has indices 0..{len(shapes) - 1}"
        )
    func = te_workload.create_te_workload(name.upper(), idx)
    return f"{name.lower()}_{idx}", tvm.IRModule({"main": func})


def _from_tvmscript(path: str) -> tuple[str, tvm.IRModule]:
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read(MAX_SOURCE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"cannot read TVMScript file {path}: {err.strerror if isinstance(err, OSError) else 'not UTF-8 text'}") from None
    parsed = parse_tvmscript(source, path)
    if isinstance(parsed, PrimFunc):
        mod = tvm.IRModule({"main": parsed})
    elif isinstance(parsed, tvm.IRModule):
        funcs = [(gv.name_hint, f) for gv, f in parsed.functions.items() if isinstance(f, PrimFunc)]
        if len(funcs) != 1:
            raise InvalidArgument(
                f"{path}: expected exactly one prim_func in the module, found {len(funcs)}"
            )
        mod = tvm.IRModule({"main": funcs[0][1]})
    else:
        raise InvalidArgument(f"{path}: TVMScript must define a prim_func or an IRModule")
    name = os.path.splitext(os.path.basename(path))[0] or "main"
    return re.sub(r"[^A-Za-z0-9_]", "_", name), mod
