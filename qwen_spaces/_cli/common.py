"""What the commands share: exit codes, argument types, the client, showing a stream."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TextIO

from .._client.client_core import DEFAULT_MODEL
from .._client.messages import Messages
from .._client.sync_client import Client, Conversation, Stream
from .._events import Event, Reasoning, Reply, TextDelta
from .._spaces.spaces import SPACES, resolve_model

if TYPE_CHECKING:  # the status line is only for a terminal (or --progress): imported then
    from .status import StatusLine

PROG = "qwen-spaces"
#: Each command's line in ``qwen-spaces --help``, in its order. Only the command
#: being run has its module imported and its parser built (the others: this line).
COMMAND_HELP = {
    "ask": "one question, streamed to stdout",
    "chat": "an interactive conversation",
    "batch": "answer a JSONL file of prompts, resumably",
    "models": "the known models and their Spaces",
    "completion": "print a completion script for bash, zsh or fish",
    "serve": "an OpenAI-compatible server in front of the Spaces",  # server/command.py's
}
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """The command line or its input is wrong: exit 2."""


def model_arg(value: str) -> str:
    try:
        return resolve_model(value).model
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def url_arg(value: str) -> str:
    from .._gradio.space_url import check_base_url

    try:
        return check_base_url(value, what="the URL")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds_arg(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def positive_int_arg(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def check_text(text: str, what: str) -> str:
    """``text`` from the command line, or a UsageError if it is not UTF-8 (a byte
    Python kept as a surrogate escape, e.g. a Latin-1 argument)."""
    from .._client.messages import check_utf8

    try:
        return check_utf8(text, what)
    except ValueError:
        raise UsageError(f"{what} is not UTF-8 text ({_bad_byte(text)})") from None


def _bad_byte(text: str) -> str:
    for index, char in enumerate(text):
        if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte os.fsdecode could not decode
            return f"byte {ord(char) - 0xDC00:#04x} at index {index}"
    return "it holds a lone surrogate"


def check_file_flags(paths: Sequence[str], model: str) -> None:
    """``-f/--file PATH``s, checked as the command line's flags: a UsageError says which."""
    from .._files import file_size

    spec = resolve_model(model)
    if paths and not spec.adapter.takes_files:
        readers = " or ".join(f"-m {s.model}" for s in SPACES if s.adapter.takes_files)
        raise UsageError(f"-f/--file works only with {readers}; {spec.model} reads no files")
    for path in paths:
        try:
            file_size(path)
        except ValueError as error:
            raise UsageError(f"-f/--file {shown(path)}: {error}") from None


def shown(path: str) -> str:
    """A path to show on a terminal; a byte that is not UTF-8 as ``\\xe9``."""
    try:
        path = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte stands for: not from argv
        return repr(path)
    return path if path.isprintable() else repr(path)


def hf_token() -> Optional[str]:
    """The token for a private Space, from ``$HF_TOKEN`` (as huggingface_hub reads it)."""
    return os.environ.get("HF_TOKEN") or None


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, for a status line."""
    return url.split("://", 1)[-1].split("/", 1)[0]


def make_client(args: argparse.Namespace, model: Optional[str] = None) -> Client:
    return Client(
        model or args.model or DEFAULT_MODEL,
        base_url=args.base_url,
        timeout=args.timeout,
        hf_token=hf_token(),
    )


def check_thinking_flags(args: argparse.Namespace, model: str) -> None:
    """``--no-think`` and ``--thinking-budget``, checked in the command line's words."""
    budget = getattr(args, "thinking_budget", None)
    if getattr(args, "thinking", None) is None and budget is None:
        return
    adapter = resolve_model(model).adapter
    if not adapter.thinks:
        thinkers = ", ".join(s.model for s in SPACES if s.adapter.thinks)
        raise UsageError(
            f"--no-think and --thinking-budget work only with a thinking model "
            f"(-m {thinkers}); {model} has no thinking mode"
        )
    if budget is not None:
        try:
            adapter.budget_units(budget)
        except ValueError as error:
            raise UsageError(str(error).replace("thinking_budget", "--thinking-budget")) from None


