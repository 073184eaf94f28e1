"""Sphinx configuration of the qwen_spaces documentation: ``make docs`` and ``make doctest``.

Sphinx with furo: the project is written in reStructuredText already (README, docstrings),
and Sphinx's autodoc and intersphinx are what requests, urllib3 and aiohttp use, so links
to them resolve the same way. The build is offline: intersphinx reads small inventories
compiled here from the text lists in ``_inventories/`` (the names these pages refer to,
with their real addresses), never the network.
"""

from __future__ import annotations

import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# Importing the package is cheap and offline: it loads neither requests nor aiohttp.
from qwen_spaces import __version__  # noqa: E402

project = "qwen_spaces"
author = "the qwen_spaces authors"
copyright = "2026, the qwen_spaces authors"
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.doctest",
]
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"qwen_spaces {release}"

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# --- intersphinx, offline ------------------------------------------------------------------


def _inventory(name: str) -> str:
    """Compile ``_inventories/NAME.txt`` (``name role uri`` lines) into an objects.inv."""
    lines = []
    for raw in (HERE / "_inventories" / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            obj, role, uri = raw.split()
            lines.append(f"{obj} {role} 1 {uri} -")
    header = (
        f"# Sphinx inventory version 2\n# Project: {name}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"))
    out = Path(tempfile.mkdtemp(prefix="qwen_spaces_inv_")) / f"{name}.inv"
    out.write_bytes(header.encode("utf-8") + body)
    return str(out)


_SITES = {
    "python": "https://docs.python.org/3/",
    "requests": "https://requests.readthedocs.io/en/latest/",
    "aiohttp": "https://docs.aiohttp.org/en/stable/",
}
intersphinx_mapping = {name: (url, _inventory(name)) for name, url in _SITES.items()}

# --- doctest: the guides' examples run against a FakeSpace, offline ------------------------

doctest_global_setup = """
import os
os.environ["QWEN_SPACES_CACHE"] = "off"   # no discovery cache entry per fake Space
for _name in ("QWEN_SPACES_BASE_URL", "QWEN_SPACES_MODEL", "HF_TOKEN"):
    os.environ.pop(_name, None)
"""
