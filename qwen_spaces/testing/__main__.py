"""``python -m qwen_spaces.testing serve``: a FakeSpace in its own process.

Prints one line, ``READY http://127.0.0.1:PORT``, then serves until SIGTERM or
SIGINT. For benchmarks and for trying a client by hand.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Optional

from ._server import FakeSpace

log: logging.Logger = logging.getLogger("qwen_spaces.testing")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qwen_spaces.testing", description="Serve a fake Qwen Space."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve on 127.0.0.1 until SIGTERM/SIGINT")
    serve.add_argument("--layout", choices=("max", "1m", "qwen3", "qwen2.5"), default="max")
    serve.add_argument(
        "--gradio", type=int, choices=(4, 5, 6), default=None, help="default: the real Space's"
    )
    serve.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    serve.add_argument("--shift-ids", action="store_true", help="every id in /config moved by one")
    serve.add_argument("--answer", default=None, help="the fixed answer (default: an echo)")
    serve.add_argument("--reasoning", default=None, help="qwen3: the fixed reasoning")
    serve.add_argument("--chunk-size", type=int, default=3)
    serve.add_argument("--delay", type=float, default=0.0)
    serve.add_argument("--tokens", type=int, default=None, help="benchmark: N diffs, no delay")
    serve.add_argument("--token-text", default="ha ")
    serve.add_argument("--footer", action="store_true", help="1M's changing summary footer")
    serve.add_argument("--heartbeat-interval", type=float, default=15.0)
    serve.add_argument("--max-stream-seconds", type=float, default=300.0)
    serve.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    kwargs = {} if args.answer is None else {"answer": args.answer}
    if args.reasoning is not None:
        kwargs["reasoning"] = args.reasoning
    space = FakeSpace(
        layout=args.layout,
        gradio=args.gradio,
        chunk_size=args.chunk_size,
        delay=args.delay,
        footer=args.footer,
        tokens=args.tokens,
        token_text=args.token_text,
        heartbeat_interval=args.heartbeat_interval,
        max_stream_seconds=args.max_stream_seconds,
        port=args.port,
        shift_ids=args.shift_ids,
        **kwargs,
    )
    # Block the signals before the server thread starts (it inherits the
    # mask), so that only sigwait below receives them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    space.start()
    try:
        sys.stdout.write(f"READY {space.url}\n")
        sys.stdout.flush()
        received = signal.sigwait(stop_signals)
        log.info("stopping on %s", signal.Signals(received).name)
    finally:
        space.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
