"""Check that the blocking client is the asyncio client with async taken out (``make lint``).

``qwen_spaces/_client/sync_client.py`` and ``qwen_spaces/_client/async_client.py`` are twins,
both written by hand: this script rewrites the async one mechanically (as
httpcore's ``unasync --check``: ``async``/``await`` dropped, the names in
``RENAMES`` swapped) and fails on any difference from the sync one, naming
the function and showing the diff. Docstrings, comments, formatting and imports
are not compared (ruff and mypy check imports); the real differences are the
functions in ``DIFFERENT``, each with its reason.

Neither side is generated. Rewriting async into sync is mechanical, the reverse
is not (where would the awaits go?), so async is the rewrite's source; but the
SDK is sync-first: ``Client`` carries the full docstrings (AsyncClient's refer
to them), and a change is made on the sync side first and mirrored, which this
check then holds to. It also checks the constructor's keywords, written in
``Client``, ``AsyncClient`` and ``ClientCore``: the same, each forwarded by name.

    python scripts/unasync.py          # exit 1 and a diff when the twins differ
"""

from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qwen_spaces" / "_client"

#: asyncio name -> blocking name (identifiers, attributes, and str constants such as __all__'s).
RENAMES = {
    "AsyncClient": "Client",
    "AsyncConversation": "Conversation",
    "AsyncStream": "Stream",
    "AiohttpTransport": "RequestsTransport",
    "AsyncTransport": "Transport",
    "AsyncUserTransport": "UserTransport",
    "AsyncIterator": "Iterator",
    "AsyncGenerator": "Generator",
    "aiohttp": "requests",
    "ClientSession": "Session",
    "asyncio": "time",
    "aopen": "open",
    "acancel": "cancel",
    "aclose": "close",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
}

#: The real differences between the twins (qualified names on the sync side), and why.
DIFFERENT = {
    "_report": "AsyncClient's on_status may be a coroutine function: its result is awaited",
    "_checked_session": "each client checks a session of its own library",
    "Stream.reply": "a property cannot await: AsyncStream.reply needs the stream read already",
}

#: Keywords of a client that ClientCore does not take (they choose the transport).
TRANSPORT_KEYWORDS = {"session", "transport"}


class _Unasync(ast.NodeTransformer):
    """async/await out, RENAMES in."""

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.name = RENAMES.get(node.name, node.name)
        return ast.FunctionDef(**{f: getattr(node, f) for f in node._fields})

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        self.generic_visit(node)
        return ast.For(**{f: getattr(node, f) for f in node._fields})

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        self.generic_visit(node)
        return ast.With(**{f: getattr(node, f) for f in node._fields})

    def visit_Await(self, node: ast.Await) -> ast.AST:
        value: ast.AST = self.visit(node.value)
        return value

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.name = RENAMES.get(node.name, node.name)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.name = RENAMES.get(node.name, node.name)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = RENAMES.get(node.id, node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = RENAMES.get(node.attr, node.attr)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and node.value in RENAMES:
            node.value = RENAMES[node.value]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        # AsyncGenerator[Y, S] is Generator[Y, S, None].
        self.generic_visit(node)
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "Generator"
            and isinstance(node.slice, ast.Tuple)
            and len(node.slice.elts) == 2
        ):
            node.slice.elts.append(ast.Constant(None))
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # x.__anext__() is next(x).
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "__next__" and not node.args:
            return ast.Call(ast.Name("next", ast.Load()), [func.value], [])
        return node


def _code(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` without its docstring and imports."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            body = body[1:]
    return [
        stmt
        for stmt in body
        if not isinstance(stmt, (ast.Import, ast.ImportFrom))
        and not (isinstance(stmt, ast.If) and ast.unparse(stmt.test) == "TYPE_CHECKING")
    ]


def _strip_docstrings(node: ast.AST) -> None:
    for child in ast.walk(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            child.body = _code(child.body) or [ast.Pass()]


def units(tree: ast.Module) -> dict[str, str]:
    """The module's code by qualified name: functions, methods, each class's other statements."""
    found: dict[str, str] = {}
    module: list[str] = []
    for stmt in _code(tree.body):
        _strip_docstrings(stmt)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[stmt.name] = ast.unparse(stmt)
        elif isinstance(stmt, ast.ClassDef):
            rest: list[str] = []
            for item in stmt.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{stmt.name}.{item.name}"] = ast.unparse(item)
                elif not isinstance(item, ast.Pass):
                    rest.append(ast.unparse(item))
            header = ast.unparse(ast.ClassDef(**{**vars(stmt), "body": [ast.Pass()]}))
            found[stmt.name] = "\n".join([header, *rest])
        else:
            module.append(ast.unparse(stmt))
    found["<module>"] = "\n".join(module)
    return found


def _parse(name: str) -> ast.Module:
    return ast.parse((PACKAGE / name).read_text(encoding="utf-8"), name)


def check_twins() -> list[str]:
    """Each difference between sync_client.py and async_client.py unasynced, as a diff."""
    expected = units(ast.fix_missing_locations(_Unasync().visit(_parse("async_client.py"))))
    actual = units(_parse("sync_client.py"))
    problems = []
    for name in sorted(set(expected) | set(actual)):
        if name in DIFFERENT:
            if name not in actual or name not in expected:
                problems.append(f"{name}: listed in DIFFERENT, missing from one twin")
            continue
        want, have = expected.get(name, ""), actual.get(name, "")
        if want != have:
            diff = difflib.unified_diff(
                want.splitlines(),
                have.splitlines(),
                "async_client.py, unasynced",
                "sync_client.py",
                lineterm="",
            )
            problems.append(f"{name}:\n" + "\n".join(diff))
    return problems


def _init(tree: ast.Module, cls: str) -> ast.FunctionDef:
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == cls:
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item
    raise LookupError(f"{cls}.__init__ not found")


def _params(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)][1:]


def check_keywords() -> list[str]:
    """Client's keywords are ClientCore's (and the transport's), each forwarded by name."""
    core = _params(_init(_parse("client_core.py"), "ClientCore"))
    problems = []
    for module, cls in (("sync_client.py", "Client"), ("async_client.py", "AsyncClient")):
        init = _init(_parse(module), cls)
        own = [name for name in _params(init) if name not in TRANSPORT_KEYWORDS]
        if own != core:
            problems.append(f"{cls}.__init__ takes {own}, ClientCore.__init__ {core}")
        calls = [
            node
            for node in ast.walk(init)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "ClientCore"
        ]
        passed = [
            [ast.unparse(a) for a in call.args]
            + [f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords]
            for call in calls
        ]
        wanted = [core[0]] + [f"{name}={name}" for name in core[1:]]
        if passed != [wanted]:
            problems.append(f"{cls}.__init__ must call ClientCore({', '.join(wanted)})")
    return problems


def main() -> int:
    problems = check_twins() + check_keywords()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"unasync: {len(problems)} difference(s) between the twins; fix them, or name a real "
            "one in scripts/unasync.py's DIFFERENT",
            file=sys.stderr,
        )
        return 1
    print("unasync: sync_client.py is async_client.py unasynced (but for DIFFERENT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
