"""``qwen-spaces``: ask, chat, batch, models and serve from the command line.

Exit codes: 0 ok, 1 a Space or network error (one line on stderr; the
traceback too with ``--debug``), 2 a usage error, 130 interrupted (Ctrl-C);
``--help`` lists them with the environment variables read (``EPILOG``).

aiohttp and tqdm are imported only by ``batch``, and the server (with asyncio)
only by ``serve``, so the other commands start as fast as ``import qwen_spaces``
does: a one-shot ``ask`` pays for requests and nothing else. Each command is a
module of this package with its ``run(args)``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Optional

from .. import __version__
from .._client.client_core import DEFAULT_MODEL
from .._errors import QwenSpacesError
from .common import (
    COMMAND_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
    flush_or_silence_stdout,
    model_arg,
    one_line,
    positive_int_arg,
    seconds_arg,
    url_arg,
)

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    if argv is not None or not gc.isenabled():  # called from Python: its collector as it is
        return _main(list(argv) if argv is not None else sys.argv[1:], settle=False)
    # The process's own command line: most of what it makes, it makes importing, and
    # that lives as long as it does. The collector would walk it some forty times for
    # nothing (several ms of a cold `ask`): import with it off, then freeze what was
    # made (never walked again) and turn it on before the command runs (_settle).
    gc.disable()
    try:
        return _main(sys.argv[1:], settle=True)
    finally:
        gc.enable()


# The commands whose first request would import requests (sync_adapter): imported
# before the collector is back on.
_ON_REQUESTS = frozenset({"ask", "chat"})


def _settle(command: Optional[str]) -> None:
    if command in _ON_REQUESTS:
        from .._transports import sync_adapter  # noqa: F401  # imports requests
    gc.freeze()
    gc.enable()


def _main(argv: list[str], settle: bool) -> int:
    named = _command(argv)
    parser = _parser(named if named in COMMAND_HELP else "")  # "": no command's parser
    args = parser.parse_args(argv)
    if settle:
        _settle(named)
    debug: bool = args.debug
    if debug:
        logging.basicConfig(
            level=logging.DEBUG,
            stream=sys.stderr,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    try:
        _from_environment(args)
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
        print(f"{PROG}: {one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        flush_or_silence_stdout()


# A flag not given takes its variable's value, checked as the flag's would be.
_VARIABLES = (
    ("model", "QWEN_SPACES_MODEL", model_arg),
    ("base_url", "QWEN_SPACES_BASE_URL", url_arg),
)


def _from_environment(args: argparse.Namespace) -> None:
    for name, variable, check in _VARIABLES:
        value = os.environ.get(variable)
        if value and hasattr(args, name) and getattr(args, name) is None:
            try:
                setattr(args, name, check(value))
            except argparse.ArgumentTypeError as error:
                raise UsageError(f"${variable}: {error}") from None


EPILOG = f"""\
exit codes:
  {EXIT_OK}    ok
  {EXIT_ERROR}    a Space or network error (one line on stderr; the traceback with --debug)
  {EXIT_USAGE}    a usage error: a flag, an argument or the input
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)

environment:
  QWEN_SPACES_MODEL      the model when -m/--model is not given
  QWEN_SPACES_BASE_URL   the Space when --base-url is not given
  HF_TOKEN               a private Space's token; else the one `hf auth login` stored
                         ($HF_TOKEN_PATH, $HF_HOME/token, ~/.cache/huggingface/token)
  QWEN_SPACES_CACHE      off: no discovery cache (the Space's /config read every run)
  QWEN_SPACES_CACHE_DIR  where the discovery cache lives
  QWEN_SPACES_LOG        DEBUG, INFO or WARNING: log to stderr
  QWEN_SPACES_API_KEY    serve: the key clients must send (--api-key)
  HTTPS_PROXY, NO_PROXY  proxies; REQUESTS_CA_BUNDLE, SSL_CERT_FILE: CA bundles
  NO_COLOR               set: no colour (the reasoning is not dimmed)

`{PROG} COMMAND --help` for a command's options; `{PROG} completion bash|zsh|fish`.
"""


def _command(argv: Sequence[str]) -> Optional[str]:
    """The command named in ``argv``: the top level's options take no value."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


# Where each command's add_parser and run are; serve's imports asyncio (and aiohttp
# when it runs), hence the parser of the command run alone.
_MODULES = {
    "ask": ".ask",
    "chat": ".chat",
    "batch": ".batch",
    "models": ".models",
    "completion": ".completion",
    "serve": ".._server.command",
}


def _parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The command line's parser: every command's, or only ``command``'s (the one run)."""
    # --debug is accepted before or after the command; SUPPRESS keeps the
    # subcommand's default from overwriting a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log at DEBUG level and show tracebacks",
    )
    space = argparse.ArgumentParser(add_help=False)
    space.add_argument(
        # The environment's values fill in after parsing (_from_environment),
        # so that an error in one names the variable, not the flag.
        "-m",
        "--model",
        type=model_arg,
        default=None,
        help=f"a model name or alias (default $QWEN_SPACES_MODEL, else {DEFAULT_MODEL}; "
        f"see `{PROG} models`)",
    )
    space.add_argument(
        "--base-url",
        type=url_arg,
        default=None,
        help="another Space: a duplicate or a local server (default $QWEN_SPACES_BASE_URL)",
    )
    space.add_argument(
        "--timeout",
        type=seconds_arg,
        default=None,
        metavar="S",
        help="cap every time limit of a call at S seconds",
    )
    # Only the commands that ask a model themselves: serve takes thinking per request.
    thinking = argparse.ArgumentParser(add_help=False)
    thinking.add_argument(
        "--no-think",
        dest="thinking",
        action="store_const",
        const=False,
        default=None,
        help="a Qwen3 model answers without thinking first (default: it thinks)",
    )
    thinking.add_argument(
        "--thinking-budget",
        type=positive_int_arg,
        default=None,
        metavar="N",
        help="cap a Qwen3 model's thinking at N tokens (1 to 38912; rounded up to 1024s)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Qwen's chat models on Hugging Face Spaces, from the shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", default=False, help="log at DEBUG level and show tracebacks"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, line in COMMAND_HELP.items():
        if command is None or name == command:
            module = importlib.import_module(_MODULES[name], __name__)
            parents = {"completion": [debug], "models": [debug, space], "serve": [debug, space]}
            module.add_parser(commands, parents.get(name, [debug, space, thinking]))
        else:  # listed in --help, not built: its module is not imported
            commands.add_parser(name, help=line, add_help=False)
    return parser
