"""TVM's tensor intrinsics, imported in a fifth of the time.

`import tvm.s_tir.tensor_intrin` (which TVM's TuneContext and LocalBuilder both do) parses about
250 TVMScript functions, and each `@T.prim_func` calls `inspect.stack()`. For every frame whose
file is not a file (`<frozen importlib._bootstrap>`, `<ast>`), `inspect.getmodule` walks all of
`sys.modules` and finds nothing, every time: 20 s of the import's 24 here, in the bridge and in
every build worker, all at start-up on the same cores.

`fast_getmodule` answers those frames at once with what the walk would have found (None:
frames, code objects and tracebacks have no `__name__`, and no module's file is named
`<...>`), and leaves every other question to `inspect.getmodule` unchanged. It is installed
only in the processes the bridge owns (the bridge's own, its build workers); a `colt_tvm`
user's process keeps Python's.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

_ORIGINAL = inspect.getmodule
_NAMELESS = (types.FrameType, types.CodeType, types.TracebackType)


def _pseudo_file(name: str | None) -> bool:
    return name is not None and name.startswith("<") and name.endswith(">")


def fast_getmodule(obj: Any, _filename: str | None = None):
    """inspect.getmodule, without the search of sys.modules that cannot succeed."""
    if isinstance(obj, _NAMELESS):
        name = _filename
        if name is None:
            if isinstance(obj, types.TracebackType):
                obj = obj.tb_frame
            name = (obj.f_code if isinstance(obj, types.FrameType) else obj).co_filename
        if _pseudo_file(name):
            return None
    return _ORIGINAL(obj, _filename)


def install() -> None:
    """For the rest of this process: inspect.getmodule is fast_getmodule."""
    inspect.getmodule = fast_getmodule


def import_tensor_intrinsics() -> None:
    """A build worker's initializer: fast_getmodule installed, then the intrinsics imported."""
    install()
    import tvm.s_tir.tensor_intrin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
