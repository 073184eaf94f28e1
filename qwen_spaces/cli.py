"""``qwen-spaces``: ask, chat, batch, models and serve from the command line.

Exit codes: 0 ok, 1 a Space or network error (one line on stderr; the
traceback too with ``--debug``), 2 a usage error, 130 interrupted (Ctrl-C).

aiohttp and tqdm are imported only by ``batch``, so the other commands start
as fast as ``import qwen_spaces`` does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TextIO

from . import __version__
from .client_core import DEFAULT_MODEL
from .errors import QwenSpacesError
from .events import ConversationState, Event, QueueStatus, Reasoning, Reply, TextDelta
from .payloads import Messages
from .spaces import SPACES, resolve_model
from .sync_client import Client, Conversation

if TYPE_CHECKING:
    from .async_client import AsyncClient

__all__ = ["main"]

PROG = "qwen-spaces"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CHECK_TIMEOUT = 20.0
CHAT_PROMPT = "you> "
CHAT_HELP = """\
commands:
  /reset          forget the conversation (keeps the system prompt)
  /system TEXT    start over with TEXT as the system prompt (/system alone shows it)
  /save FILE      save the conversation as JSON (model, session_hash, messages)
  /load FILE      continue a saved conversation
  /help           this help
  /exit           leave (or Ctrl-D)
Ctrl-C stops an answer and cancels it on the Space. Start a message with // to send a literal /."""


class UsageError(Exception):
    """The command line or its input is wrong: exit 2."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    debug: bool = args.debug
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    elif not os.environ.get("QWEN_SPACES_LOG"):
        # Retry warnings would reach stderr through logging's last resort;
        # without --debug an error is one line, nothing more.
        log = logging.getLogger("qwen_spaces")
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())
    try:
        code: int = args.run(args)
        return code
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader of stdout left: nothing to say, nobody to say it to
        return EXIT_ERROR
    except (QwenSpacesError, OSError) as error:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _flush_or_silence_stdout()


# --- the command line ------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # --debug is accepted before or after the command; SUPPRESS keeps the
    # subcommand's default from overwriting a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="log at DEBUG level and show tracebacks",
    )
    space = argparse.ArgumentParser(add_help=False)
    space.add_argument(
        # argparse runs a str default through `type`, so the environment's
        # values are checked like the flags' (the examples use these variables).
        "-m", "--model", type=_model, default=os.environ.get("QWEN_SPACES_MODEL") or None,
        help=f"a model name or alias (default $QWEN_SPACES_MODEL, else {DEFAULT_MODEL}; "
        f"see `{PROG} models`)",
    )
    space.add_argument(
        "--base-url", type=_url, default=os.environ.get("QWEN_SPACES_BASE_URL") or None,
        help="another Space: a duplicate or a local server (default $QWEN_SPACES_BASE_URL)",
    )
    space.add_argument(
        "--timeout", type=_seconds, default=None, metavar="S",
        help="cap every time limit of a call at S seconds",
    )

    parser = argparse.ArgumentParser(
        prog=PROG, description="Qwen's chat models on Hugging Face Spaces, from the shell."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", default=False, help="log at DEBUG level and show tracebacks"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser(
        "ask", parents=[debug, space], help="one question, streamed to stdout",
        description="Stream one answer to stdout. Queue position and ETA go to stderr when it "
        "is a terminal (or with --progress).",
    )
    ask.add_argument(
        "prompt", nargs="?", default=None, help="the prompt; '-' or none reads it from stdin"
    )
    ask.add_argument("-s", "--system", default=None, help="a system prompt")
    ask.add_argument(
        "--json", action="store_true",
        help="print one JSON object (text, reasoning, model, timings) instead of the stream",
    )
    ask.add_argument("--progress", action="store_true", help="queue status on stderr, always")
    ask.set_defaults(run=_ask)

    chat = commands.add_parser(
        "chat", parents=[debug, space], help="an interactive conversation",
        description="An interactive conversation. " + CHAT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("-s", "--system", default=None, help="a system prompt")
    chat.set_defaults(run=_chat)

    batch = commands.add_parser(
        "batch", parents=[debug, space], help="answer a JSONL file of prompts, resumably",
        description='Each input line is {"id": ..., "prompt": "..."} or {"id": ..., '
        '"messages": [...]} (the id defaults to the line number). Answers are appended to OUT '
        "as they finish, one JSON line each (id, text or error, model, timings). Rerunning "
        "skips the ids already answered in OUT and retries the failed ones. Exits 1 if a "
        "line failed.",
    )
    batch.add_argument("input", type=Path, metavar="IN.jsonl")
    batch.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.jsonl")
    batch.add_argument(
        "-c", "--concurrency", type=_positive_int, default=4, metavar="N",
        help="answers in flight at once (default 4)",
    )
    batch.add_argument("--progress", action="store_true", help="the progress bar, always")
    batch.set_defaults(run=_batch)

    models = commands.add_parser(
        "models", parents=[debug, space], help="the known models and their Spaces",
        description="List the known models, their Spaces and aliases; --check asks each a "
        f"tiny question (timeout {CHECK_TIMEOUT:g} s unless --timeout) and exits 1 if one fails.",
    )
    models.add_argument("--check", action="store_true", help="check that each one answers now")
    models.set_defaults(run=_models)

    from .server.command import add_parser as add_serve_parser  # no aiohttp until it runs

    add_serve_parser(commands, parents=[debug])
    return parser


def _model(value: str) -> str:
    try:
        return resolve_model(value).model
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _url(value: str) -> str:
    from .policy import check_base_url

    try:
        return check_base_url(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _client(args: argparse.Namespace, model: Optional[str] = None) -> Client:
    return Client(
        model or args.model or DEFAULT_MODEL, base_url=args.base_url, timeout=args.timeout
    )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text}"


def _flush_or_silence_stdout() -> None:
    # `qwen-spaces ask ... | head -1`: the reader left. Point stdout at
    # /dev/null so the interpreter's own final flush stays quiet too.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# --- showing a stream --------------------------------------------------------------


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


class StatusLine:
    """Queue position and status text on stderr, until the answer starts.

    On a terminal it is one line rewritten in place and erased before the
    answer; elsewhere (``--progress`` into a log) one line per change.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._last = ""
        self._shown = False
        self.done = False

    def show(self, event: Event) -> None:
        text = _describe(event)
        if self.done or not text or text == self._last:
            return
        self._last = text
        if self._live:
            self._out.write(f"\r\x1b[K{text}")
            self._shown = True
        else:
            self._out.write(text + "\n")
        self._out.flush()

    def clear(self) -> None:
        self.done = True
        if self._shown:
            self._out.write("\r\x1b[K")
            self._out.flush()
            self._shown = False


