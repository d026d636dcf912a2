"""Shows that a text is TVMScript and nothing else before TVM's parser sees it.

TVM's parser is no sandbox: it evaluates the Python expressions of a script (calls, attribute
look-ups, subscripts) in a namespace that holds `tvm` and Python's builtins, so a workload file
that reaches it unchecked is code run as our user. This checker walks the text's Python syntax
tree (`ast.parse`: nothing is evaluated) against a whitelist of what TVMScript is made of:
`@T.prim_func` / `@I.ir_module` definitions whose bodies are loops, blocks, assignments and
expressions over `T.*`, the script's own names (buffers, loop and block variables) and a few
harmless builtins. Anything else is refused with the line and the construct.
"""

from __future__ import annotations

import ast
import types

from .errors import InvalidArgument

# The namespaces a script may call into, as TVM's parser binds them by default (Axis: the
# layout sugar `4 @ Axis.laneid`).
_ROOTS = ("T", "tir", "I", "ir", "Axis")
# Builtins the parser evaluates in printed scripts and that touch nothing outside the script.
_BUILTINS = frozenset({"range", "min", "max", "abs", "len", "int", "float", "bool", "True", "False", "None"})
# What a script may look up on its own values: a buffer's fields, and the methods printed
# TVMScript calls on buffers and expressions.
_VALUE_METHODS = frozenset({"access_ptr", "vload", "vstore", "astype"})
_VALUE_ATTRIBUTES = frozenset({"data", "shape", "dtype", "strides", "elem_offset", "scope", "ndim"}) | _VALUE_METHODS
# `from tvm.script import tirx as T`: the import lines TVM's printer writes. They are dropped
# before parsing (the parser binds T and I itself), so only their form matters here.
_SCRIPT_MODULES = frozenset({"tir", "tirx", "ir"})
# Far above any workload (the bench layers print to a few KiB); bounds the tree walk too.
MAX_SOURCE_CHARS = 4 * 1024 * 1024
# A chain `T.axis.remap` goes two look-ups deep; nothing printed goes deeper.
_MAX_CHAIN = 2

_STATEMENTS = (
    ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Assign, ast.AnnAssign,
    ast.AugAssign, ast.Expr, ast.Assert, ast.Pass, ast.Break, ast.Continue, ast.Return,
    ast.Import, ast.ImportFrom,
)
_EXPRESSIONS = (
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Dict, ast.Constant,
)
_PLUMBING = (
    ast.Module, ast.arguments, ast.arg, ast.keyword, ast.withitem, ast.alias,
    ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)

# What a refused node is called in the message, where its class name says it badly.
_NAMES = {
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string", ast.NamedExpr: "`:=`",
    ast.Starred: "`*` unpacking", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Delete: "del", ast.Raise: "raise",
    ast.Try: "try", ast.AsyncFunctionDef: "an async function", ast.AsyncFor: "async for",
    ast.AsyncWith: "async with", ast.Set: "a set literal",
}


class _Refused(Exception):
    def __init__(self, node: ast.AST, what: str):
        super().__init__(what)
        self.line = getattr(node, "lineno", 0)
        self.what = what


def _namespaces() -> dict[str, object]:
    from tvm.script.parser import ir, tirx  # pylint: disable=import-outside-toplevel
    from tvm.tirx.layout import Axis  # pylint: disable=import-outside-toplevel

    return {"T": tirx, "tir": tirx, "I": ir, "ir": ir, "Axis": Axis}


def _private(name: str | None) -> bool:
    return name is not None and name.startswith("_")


