"""``qwen-spaces ask``: one question, streamed to stdout."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

from .._client.client_core import DEFAULT_MODEL
from .._client.messages import Messages
from .common import (
    COMMAND_HELP,
    EXIT_OK,
    PROG,
    TextPrinter,
    UsageError,
    check_file_flags,
    check_text,
    check_thinking_flags,
    host_of,
    make_client,
    reasoning_printer,
    reply_json,
    show_stream,
    start,
    wants_status,
)


def run(args: argparse.Namespace) -> int:
    prompt = check_text(_read_prompt(args.prompt), "the prompt")
    messages: Messages = prompt
    if args.system is not None:
        system = check_text(args.system, "-s/--system")
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    check_file_flags(args.file, args.model or DEFAULT_MODEL)
    check_thinking_flags(args, args.model or DEFAULT_MODEL)
    printer = None if args.json else TextPrinter(sys.stdout)
    thoughts = None if args.json else reasoning_printer()
    with make_client(args) as client, start(client, messages, args.file, args=args) as stream:
        status = None
        if wants_status(args):
            from .status import StatusLine  # a terminal's (or --progress): not a piped ask's

            status = StatusLine(sys.stderr, host_of(client.base_url))
        # Leaving the with blocks (Ctrl-C included) cancels an unfinished answer.
        show_stream(stream, printer, status, thoughts)
        reply = stream.reply
    if args.json:
        print(json.dumps(reply_json(reply), ensure_ascii=False))
    return EXIT_OK


def _read_prompt(arg: Optional[str]) -> str:
    if arg is None or arg == "-":
        if arg is None and sys.stdin.isatty():
            raise UsageError(f'no prompt: {PROG} ask "PROMPT", or pipe it on stdin')
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8").rstrip()
        except UnicodeDecodeError as error:
            raise UsageError(
                f"the prompt on stdin is not UTF-8 text (byte {data[error.start]:#04x} "
                f"at offset {error.start})"
            ) from None
    else:
        text = arg
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``ask`` command to the subparsers ``commands``."""
    command = commands.add_parser(
        "ask",
        parents=parents,
        help=COMMAND_HELP["ask"],
        description="Stream one answer to stdout. Queue position and ETA go to stderr when it "
        "is a terminal (or with --progress), and so does a thinking model's reasoning, dimmed "
        "(--json carries it).",
    )
    command.add_argument(
        "prompt", nargs="?", default=None, help="the prompt; '-' or none reads it from stdin"
    )
    command.add_argument("-s", "--system", default=None, help="a system prompt")
    command.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="a document for the model to read (repeatable; qwen-2.5-1m only)",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (text, reasoning, thinking_seconds, model, timings) "
        "instead of the stream",
    )
    command.add_argument("--progress", action="store_true", help="queue status on stderr, always")
    command.set_defaults(run=run)