def _describe(event: Event) -> str:
    if type(event) is QueueStatus:
        if event.started:
            return "generating..."
        if event.rank is None:
            return "queued"
        size = f" (queue of {event.queue_size})" if event.queue_size else ""
        eta = "" if event.eta is None else f", about {event.eta:.{1 if event.eta < 10 else 0}f} s"
        return f"queue: {event.rank} ahead{size}{eta}"
    if type(event) is Reasoning:
        return event.text.strip().splitlines()[0][:100] if event.text.strip() else ""
    return ""


def _show_stream(
    events: Iterable[Event], printer: Optional[TextPrinter], status: Optional[StatusLine]
) -> None:
    """Print a stream's text (unless printer is None) and its status until the answer."""
    try:
        for event in events:
            if type(event) is TextDelta:
                if status is not None:
                    status.clear()
                if printer is not None:
                    printer.write(event)
            elif status is not None:
                status.show(event)
    finally:
        if status is not None:
            status.clear()
        if printer is not None:
            printer.end()


def _wants_status(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


def _reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "reasoning": reply.reasoning,
        "model": reply.model,
        "timings": _timings(reply),
    }


def _timings(reply: Reply) -> dict[str, float]:
    return {name: round(seconds, 3) for name, seconds in reply.timings.items()}


# --- ask -----------------------------------------------------------------------------


def _ask(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args.prompt)
    messages: Messages = prompt
    if args.system is not None:
        messages = [{"role": "system", "content": args.system}, {"role": "user", "content": prompt}]
    status = StatusLine(sys.stderr) if _wants_status(args) else None
    printer = None if args.json else TextPrinter(sys.stdout)
    with _client(args) as client, client.stream(messages) as stream:
        # Leaving the with blocks (Ctrl-C included) cancels an unfinished answer.
        _show_stream(stream, printer, status)
        reply = stream.reply
    if args.json:
        print(json.dumps(_reply_json(reply), ensure_ascii=False))
    return EXIT_OK


def _read_prompt(arg: Optional[str]) -> str:
    if arg is None or arg == "-":
        if arg is None and sys.stdin.isatty():
            raise UsageError(f"no prompt: {PROG} ask \"PROMPT\", or pipe it on stdin")
        text = sys.stdin.read().rstrip()
    else:
        text = arg
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


# --- chat -----------------------------------------------------------------------------


def _history_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "qwen_spaces" / "history"
    return Path.home() / ".qwen_spaces_history"


