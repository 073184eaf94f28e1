"""``qwen-spaces serve``: the command line of the OpenAI-compatible server."""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import signal
import sys
from typing import Any, Optional

from .._client.client_core import DEFAULT_MODEL
from .._errors import redact
from .._gradio.space_url import check_base_url
from .._spaces.spaces import QWEN_1M, QWEN_MAX, SPACES, resolve_model
from .parse import BODY_BYTES_PER_CHAR, CHARS_PER_TOKEN, DEFAULT_MAX_MESSAGES, Limits

__all__ = ["add_parser", "run"]

log = logging.getLogger("qwen_spaces.server")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SHUTDOWN_SECONDS = 3.0

DESCRIPTION = """\
Serve the Qwen Spaces over OpenAI's chat-completions API, for any OpenAI client:
GET /v1/models, POST /v1/chat/completions (stream true or false), GET /health.

Request fields the Spaces have no knob for (temperature, max_tokens, top_p, stop,
seed, ...) are accepted and ignored; tools, images and n > 1 get a 400. A request
beyond --concurrency waits up to --queue-wait seconds for a slot, then gets 429
with Retry-After; one past --max-messages or --max-chars gets a 400 naming the limit.

Thinking (the qwen-3-* models): the reasoning comes as reasoning_content, apart
from the answer (delta.reasoning_content when streamed, message.reasoning_content
in a whole answer). Qwen's API fields turn it off and cap it: "enable_thinking":
false, "thinking_budget": N (tokens, 1 to 38912, rounded up to units of 1024;
with openai-python pass them in extra_body); "chat_template_kwargs":
{"enable_thinking": false} works too. reasoning_effort maps to budgets: none =
thinking off, minimal 1024, low 4096, medium 16384, high 38912 tokens. Without any
of them: thinking on at the Space's budget (38912). A wrong value, a contradiction
or a thinking field for a model without thinking gets a 400 naming the field.

Without an API key the server binds only loopback addresses (unless
--insecure-no-auth), and keeps web pages out: it answers only a Host header naming
it (127.0.0.1, localhost or [::1] with its port, or an --allowed-host), a POST only
with Content-Type: application/json (else 415), and a request with an Origin header
only from an --allow-origin (else 403)."""


def add_parser(subparsers: Any, parents: Optional[list[argparse.ArgumentParser]] = None) -> None:
    """Register ``serve`` on the CLI's subparsers; ``run`` is set as its action.

    ``parents`` are the CLI's shared options: ``--debug``, and ``--model``,
    ``--base-url``, ``--timeout`` (a cap on every time limit of a call).
    """
    serve = subparsers.add_parser(
        "serve",
        parents=parents or [],
        help="an OpenAI-compatible server in front of the Spaces",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    serve.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="require 'Authorization: Bearer KEY' (default $QWEN_SPACES_API_KEY)",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow binding a non-loopback address without an API key",
    )
    serve.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="MODEL=URL",
        type=_space,
        help="serve MODEL from the Space at URL (a duplicate or a local server); repeatable. "
        "Without it: --model at --base-url, else every model (or --model alone) at its "
        "public Space",
    )
    serve.add_argument(
        "--concurrency",
        type=_positive_int,
        default=32,
        metavar="N",
        help="requests read, parsed and answered at once (default 32)",
    )
    serve.add_argument(
        "--queue-wait",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="how long a request beyond --concurrency waits for a slot before its 429 "
        "(default 10; 0 answers 429 at once)",
    )
    serve.add_argument(
        "--max-body",
        type=_positive_int,
        default=None,
        metavar="BYTES",
        help=f"largest request body (default: {BODY_BYTES_PER_CHAR} bytes for each character of "
        f"the largest --max-chars served, plus 1 MiB: {_mb(QWEN_1M.model)} with {QWEN_1M.model}, "
        f"{_mb(QWEN_MAX.model)} with {QWEN_MAX.model} alone); larger ones get a 413",
    )
    serve.add_argument(
        "--max-messages",
        type=_positive_int,
        default=DEFAULT_MAX_MESSAGES,
        metavar="N",
        help=f"most messages in one request (default {DEFAULT_MAX_MESSAGES}); more get a 400",
    )
    serve.add_argument(
        "--max-chars",
        type=_positive_int,
        default=None,
        metavar="N",
        help="most characters of text in one request's messages, for every model (default: "
        f"each model's context at {CHARS_PER_TOKEN} characters a token: "
        f"{Limits().chars_for(QWEN_1M.model)} for {QWEN_1M.model}, "
        f"{Limits().chars_for(QWEN_MAX.model)} for {QWEN_MAX.model}; `qwen-spaces models` "
        "lists the contexts); more get a 400",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_seconds,
        default=30.0,
        metavar="S",
        help="how long a request body may take to arrive before a 408 (default 30)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_positive_seconds,
        default=15.0,
        metavar="S",
        help="close a connection that has not sent a whole request's headers within S seconds "
        "of opening or of its last answer: idle keep-alive and half-sent requests (default 15)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="without an API key, also answer this Host header (a name this machine has, or a "
        "reverse proxy's; without :PORT any port; '*' turns the check off); repeatable",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages at ORIGIN (such as https://app.example) call the server, with CORS "
        "headers; without it, a server without an API key refuses any Origin but its own "
        "('*' allows all); repeatable",
    )
    serve.add_argument(
        "--sessions",
        type=_positive_int,
        default=4096,
        metavar="N",
        help="1M and Qwen3 conversations remembered to continue their Space session (default 4096)",
    )
    serve.add_argument(
        "--max-retries",
        type=_count,
        default=2,
        metavar="N",
        help="retries of a call the Space refused before any answer (default 2)",
    )
    serve.set_defaults(run=run)


def _mb(model: str) -> str:
    """The default body limit of a server of ``model`` alone, in MB."""
    return f"{Limits().body_for([model]) / 1e6:.1f} MB"


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0-65535), got {value!r}")
    return int(value)


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return seconds


def _positive_seconds(value: str) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value!r}")
    return seconds


