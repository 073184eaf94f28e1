"""``qwen-spaces chat``: an interactive conversation."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._client.sync_client import Conversation
from .._errors import QwenSpacesError
from .._events import ConversationState
from .._files import file_size
from .._spaces.spaces import resolve_model
from .common import (
    COMMAND_HELP,
    EXIT_OK,
    TextPrinter,
    UsageError,
    check_text,
    check_thinking_flags,
    host_of,
    make_client,
    one_line,
    reasoning_printer,
    show_stream,
    shown,
    start,
    write_atomically,
)
from .status import StatusLine

CHAT_PROMPT = "you> "
CHAT_HELP = """\
commands:
  /reset          forget the conversation (keeps the system prompt)
  /system TEXT    start over with TEXT as the system prompt (/system alone shows it)
  /save FILE      save the conversation as JSON (model, session_hash, messages)
  /load FILE      continue a saved conversation
  /file PATH      attach a document to the next message (qwen-2.5-1m; /file alone lists
                  them, /file clear drops them)
  /think on|off   a Qwen3 model thinks before answering, or not (/think alone shows which)
  /help           this help
  /exit           leave (or Ctrl-D)
Ctrl-C stops an answer and cancels it on the Space. Start a message with // to send a literal /."""


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
        self.client = make_client(args)
        check_thinking_flags(args, self.client.model)
        self.conversation: Conversation = self.client.conversation(
            system=args.system, thinking=args.thinking
        )
        self.files: list[str] = []  # attached to the next message

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
                except UnicodeDecodeError as error:  # stdin decoded strictly, not in UTF-8
                    print(f"error: that line is not UTF-8 text ({error.reason})", file=sys.stderr)
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
        where = host_of(self.client.base_url)
        status = StatusLine(sys.stderr, where) if sys.stderr.isatty() else None
        try:
            # The turn joins the conversation only if the answer completes.
            text = check_text(text, "that line")  # a terminal or pipe not in UTF-8
            with start(self.client, text, self.files, self.conversation, self._args) as stream:
                show_stream(stream, printer, status, reasoning_printer())
            self.files = []  # sent with that message
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
        except KeyboardInterrupt:
            # Leaving the with block closed the stream: the Space was told to stop.
            print("[stopped; this turn is not kept]", file=sys.stderr)
        except QwenSpacesError as error:
            print(f"error: {one_line(error)}", file=sys.stderr)

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
                self.conversation = self.client.conversation(
                    system=rest, thinking=self.conversation.thinking
                )
                print("(new conversation with this system prompt)")
            else:
                print(self.conversation.state.system or "(no system prompt)")
        elif name in ("/save", "/load") and not rest:
            print(f"usage: {name} FILE", file=sys.stderr)
        elif name == "/file":
            self._attach(rest)
        elif name == "/think":
            self._think(rest)
        elif name == "/save":
            self._save(Path(rest).expanduser())
        elif name == "/load":
            self._load(Path(rest).expanduser())
        else:
            print(f"unknown command {name}: /help lists them", file=sys.stderr)
        return True

    def _think(self, rest: str) -> None:
        if not rest:
            mode = self.conversation.thinking
            print("thinking: " + {True: "on", False: "off", None: "the Space's default (on)"}[mode])
            return
        if rest not in ("on", "off"):
            print("usage: /think on|off", file=sys.stderr)
            return
        try:
            self.conversation.thinking = rest == "on"
        except ValueError:
            print(
                f"error: {self.client.model} has no thinking mode; /think needs a Qwen3 "
                "model (-m qwen-3-235b ...)",
                file=sys.stderr,
            )
            return
        print(f"(thinking {rest} from the next message)")

    def _attach(self, path: str) -> None:
        if not path:
            print("(attached: " + (", ".join(map(shown, self.files)) or "nothing") + ")")
            return
        if path == "clear":
            self.files = []
            print("(attachments cleared)")
            return
        if not resolve_model(self.client.model).adapter.takes_files:
            print(
                f"error: {self.client.model} reads no files; /file needs -m qwen-2.5-1m",
                file=sys.stderr,
            )
            return
        path = os.path.expanduser(path)
        try:
            file_size(path)
        except ValueError as error:
            print(f"error: /file {shown(path)}: {error}", file=sys.stderr)
            return
        self.files.append(path)
        print(f"(attached {shown(path)} to the next message)")

    def _save(self, path: Path) -> None:
        state = self.conversation.state
        try:
            text = json.dumps(state.to_dict(), ensure_ascii=False, indent=2)
            write_atomically(path, text + "\n")
        except OSError as error:
            reason = error.strerror or one_line(error)
            print(f"error: cannot save to {shown(str(path))}: {reason}", file=sys.stderr)
            return
        print(f"(saved {len(state.messages)} messages to {shown(str(path))})")

    def _load(self, path: Path) -> None:
        try:
            state = ConversationState.from_dict(json.loads(path.read_text(encoding="utf-8")))
            model = resolve_model(state.model).model
            if model != self.client.model:
                if self._args.base_url:  # that URL serves this session's model only
                    raise ValueError(
                        f"it is a {model} conversation, and {self._args.base_url} serves "
                        f"{self.client.model}"
                    )
                self.client.close()
                self.client = make_client(self._args, model)
                self.files = []
            # The same Space session: the 1M Space keeps the history there.
            conversation = self.client.conversation(state=state)
        except (OSError, ValueError, TypeError) as error:
            print(f"error: cannot load {path}: {one_line(error)}", file=sys.stderr)
            return
        self.conversation = conversation
        print(f"(loaded {len(conversation.state.messages)} messages, model {model})")


def run(args: argparse.Namespace) -> int:
    return ChatSession(args).run()


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``chat`` command to the subparsers ``commands``."""
    command = commands.add_parser(
        "chat",
        parents=parents,
        help=COMMAND_HELP["chat"],
        description="An interactive conversation. " + CHAT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("-s", "--system", default=None, help="a system prompt")
    command.set_defaults(run=run)