def _setup_readline() -> Callable[[], None]:
    """Line editing and history for input(); returns what saves the history."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input()
        return lambda: None
    path = _history_file()
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError as error:
            logging.getLogger("qwen_spaces").debug("history not saved: %s", error)

    return save


class ChatSession:
    """The interactive loop of ``qwen-spaces chat`` on one Conversation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self.client = _client(args)
        self.conversation: Conversation = self.client.conversation(system=args.system)

    def run(self) -> int:
        save_history = _setup_readline()
        print(
            f"Chatting with {self.client.model} at {self.client.base_url}. "
            "/help for commands, Ctrl-D to leave."
        )
        try:
            while True:
                try:
                    line = input(CHAT_PROMPT)
                except EOFError:
                    print()
                    return EXIT_OK
                except KeyboardInterrupt:  # at the prompt: drop the line, as shells do
                    print()
                    continue
                line = line.strip()
                if not line:
                    continue
                if line.startswith("/") and not line.startswith("//"):
                    if not self.command(line):
                        return EXIT_OK
                    continue
                self.answer(line[1:] if line.startswith("//") else line)
        finally:
            save_history()
            self.client.close()

    def answer(self, text: str) -> None:
        printer = TextPrinter(sys.stdout)
        status = StatusLine(sys.stderr) if sys.stderr.isatty() else None
        try:
            # The turn joins the conversation only if the answer completes.
            with self.conversation.stream(text) as stream:
                _show_stream(stream, printer, status)
        except KeyboardInterrupt:
            # Leaving the with block closed the stream: the Space was told to stop.
            print("[stopped; this turn is not kept]", file=sys.stderr)
        except QwenSpacesError as error:
            print(f"error: {_one_line(error)}", file=sys.stderr)

    def command(self, line: str) -> bool:
        """Run a /command; False means leave."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            print(CHAT_HELP)
        elif name == "/reset":
            self.conversation.reset()
            print("(conversation reset)")
        elif name == "/system":
            if rest:
                self.conversation = self.client.conversation(system=rest)
                print("(new conversation with this system prompt)")
            else:
                print(self.conversation.state.system or "(no system prompt)")
        elif name in ("/save", "/load") and not rest:
            print(f"usage: {name} FILE", file=sys.stderr)
        elif name == "/save":
            self._save(Path(rest).expanduser())
        elif name == "/load":
            self._load(Path(rest).expanduser())
        else:
            print(f"unknown command {name}: /help lists them", file=sys.stderr)
        return True

    def _save(self, path: Path) -> None:
        state = self.conversation.state
        try:
            text = json.dumps(state.to_dict(), ensure_ascii=False, indent=2)
            _write_atomically(path, text + "\n")
        except OSError as error:
            print(f"error: {_one_line(error)}", file=sys.stderr)
            return
        print(f"(saved {len(state.messages)} messages to {path})")

    def _load(self, path: Path) -> None:
        try:
            state = ConversationState.from_dict(json.loads(path.read_text(encoding="utf-8")))
            model = resolve_model(state.model).model
            if model != self.client.model:
                self.client.close()
                self.client = _client(self._args, model)
            # The same Space session: the 1M Space keeps the history there.
            conversation = self.client.conversation(state=state)
        except (OSError, ValueError, TypeError) as error:
            print(f"error: cannot load {path}: {_one_line(error)}", file=sys.stderr)
            return
        self.conversation = conversation
        print(f"(loaded {len(conversation.state.messages)} messages, model {model})")


def _chat(args: argparse.Namespace) -> int:
    return ChatSession(args).run()


def _write_atomically(path: Path, text: str) -> None:
    # A crash mid-write leaves the old file, never half of the new one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- batch -----------------------------------------------------------------------------


@dataclass
class Job:
    """One input line: what to ask, or why it cannot be asked."""

    id: Any
    messages: Optional[Messages]
    error: Optional[str] = None

    @property
    def key(self) -> str:
        return _id_key(self.id)


def _id_key(value: Any) -> str:
    # JSON text as the key: 1 and "1" stay distinct ids, as in the files.
    return json.dumps(value, sort_keys=True)


def _read_jobs(path: Path) -> list[Job]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        job = _parse_job(line, number)
        if job.key in seen:
            raise UsageError(
                f"{path}:{number}: id {job.id!r} is also on line {seen[job.key]}; "
                "ids must be unique to resume"
            )
        seen[job.key] = number
        jobs.append(job)
    return jobs


def _parse_job(line: str, number: int) -> Job:
    try:
        item = json.loads(line)
    except ValueError as error:
        return Job(number, None, f"line {number} is not JSON: {error}")
    if not isinstance(item, dict):
        return Job(number, None, f"line {number} is not a JSON object")
    job_id = item.get("id", number)
    if not isinstance(job_id, (str, int, float)) or isinstance(job_id, bool):
        return Job(number, None, f"line {number}: id must be a string or a number")
    if isinstance(item.get("prompt"), str):
        return Job(job_id, item["prompt"])
    if isinstance(item.get("messages"), list):
        return Job(job_id, item["messages"])
    return Job(job_id, None, 'expected "prompt" (a string) or "messages" (a list)')


def _answered(path: Path, compact: bool = True) -> set[str]:
    """The ids answered in OUT; with ``compact``, OUT is rewritten without the rest.

    Failed lines are retried, so dropping them keeps one line per id; so is a
    torn last line (power lost mid-write). The rewrite is atomic: a crash
    leaves the old file whole.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return set()
    done: set[str] = set()
    kept: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "id" in item and isinstance(item.get("text"), str):
            key = _id_key(item["id"])
            if key not in done:
                done.add(key)
                kept.append(line)
    text = "".join(line + "\n" for line in kept)
    if compact and text.encode() != raw:
        _write_atomically(path, text)
    return done


