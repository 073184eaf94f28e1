"""``qwen-spaces models``: the known models, and whether each answers now."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .._client.client_core import DEFAULT_MODEL
from .._client.sync_client import Client
from .._errors import QwenSpacesError
from .._spaces.spaces import SPACES, resolve_model
from .common import COMMAND_HELP, EXIT_ERROR, EXIT_OK, hf_token, one_line

CHECK_TIMEOUT = 20.0


def run(args: argparse.Namespace) -> int:
    if args.model or args.base_url:
        # One base URL is one Space: it serves one model (--model, or the default).
        specs = [resolve_model(args.model or DEFAULT_MODEL)]
    else:
        specs = list(SPACES)
    rows = [("MODEL", "SPACE", "CONTEXT", "ALIASES")]
    rows += [
        (s.model, args.base_url or s.url, f"{s.context_length:,}", ", ".join(s.aliases))
        for s in specs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if not args.check:
        print("\n".join(line.rstrip() for line in lines))
        return EXIT_OK
    print(f"{lines[0]}  STATUS", flush=True)
    failed = 0
    for spec, line in zip(specs, lines[1:], strict=True):
        status = _check(spec.model, args)  # one at a time: each row shows as it is known
        failed += not status.startswith("ok")
        print(f"{line}  {status}", flush=True)
    return EXIT_ERROR if failed else EXIT_OK


def _check(model: str, args: argparse.Namespace) -> str:
    started = time.monotonic()
    try:
        with Client(
            model,
            base_url=args.base_url,
            timeout=args.timeout or CHECK_TIMEOUT,
            max_retries=0,
            hf_token=hf_token(),
        ) as client:
            # A thinking model answers sooner without thinking: only "does it answer?" matters.
            thinks = resolve_model(model).adapter.thinks
            client.chat("Reply with the single word OK.", thinking=False if thinks else None)
    except QwenSpacesError as error:
        return f"error: {one_line(error)}"
    return f"ok ({time.monotonic() - started:.1f} s)"


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``models`` command to the subparsers ``commands``."""
    command = commands.add_parser(
        "models",
        parents=parents,
        help=COMMAND_HELP["models"],
        description="List the known models, their Spaces, contexts (in tokens) and aliases "
        "(with --base-url, the one "
        "model served there: --model, or the default); --check asks each a tiny question "
        f"(timeout {CHECK_TIMEOUT:g} s unless --timeout) and exits 1 if one fails.",
    )
    command.add_argument("--check", action="store_true", help="check that each one answers now")
    command.set_defaults(run=run)
