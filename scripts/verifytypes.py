"""Check the typed public surface with pyright's ``--verifytypes`` (``make verifytypes``).

pyright (here basedpyright, which brings its own Node.js from PyPI) counts every symbol
that ``qwen_spaces``, ``qwen_spaces.testing`` and ``qwen_spaces.providers`` export, and the
types reachable from them, as known, ambiguous (missing an annotation another checker could
infer differently) or unknown: the plain ``pyright --verifytypes qwen_spaces``, without
``--ignoreexternal``, so a public signature that shows another package's incompletely typed
class (the clients' ``session=``: requests' and aiohttp's) counts against us. Below
``THRESHOLD`` the symbols at fault are listed and the exit status is 1.

    python scripts/verifytypes.py            # the score, and the symbols below it
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 0.95


def main() -> int:
    tool = Path(sys.executable).with_name("basedpyright")
    command = str(tool) if tool.exists() else shutil.which("basedpyright")
    if command is None:
        print("verifytypes: basedpyright is not installed (pip install -e '.[dev]')")
        return 2
    # The package as its source tree: an editable install's import hook is not read by pyright.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [command, "--verifytypes", "qwen_spaces", "--outputjson"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)["typeCompleteness"]
    except (ValueError, KeyError):
        print(done.stdout[-2000:] + done.stderr[-2000:])
        return 2
    score = report["completenessScore"]
    counts = report["exportedSymbolCounts"]
    print(
        f"verifytypes: {score:.1%} of {sum(counts.values())} exported symbols known "
        f"({counts['withAmbiguousType']} ambiguous, {counts['withUnknownType']} unknown)"
    )
    if score >= THRESHOLD:
        return 0
    for symbol in report["symbols"]:
        if symbol["isExported"] and not symbol["isTypeKnown"]:
            print(f"  {symbol['name']}")
            for diagnostic in symbol["diagnostics"]:
                print(f"    {diagnostic['message'].splitlines()[0]}")
    print(f"verifytypes: under {THRESHOLD:.0%}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