def _space(value: str) -> tuple[str, str]:
    model, sep, url = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected MODEL=URL, got {value!r}")
    try:
        return resolve_model(model).model, check_base_url(url, what="the URL")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def spaces_of(args: argparse.Namespace) -> dict[str, Optional[str]]:
    """model -> Space URL (None: the public Space).

    ``--space`` pairs if any; else ``--model`` at ``--base-url`` (their defaults,
    ``$QWEN_SPACES_MODEL`` and ``$QWEN_SPACES_BASE_URL``, keep their meaning for
    one model); else ``--model`` alone, or every model, at the public Spaces.
    """
    if args.space:
        return dict(args.space)
    model: Optional[str] = getattr(args, "model", None)
    base_url: Optional[str] = getattr(args, "base_url", None)
    if base_url:
        return {resolve_model(model or DEFAULT_MODEL).model: check_base_url(base_url)}
    if model:
        return {resolve_model(model).model: None}
    return {spec.model: None for spec in SPACES}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; the exit code."""
    from .app import ServerConfig  # imports aiohttp: only for this command

    api_key: Optional[str] = args.api_key or os.environ.get("QWEN_SPACES_API_KEY") or None
    if api_key is None and not args.insecure_no_auth and not _is_loopback(args.host):
        sys.stderr.write(
            f"qwen-spaces serve: refusing to bind {args.host} without an API key: pass "
            "--api-key (or set QWEN_SPACES_API_KEY), or --insecure-no-auth\n"
        )
        return EXIT_USAGE
    try:
        config = ServerConfig(
            spaces=spaces_of(args),
            api_key=api_key,
            concurrency=args.concurrency,
            queue_wait=args.queue_wait,
            max_body=args.max_body,
            sessions=args.sessions,
            max_messages=args.max_messages,
            max_chars=args.max_chars,
            body_timeout=args.body_timeout,
            idle_timeout=args.idle_timeout,
            allowed_hosts=args.allowed_host,
            allow_origins=args.allow_origin,
            timeout=getattr(args, "timeout", None),
            max_retries=args.max_retries,
        )
    except (ValueError, TypeError) as error:
        sys.stderr.write(f"qwen-spaces serve: {error}\n")
        return EXIT_USAGE
    # The server's lines and the clients' own INFO lines (a Space that lost a
    # conversation's session, ids reread) go to stderr, unless logging is set up.
    sdk = logging.getLogger("qwen_spaces")
    if not logging.getLogger().handlers and not any(
        not isinstance(h, logging.NullHandler) for h in (*log.handlers, *sdk.handlers)
    ):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        sdk.addHandler(handler)
        sdk.propagate = False
    for logger in (sdk, log):
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        asyncio.run(serve(config, args.host, args.port))
    except CannotListen as error:
        sys.stderr.write(f"qwen-spaces serve: {error}\n")
        return EXIT_FAILURE
    return EXIT_OK


class CannotListen(Exception):
    """The address or port cannot be bound; the message says why and what to do."""


def _listen_error(error: OSError, host: str, port: int) -> CannotListen:
    where = f"cannot listen on {host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return CannotListen(
            f"{where}: the port is already in use; choose another with --port N, or --port 0 "
            "for a free one"
        )
    if error.errno == errno.EACCES:
        return CannotListen(
            f"{where}: permission denied (ports below 1024 need privileges); use --port 0 "
            "or a port above 1023"
        )
    reason = error.strerror or str(error)
    return CannotListen(f"{where}: {reason}; check --host (an address of this machine)")


async def serve(config: Any, host: str, port: int) -> None:
    """Run the app on host:port until SIGINT/SIGTERM, then close it cleanly.

    Raises CannotListen when host:port cannot be bound.
    """
    from aiohttp import web

    from .app import SERVER, create_app
    from .idle import FirstRequestGuard
    from .logs import HTTP_LOGGER, install, uninstall

    redacting = install([config.api_key, os.environ.get("HF_TOKEN"), _stored_token()], log.handlers)
    app = create_app(config)
    guard = app[SERVER].first_request = FirstRequestGuard(config.idle_timeout)
    # handler_cancellation: a client that disconnects cancels its handler at
    # once, even while the answer waits in the Space's queue. keepalive_timeout
    # bounds a connection between its answers; the guard, one that has not sent
    # its first request's headers (aiohttp 3.14 does both, 3.13 only the first).
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=SHUTDOWN_SECONDS,
        keepalive_timeout=config.idle_timeout,
        logger=logging.getLogger(HTTP_LOGGER),
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        protocols = runner.server
        assert protocols is not None, "set up above"
        try:
            listening = await loop.create_server(guard.wrap(protocols), host, port)
        except OSError as error:
            raise _listen_error(error, host, port) from None
        bound = listening.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        lines = [
            f"qwen-spaces serve: http://{shown}:{bound[1]}/v1 "
            f"({'API key required' if config.api_key else 'no API key'})"
        ]
        width = max(len(m) for m in config.spaces)
        for model, url in config.spaces.items():
            where = redact(url) if url else f"{resolve_model(model).url} (public Space)"
            lines.append(f"  {model.ljust(width)}  {where}")
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        await stop.wait()
        log.info("shutting down")
        listening.close()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        uninstall(redacting, log.handlers)


def _stored_token() -> Optional[str]:
    """The token the clients will send without hf_token=, to redact it from the logs."""
    from .._client.hf_token import default_token

    try:
        return default_token()
    except ValueError:  # unusable in a header: the clients refuse it when they are built
        return None