def _append(fd: int, record: dict[str, Any]) -> None:
    # One write(2) of the whole line on an O_APPEND descriptor: no buffer to
    # lose on a crash, and never part of a line in the file.
    data = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode())
    while data:
        data = data[os.write(fd, data) :]


async def _answer(client: AsyncClient, job: Job) -> dict[str, Any]:
    record: dict[str, Any] = {"id": job.id}
    if job.messages is None:
        record.update(error=job.error, error_type="InputError", model=client.model)
        return record
    try:
        reply = await client.chat(job.messages)
    except (QwenSpacesError, TypeError, ValueError) as error:
        record.update(error=" ".join(str(error).split()), error_type=type(error).__name__)
        record["model"] = client.model
        partial = getattr(error, "partial_text", "")
        if partial:
            record["partial_text"] = partial
        return record
    record.update(text=reply.text, model=reply.model, timings=_timings(reply))
    return record


async def _run_batch(
    args: argparse.Namespace, jobs: list[Job], total: int, fd: int
) -> tuple[int, int]:
    import asyncio

    from tqdm import tqdm

    from .async_client import AsyncClient

    semaphore = asyncio.Semaphore(args.concurrency)
    counts = {"ok": 0, "failed": 0}
    bar = tqdm(
        total=total, initial=total - len(jobs), unit="line", file=sys.stderr,
        disable=not _wants_status(args), dynamic_ncols=True,
    )
    try:
        async with AsyncClient(
            args.model or DEFAULT_MODEL, base_url=args.base_url, timeout=args.timeout
        ) as client:

            async def run(job: Job) -> None:
                async with semaphore:
                    record = await _answer(client, job)
                # No await from here on: a cancel cannot come between the answer
                # and its line, so a finished answer is always written.
                _append(fd, record)
                counts["failed" if "error" in record else "ok"] += 1
                bar.set_postfix(failed=counts["failed"], refresh=False)
                bar.update(1)

            # return_exceptions: on Ctrl-C gather then waits for every task to
            # finish cancelling (each tells the Space to stop its answer, which
            # needs the client still open) instead of returning at the first.
            results = await asyncio.gather(*(run(job) for job in jobs), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result  # a bug: every expected failure is a line in OUT
    finally:
        bar.close()
    return counts["ok"], counts["failed"]


def _batch(args: argparse.Namespace) -> int:
    import asyncio

    jobs = _read_jobs(args.input)
    try:
        done = _answered(args.output)
        fd = os.open(args.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise UsageError(f"cannot write {args.output}: {error}") from None
    todo = [job for job in jobs if job.key not in done]
    skipped = len(jobs) - len(todo)
    try:
        ok, failed = asyncio.run(_run_batch(args, todo, len(jobs), fd))
    except KeyboardInterrupt:
        answered = len({job.key for job in jobs} & _answered(args.output, compact=False))
        print(
            f"interrupted: {answered} of {len(jobs)} answered in {args.output}; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        os.close(fd)
    already = f", {skipped} already answered" if skipped else ""
    retry = " (run again to retry them)" if failed else ""
    print(f"{ok} answered, {failed} failed{retry}{already} -> {args.output}", file=sys.stderr)
    return EXIT_ERROR if failed else EXIT_OK


# --- models ------------------------------------------------------------------------------


def _models(args: argparse.Namespace) -> int:
    specs = [resolve_model(args.model)] if args.model else list(SPACES)
    rows = [("MODEL", "SPACE", "ALIASES")]
    rows += [(s.model, args.base_url or s.url, ", ".join(s.aliases)) for s in specs]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
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
            model, base_url=args.base_url, timeout=args.timeout or CHECK_TIMEOUT, max_retries=0
        ) as client:
            client.chat("Reply with the single word OK.")
    except QwenSpacesError as error:
        return f"error: {_one_line(error)}"
    return f"ok ({time.monotonic() - started:.1f} s)"