def _chain(node: ast.expr) -> list[str] | None:
    """`T.axis.remap` as ["T", "axis", "remap"]; None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


class _Checker:
    def __init__(self, tree: ast.Module):
        self._namespaces = _namespaces()
        self._bound = self._bound_names(tree)

    @staticmethod
    def _bound_names(tree: ast.Module) -> set[str]:
        """Every name the script binds itself: parameters, loop, block and assigned variables."""
        bound: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                bound.add(node.name)
        # A script cannot rebind what it reaches the parser through.
        return bound - set(_ROOTS) - {"tvm"}

    def module(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self._import(stmt)
            elif isinstance(stmt, ast.FunctionDef):
                self._function(stmt)
            elif isinstance(stmt, ast.ClassDef):
                self._ir_module(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                continue  # a docstring
            else:
                raise _Refused(stmt, f"{_describe(stmt)} at the top level (a script holds imports, @T.prim_func and @I.ir_module)")

    @staticmethod
    def _import(stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            if all(alias.name == "tvm" and alias.asname is None for alias in stmt.names):
                return
            raise _Refused(stmt, "an import other than `import tvm` or `from tvm.script import tirx as T`")
        if stmt.module == "tvm.script" and stmt.level == 0 and all(
            alias.name in _SCRIPT_MODULES and alias.asname in (None, *_ROOTS) for alias in stmt.names
        ):
            return
        if stmt.module == "tvm.tirx.layout" and [(a.name, a.asname) for a in stmt.names] == [("Axis", None)]:
            return
        raise _Refused(stmt, f"`from {stmt.module or '.'} import ...` (only `from tvm.script import tirx as T` and `ir as I`)")

    def _decorators(self, node: ast.FunctionDef | ast.ClassDef) -> None:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            chain = _chain(target)
            if chain is None or chain[0] not in _ROOTS:
                raise _Refused(deco, "a decorator other than @T.prim_func, @T.macro or @I.ir_module")
            self.expr(deco)

    def _function(self, fn: ast.FunctionDef) -> None:
        self._name(fn, fn.name)
        if not fn.decorator_list:
            raise _Refused(fn, f"function {fn.name} without @T.prim_func")
        self._decorators(fn)
        self._arguments(fn.args)
        if fn.returns is not None:
            self.expr(fn.returns)
        self.body(fn.body)

    def _ir_module(self, cls: ast.ClassDef) -> None:
        self._name(cls, cls.name)
        if cls.bases or cls.keywords:
            raise _Refused(cls, f"class {cls.name} with base classes")
        if not cls.decorator_list:
            raise _Refused(cls, f"class {cls.name} without @I.ir_module")
        self._decorators(cls)
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef):
                self._function(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                continue
            else:
                raise _Refused(stmt, f"{_describe(stmt)} in an @I.ir_module class (only functions)")

    def _arguments(self, args: ast.arguments) -> None:
        if args.vararg or args.kwarg:
            raise _Refused(args.vararg or args.kwarg, "`*args` or `**kwargs` parameters")
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            self._name(arg, arg.arg)
            if arg.annotation is not None:
                self.expr(arg.annotation)
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self.expr(default)

    def body(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, stmt: ast.stmt) -> None:
        if not isinstance(stmt, _STATEMENTS):
            raise _Refused(stmt, _describe(stmt))
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.ClassDef)):
            raise _Refused(stmt, f"{_describe(stmt)} inside a function")
        if isinstance(stmt, ast.FunctionDef):
            # A nested function is Python run by the parser, unless it is a TVMScript macro.
            self._function(stmt)
            return
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                self.stmt(child)
            elif isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.withitem):
                self.expr(child.context_expr)
                if child.optional_vars is not None:
                    self.expr(child.optional_vars)
            elif not isinstance(child, _PLUMBING):
                raise _Refused(stmt, _describe(child))

    def expr(self, node: ast.expr) -> None:
        if not isinstance(node, _EXPRESSIONS):
            raise _Refused(node, _describe(node))
        if isinstance(node, ast.Name):
            self._load(node)
        elif isinstance(node, ast.Attribute):
            self._attribute(node)
            return
        elif isinstance(node, ast.Call):
            self._call(node)
            return
        elif isinstance(node, ast.Subscript):
            self._subscript(node)
            return
        elif isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            raise _Refused(node, "a bytes literal")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif not isinstance(child, _PLUMBING):
                raise _Refused(node, _describe(child))

    def _name(self, node: ast.AST, name: str) -> None:
        if _private(name):
            raise _Refused(node, f"the name {name} (names starting with _ are not TVMScript)")

    def _load(self, node: ast.Name) -> None:
        self._name(node, node.id)
        if isinstance(node.ctx, ast.Store):
            if node.id in _ROOTS or node.id == "tvm":
                raise _Refused(node, f"assigning to {node.id}")
            return
        if node.id in _ROOTS or node.id in self._bound or node.id in _BUILTINS:
            return
        raise _Refused(node, f"the name {node.id} (neither defined in the script nor part of TVMScript)")

    def _attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain is not None and chain[0] in _ROOTS:
            self._namespace_chain(node, chain)
            return
        self._name(node, node.attr)
        if isinstance(node.ctx, ast.Store):
            raise _Refused(node, f"assigning to .{node.attr}")
        if node.attr not in _VALUE_ATTRIBUTES:
            raise _Refused(node, f"the attribute .{node.attr} (not a buffer field TVMScript uses)")
        self.expr(node.value)

    def _namespace_chain(self, node: ast.AST, chain: list[str]) -> None:
        """`T.grid`, `T.axis.remap`: members of TVMScript's own namespaces, never a module."""
        dotted = ".".join(chain)
        for part in chain[1:]:
            self._name(node, part)
        if len(chain) - 1 > _MAX_CHAIN:
            raise _Refused(node, f"{dotted} (more than {_MAX_CHAIN} look-ups into {chain[0]})")
        value: object = self._namespaces[chain[0]]
        for part in chain[1:]:
            if not hasattr(value, part):
                raise _Refused(node, f"{dotted} (not part of TVMScript)")
            value = getattr(value, part)
            if isinstance(value, types.ModuleType):
                raise _Refused(node, f"{dotted} (a Python module, not TVMScript)")

    def _call(self, node: ast.Call) -> None:
        func = node.func
        chain = _chain(func)
        if chain is not None and chain[0] in _ROOTS:
            if len(chain) == 1:
                raise _Refused(node, f"calling {chain[0]} itself")
        elif isinstance(func, ast.Name) and func.id in _BUILTINS:
            pass
        elif isinstance(func, ast.Attribute) and func.attr in _VALUE_METHODS:
            pass  # A.access_ptr("r"), x.astype("float32")
        else:
            what = ".".join(chain) if chain else "a computed function"
            raise _Refused(node, f"a call to {what} (only T.*, buffer methods and {', '.join(sorted(_BUILTINS - {'True', 'False', 'None'}))})")
        self.expr(func)
        for arg in node.args:
            self.expr(arg)
        for kw in node.keywords:
            if kw.arg is None:
                raise _Refused(kw.value, "`**` unpacking")
            self._name(kw.value, kw.arg)
            self.expr(kw.value)

    def _subscript(self, node: ast.Subscript) -> None:
        # Buffers by index (A[i, j]), T.Buffer[...] types; a string key is how a dictionary of
        # Python internals is read, and no buffer takes one.
        for part in ast.walk(node.slice):
            if isinstance(part, ast.Constant) and isinstance(part.value, (str, bytes)):
                raise _Refused(node, "a subscript by a string")
        self.expr(node.value)
        self.expr(node.slice)


