"""One version source, and the built metadata agrees with it; the license travels along."""

from __future__ import annotations

import ast
import configparser
import email
import importlib.metadata
from pathlib import Path

import qwen_spaces

ROOT = Path(__file__).resolve().parents[2]


def test_setup_cfg_reads_the_version_from_the_package() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert config["metadata"]["version"].strip() == "attr: qwen_spaces.__version__"
    assert config["metadata"]["license_files"].strip() == "LICENSE"


def test_the_version_is_a_literal_setuptools_reads_without_importing() -> None:
    """setuptools evaluates ``attr:`` statically when the value is a literal, so building
    imports neither qwen_spaces nor requests or aiohttp."""
    tree = ast.parse((ROOT / "qwen_spaces" / "__init__.py").read_text(encoding="utf-8"))
    values = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
    ]
    assert len(values) == 1 and isinstance(values[0], ast.Constant)
    assert values[0].value == qwen_spaces.__version__


def test_the_installed_metadata_agrees_with_the_package() -> None:
    """The metadata pip installed (the wheel in ``make dist``'s venv, the editable install
    in .venv) says the version the code says."""
    assert importlib.metadata.version("qwen_spaces") == qwen_spaces.__version__


def test_the_metadata_at_hand_agrees_and_carries_the_license() -> None:
    """From an unpacked sdist, its PKG-INFO; in a checkout, the installed distribution's."""
    pkg_info = ROOT / "PKG-INFO"
    if pkg_info.exists():
        metadata = email.message_from_string(pkg_info.read_text(encoding="utf-8"))
        assert (ROOT / "LICENSE").exists()
    else:
        metadata = importlib.metadata.metadata("qwen_spaces")  # type: ignore[assignment]
    assert metadata["Version"] == qwen_spaces.__version__
    assert metadata["License"] == "MIT"
    assert "LICENSE" in (metadata.get_all("License-File") or [])
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
