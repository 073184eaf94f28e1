"""The package's layers, read from its folders: what each private wing may import and call.

- ``_core/`` (the call, its state, retry and options) is sans-I/O: no HTTP library, no
  sockets, TLS, threads, event loop or subprocess, no ``open()`` and no ``time`` clock (a
  clock is passed in); of ``_transports/`` only the contract; nothing of the clients or apps.
- ``_gradio/`` (Gradio's wire) and ``_spaces/`` (the registry, the adapters): no HTTP
  library and no I/O either.
- ``_transports/`` may do all of that: it is where the bytes move.
- No private module imports the applications (``_cli``, ``_server``) or the public kits
  (``testing``, ``providers``): those stand on top.

Every module is read with ``ast`` (imports anywhere in the file count, under
``TYPE_CHECKING`` too); the pure ones are also imported in a fresh interpreter, which
sees what they pull in through others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import qwen_spaces

ROOT = Path(qwen_spaces.__file__).parent
REPO = ROOT.parent

HTTP = {"requests", "aiohttp", "urllib3", "requests_toolbelt", "http", "urllib.request"}
IO = {"socket", "ssl", "threading", "asyncio", "subprocess", "selectors", "concurrent", "time"}
CLOCK = "time"  # a module whose use by name (time.monotonic()) is a clock read
APPS = ("qwen_spaces._cli", "qwen_spaces._server", "qwen_spaces.testing", "qwen_spaces.providers")


def dotted(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*wings: str) -> list[Path]:
    """The modules under the given folders of the package, or all of them."""
    found = sorted(ROOT.rglob("*.py"))
    if not wings:
        return found
    return [p for p in found if p.relative_to(ROOT).parts[0] in wings]


def private() -> list[Path]:
    """The private wings and the private top-level modules (_errors, _events, _files)."""
    return [
        p
        for p in modules()
        if p.relative_to(ROOT).parts[0].startswith("_")
        and p.relative_to(ROOT).parts[0] not in ("__init__.py", "__main__.py", "_cli", "_server")
    ]


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute; ``from X import name`` yields X.name when that
    is a module of the package, else X."""
    here = dotted(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if _is_module(sub) else base


def _is_module(name: str) -> bool:
    if not name.startswith("qwen_spaces."):
        return False
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def banned(name: str, bans: set[str]) -> bool:
    return any(name == ban or name.startswith(ban + ".") for ban in bans)


def io_calls(path: Path) -> list[str]:
    """``open(...)`` calls and reads of the ``time`` module by name, with their lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "open":
                found.append(f"open() at line {node.lineno}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == CLOCK:
                found.append(f"time.{node.attr} at line {node.lineno}")
    return found


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_wings_exist() -> None:
    # A walk over an empty or renamed folder would pass every test below.
    for wing in ("_core", "_gradio", "_spaces", "_transports", "_client", "_cli", "_server"):
        assert (ROOT / wing / "__init__.py").is_file(), wing
    assert len(modules("_core")) >= 2 and len(modules("_gradio")) >= 7


@pytest.mark.parametrize("path", modules("_core"), ids=ids(modules("_core")))
def test_the_core_does_no_io_and_knows_no_client(path: Path) -> None:
    taken = sorted(set(imports(path)))
    assert [m for m in taken if banned(m, HTTP | IO)] == []
    assert io_calls(path) == []
    transports = [m for m in taken if m.startswith("qwen_spaces._transports")]
    assert set(transports) <= {"qwen_spaces._transports.transport"}, "only the contract"
    above = ("qwen_spaces._client", *APPS)
    assert [m for m in taken if banned(m, set(above))] == []
    assert "qwen_spaces" not in taken, "the package's face imports the core, not the reverse"


WIRE = modules("_gradio", "_spaces")


@pytest.mark.parametrize("path", WIRE, ids=ids(WIRE))
def test_the_wire_and_the_registry_do_no_io(path: Path) -> None:
    taken = set(imports(path))
    assert [m for m in taken if banned(m, HTTP | IO)] == []
    assert io_calls(path) == []
    assert [m for m in taken if banned(m, {"qwen_spaces._client", "qwen_spaces._transports"})] == []


@pytest.mark.parametrize("path", private(), ids=ids(private()))
def test_no_private_module_imports_the_apps_or_the_kits(path: Path) -> None:
    assert [m for m in imports(path) if banned(m, set(APPS))] == []


# Pure: importing the module loads no HTTP library, whatever it imports in turn. The
# wings that do no I/O, the shared vocabulary, the transport contract and the pieces of
# the client that decide without sending.
PURE = [
    *modules("_core", "_gradio", "_spaces"),
    *(p for p in ROOT.glob("_*.py") if not p.name.startswith("__")),
    *(p for p in ROOT.glob("*.py") if not p.name.startswith("_")),
    ROOT / "_transports" / "transport.py",
    ROOT / "_transports" / "watchdog.py",
    ROOT / "_client" / "client_core.py",
    ROOT / "_client" / "openai_format.py",
]


@pytest.mark.parametrize("path", PURE, ids=ids(PURE))
def test_a_pure_module_imports_no_http_library(path: Path) -> None:
    # A fresh interpreter, and the package without its __init__ (which loads
    # the sync client): only what the module itself imports counts.
    code = (
        "import sys, types, importlib, importlib.util\n"
        "spec = importlib.util.find_spec('qwen_spaces')\n"
        "package = types.ModuleType('qwen_spaces')\n"
        "package.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['qwen_spaces'] = package\n"
        f"importlib.import_module({dotted(path)!r})\n"
        "print(sorted(m for m in ('requests', 'aiohttp', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", f"{dotted(path)} pulls in {out.stdout.strip()}"


SIZED = sorted(
    p for where in ("qwen_spaces", "benchmarks", "scripts") for p in (REPO / where).rglob("*.py")
)


def test_no_module_is_over_600_lines_and_no_class_over_300() -> None:
    too_long = []
    for path in SIZED:
        text = path.read_text(encoding="utf-8")
        if (count := len(text.splitlines())) > 600:
            too_long.append(f"{path.relative_to(REPO)}: {count} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = (node.end_lineno or node.lineno) - first + 1
                if size > 300:
                    too_long.append(f"{path.relative_to(REPO)}: class {node.name}, {size} lines")
    assert too_long == []


def test_the_layer_rules_see_what_they_ban() -> None:
    # The readers above find an import inside a function and a clock read.
    sample = ROOT / "_transports" / "sync_transport.py"
    assert "qwen_spaces._transports.sync_adapter" in set(imports(sample))
    assert any(call.startswith("time.") for call in io_calls(sample))
    assert banned("urllib.request", HTTP) and not banned("urllib.parse", HTTP)


def test_no_module_outside_the_registry_branches_on_which_space_it_is() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in ROOT.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "kind ==" in line and path.name != "spaces.py"
    ]
    assert offenders == []