def _describe(node: ast.AST) -> str:
    for kind, name in _NAMES.items():
        if isinstance(node, kind):
            return name
    return {
        ast.Import: "an import", ast.ImportFrom: "an import", ast.ClassDef: "a class",
        ast.FunctionDef: "a function", ast.Call: "a call",
    }.get(type(node), f"a {type(node).__name__} {'statement' if isinstance(node, ast.stmt) else 'expression'}")


def check_tvmscript(source: str, where: str) -> None:
    """Raises InvalidArgument (`where: line N: ... is not allowed in TVMScript`) unless source is
    TVMScript alone. Nothing in source is evaluated."""
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidArgument(f"{where}: {len(source)} characters is more than a TVMScript workload may hold ({MAX_SOURCE_CHARS})")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        raise InvalidArgument(f"{where}: not valid TVMScript: {err.msg} (line {err.lineno})") from None
    except (RecursionError, MemoryError, ValueError):
        raise InvalidArgument(f"{where}: not valid TVMScript: too deeply nested or malformed") from None
    try:
        _Checker(tree).module(tree)
    except _Refused as refused:
        raise InvalidArgument(f"{where}: line {refused.line}: {refused.what} is not allowed in TVMScript") from None
    except RecursionError:
        raise InvalidArgument(f"{where}: not valid TVMScript: too deeply nested") from None
