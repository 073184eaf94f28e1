"""The pure layer does no I/O: its modules import neither requests nor aiohttp."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "adapters",
    "adapters.agent",
    "adapters.qwen3",
    "adapters.usual",
    "_core.call",
    "_core.state",
    "client_core",
    "discovery",
    "dedup",
    "endpoints",
    "errors",
    "events",
    "gradio",
    "openai_format",
    "payloads",
    "policy",
    "spaces",
    "sse",
    "transport",
    "watchdog",
]


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_no_http_library(module: str) -> None:
    # A fresh interpreter, and the package without its __init__ (which loads
    # the sync client): only what the module itself imports counts.
    code = (
        "import sys, types, importlib, importlib.util\n"
        "spec = importlib.util.find_spec('qwen_spaces')\n"
        "package = types.ModuleType('qwen_spaces')\n"
        "package.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['qwen_spaces'] = package\n"
        f"importlib.import_module('qwen_spaces.{module}')\n"
        "print(sorted(m for m in ('requests', 'aiohttp', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", f"qwen_spaces.{module} pulls in {out.stdout.strip()}"


def test_no_module_outside_the_registry_branches_on_which_space_it_is() -> None:
    from pathlib import Path

    import qwen_spaces

    root = Path(qwen_spaces.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "kind ==" in line and path.name != "spaces.py"
    ]
    assert offenders == []