def start(
    client: Client,
    messages: Messages,
    files: Sequence[str] = (),
    conversation: Optional[Conversation] = None,
    args: Optional[argparse.Namespace] = None,
) -> Stream:
    """A call's stream, with what is wrong with its input said as a usage error.

    ``args`` brings the thinking flags (``--no-think``, ``--thinking-budget``).
    """
    thinking = getattr(args, "thinking", None)
    budget = getattr(args, "thinking_budget", None)
    try:
        if conversation is not None:
            return conversation.stream(
                messages, files=files or None, thinking=thinking, thinking_budget=budget
            )
        return client.stream(
            messages, files=files or None, thinking=thinking, thinking_budget=budget
        )
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text}"


def flush_or_silence_stdout() -> None:
    # `qwen-spaces ask ... | head -1`: the reader left. Point stdout at
    # /dev/null so the interpreter's own final flush stays quiet too.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class TextPrinter:
    """Writes answer text as it arrives, flushing each piece."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self.text = ""

    def write(self, delta: TextDelta) -> None:
        out = self._out
        if delta.backtrack:
            # The Space rewrote text already shown (rare). A terminal can take
            # back the end of its current line; anything else can't be unprinted,
            # so the rewrite goes on a new line.
            cut = len(self.text) - delta.backtrack
            dropped, self.text = self.text[cut:], self.text[:cut]
            if self._tty and dropped.isascii() and dropped.isprintable():
                n = len(dropped)
                out.write("\b" * n + " " * n + "\b" * n)
            else:
                out.write("\n")
        self.text += delta.text
        out.write(delta.text)
        out.flush()

    def end(self) -> None:
        if self.text and not self.text.endswith("\n"):
            self._out.write("\n")
        self._out.flush()


def colour(out: TextIO) -> bool:
    """Whether ``out`` takes colour: a terminal, ``$NO_COLOR`` unset or empty
    (no-color.org), and not ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return out.isatty()
    except ValueError:  # closed
        return False


class ReasoningPrinter:
    """A thinking model's reasoning on stderr, dimmed, apart from the answer on stdout.

    Only on a terminal: a log or a pipe gets the answer alone (``--json``
    carries the reasoning). Without colour it is plain text.
    """

    DIM, RESET = "\x1b[2m", "\x1b[0m"

    def __init__(self, out: TextIO, colour: bool = True) -> None:
        self._out = out
        self._dim, self._reset = (self.DIM, self.RESET) if colour else ("", "")
        self.text = ""

    def write(self, event: Reasoning) -> None:
        if not self.text:
            self._out.write(self._dim)
        self.text += event.text
        self._out.write(event.text)
        self._out.flush()

    def end(self) -> None:
        if self.text:
            self._out.write(self._reset + "\n")
            self._out.flush()
            self.text = ""


def show_stream(
    events: Iterable[Event],
    printer: Optional[TextPrinter],
    status: Optional[StatusLine],
    thoughts: Optional[ReasoningPrinter] = None,
) -> None:
    """Print a stream's text (unless printer is None), its reasoning (to ``thoughts``)
    and its status until the answer."""
    if status is not None:
        status.begin()
    try:
        for event in events:
            if type(event) is TextDelta:
                if status is not None:
                    status.clear()
                if thoughts is not None:
                    thoughts.end()
                if printer is not None:
                    printer.write(event)
            elif type(event) is Reasoning and thoughts is not None:
                if status is not None:
                    status.clear()
                thoughts.write(event)
            elif status is not None:
                status.show(event)
    finally:
        if status is not None:
            status.clear()
        if thoughts is not None:
            thoughts.end()
        if printer is not None:
            printer.end()


def reasoning_printer() -> Optional[ReasoningPrinter]:
    """Where the reasoning goes: on stderr when it is a terminal (dimmed, unless
    ``$NO_COLOR``), else nowhere."""
    return ReasoningPrinter(sys.stderr, colour(sys.stderr)) if sys.stderr.isatty() else None


def wants_status(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "thinking_seconds": reply.thinking_seconds,
        "model": reply.model,
        "timings": rounded_timings(reply),
    }


def rounded_timings(reply: Reply) -> dict[str, float]:
    return {name: round(seconds, 3) for name, seconds in reply.timings.items()}


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all.

    A crash mid-write leaves the old file, never half of the new one. An
    OSError names ``path``, never the temporary file beside it.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, FileNotFoundError):
            reason = f"the directory {path.parent} does not exist"
        raise type(error)(error.errno, reason, str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            reason = error.strerror or type(error).__name__
            raise type(error)(error.errno, reason, str(path)) from None
        raise
