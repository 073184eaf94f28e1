"""SSE decoders on the same bytes: sseclient-py 1.9.0 vs ``qwen_spaces._gradio.sse.SSEDecoder``.

    python -m benchmarks.sse_decoders [--quick] [--markdown]

(``benchmarks.run`` runs it the same way, in a fresh process: ``section`` below.)

The bytes are what a Gradio 5 server sends for one streamed answer: 5,000
``process_generating`` messages each carrying one ``append`` diff, then
``process_completed``, in Gradio's own framing (``data: <json>\\n\\n``). They are
fed to each decoder

- one event per chunk (a server flushing each message, a client keeping up),
- in 64 KiB reads (a client that fell behind),
- cut at random sizes of 1 B to 4 KiB (boundaries anywhere, mid-character too),

and, to show how each copes with a large event, one 20 MiB event dribbled in
64 KiB chunks: as Gradio frames it (one ``data:`` line) and as a multi-line
event (1 KiB ``data:`` lines, which SSE allows). A decoder still running after
the time bound is stopped and reported as "> bound".

sseclient-py is installed only for this comparison (``pip install
sseclient-py==1.9.0``); it is not a dependency of qwen_spaces.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

from benchmarks.harness import CLIENT_CPU, ROOT, Plan, log, pin

CHUNK = 64 * 1024


def gradio_stream(n: int) -> tuple[bytes, list[bytes]]:
    """n append messages and the completion, framed as Gradio frames them; and the payloads."""
    event_id = "5d1d8b3e1f2a4c6b9a7e0c3d2b1a0f9e"
    words = ["ha", " ", "naïve", " café", " ☕", " 你好", " ✓", "\n", "the", " answer"]
    payloads = []
    common = {
        "is_generating": True,
        "duration": 0.01,
        "average_duration": 0.01,
        "render_config": None,
        "changed_state_ids": [],
    }
    first = {
        "msg": "process_generating",
        "event_id": event_id,
        "output": {"data": ["", [["hi", "ha"]], "You are a helpful assistant."], **common},
        "success": True,
        "time_limit": None,
    }
    payloads.append(json.dumps(first).encode())
    text = ["ha"]
    for i in range(n):
        word = words[i % len(words)]
        text.append(word)
        message = {
            "msg": "process_generating",
            "event_id": event_id,
            "output": {"data": [[], [["append", [0, 1], word]], []], **common},
            "success": True,
            "time_limit": None,
        }
        payloads.append(json.dumps(message).encode())
    done = {
        "msg": "process_completed",
        "event_id": event_id,
        "output": {
            "data": ["", [["hi", "".join(text)]], "You are a helpful assistant."],
            "is_generating": False,
            "duration": 1.0,
            "average_duration": 1.0,
            "render_config": None,
            "changed_state_ids": [],
        },
        "success": True,
        "title": None,
    }
    payloads.append(json.dumps(done).encode())
    return b"".join(b"data: " + p + b"\n\n" for p in payloads), payloads


def per_event(stream: bytes) -> list[bytes]:
    return [part + b"\n\n" for part in stream.split(b"\n\n") if part]


def fixed(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def random_cuts(stream: bytes, seed: int = 4) -> list[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(stream):
        size = rng.randint(1, 4096)
        out.append(stream[i : i + size])
        i += size
    return out


def big_event(size: int, line: Optional[int]) -> tuple[bytes, bytes]:
    """One event of about ``size`` bytes of data: one line, or lines of ``line`` bytes."""
    body = json.dumps(
        {"msg": "process_generating", "output": {"data": ["x" * (size - 64)]}}
    ).encode()
    if line is None:
        return b"data: " + body + b"\n\n", body
    lines = [body[i : i + line] for i in range(0, len(body), line)]
    return b"".join(b"data: " + piece + b"\n" for piece in lines) + b"\n", b"\n".join(lines)


# --- the decoders --------------------------------------------------------------------------


def run_sseclient(chunks: list[bytes]) -> list[str]:
    import sseclient

    class Source:  # what SSEClient expects: an iterable of bytes with close()
        def __init__(self, chunks: Iterable[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Any:
            return iter(self._chunks)

        def close(self) -> None:
            pass

    return [event.data for event in sseclient.SSEClient(Source(chunks)).events()]


def run_sdk(chunks: list[bytes], limit: int = 16 * 2**20) -> list[str]:
    from qwen_spaces._gradio.sse import SSEDecoder

    decoder = SSEDecoder(max_event_bytes=limit)
    out: list[str] = []
    for chunk in chunks:
        events = decoder.feed(chunk)
        if events:
            out.extend(events)
    return out


class Bound(Exception):
    pass


def timed(fn: Callable[[], list[str]], bound: float) -> tuple[Optional[float], Any]:
    """CPU seconds of fn(), or None if it ran past ``bound`` wall seconds (it is stopped)."""

    def stop(signum: int, frame: Any) -> None:
        raise Bound

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, bound)
    try:
        c0 = time.process_time()
        result = fn()
        return time.process_time() - c0, result
    except Bound:
        return None, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _markdown(plan: Plan) -> list[str]:
    """The SSE decoder micro-benchmark's own table (benchmarks/sse_decoders.py)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.sse_decoders", "--markdown", *plan.sse_args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=pin(CLIENT_CPU),
        )
    except subprocess.TimeoutExpired:
        return ["n/a: the SSE decoder benchmark timed out", ""]
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return [f"n/a: {tail[0][:300]}", ""]
    return [*done.stdout.rstrip().splitlines(), ""]


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The SSE decoders' section of the report (a table, no target), run in a fresh process."""
    log("SSE decoders")
    body = [
        "## SSE decoders: sseclient-py vs `qwen_spaces._gradio.sse.SSEDecoder`",
        "",
        "`python -m benchmarks.sse_decoders`: the same recorded bytes through each.",
        "",
        *_markdown(plan),
    ]
    return body, []


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--markdown", action="store_true", help="print only the Markdown table")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args(argv)
    quick = args.quick
    n = 500 if quick else 5000
    big = (2 if quick else 20) * 2**20
    bound = 5.0 if quick else 30.0
    runs = args.runs or (2 if quick else 5)
    try:
        import sseclient  # noqa: F401

        have_sseclient = True
    except ImportError:
        have_sseclient = False

    import qwen_spaces._gradio.sse  # noqa: F401  (imports outside the timed region)

    stream, payloads = gradio_stream(n)
    rows: list[list[str]] = []

    def compare(
        case: str, chunks: list[bytes], expected: list[bytes], count: int, big_case: bool
    ) -> None:
        figures: dict[str, str] = {}
        cpu: dict[str, Optional[float]] = {}
        for name, fn in (("sseclient-py", run_sseclient), ("SSEDecoder", run_sdk)):
            if name == "sseclient-py" and not have_sseclient:
                figures[name], cpu[name] = "not installed", None
                continue
            if name == "SSEDecoder" and big_case:
                limit = 2 * big

                def fn(chunks: list[bytes], limit: int = limit) -> list[bytes]:
                    return run_sdk(chunks, limit)

            samples = []
            for _ in range(1 if big_case else runs):
                seconds, result = timed(lambda fn=fn: fn(chunks), bound)
                if seconds is None:
                    samples = []
                    break
                if result != [payload.decode() for payload in expected]:
                    raise SystemExit(f"{name} decoded {case} wrongly")
                samples.append(seconds)
            if not samples:
                figures[name], cpu[name] = f"> {bound:.0f} s (stopped)", None
                continue
            med = statistics.median(samples)
            cpu[name] = med
            figures[name] = (
                f"{med * 1e3:,.1f} ms" if big_case else f"{med * 1e6 / count:.2f} µs/event"
            )
        a, b = cpu.get("sseclient-py"), cpu.get("SSEDecoder")
        if a is not None and b:
            speed = f"{a / b:.1f}x"
        elif a is None and b and have_sseclient:
            speed = f"> {bound / b:.0f}x"
        else:
            speed = "n/a"
        rows.append(
            [case, f"{len(chunks):,}", figures["sseclient-py"], figures["SSEDecoder"], speed]
        )

    count = len(payloads)
    compare(
        f"{count:,} Gradio messages, one event per chunk", per_event(stream), payloads, count, False
    )
    compare(
        f"{count:,} Gradio messages, 64 KiB reads", fixed(stream, CHUNK), payloads, count, False
    )
    compare(
        f"{count:,} Gradio messages, random cuts 1 B-4 KiB",
        random_cuts(stream),
        payloads,
        count,
        False,
    )
    mib = big // 2**20
    framed, body = big_event(big, None)
    compare(
        f"one {mib} MiB event (one `data:` line), 64 KiB chunks",
        fixed(framed, CHUNK),
        [body],
        1,
        True,
    )
    framed, body = big_event(big, 1024)
    compare(
        f"one {mib} MiB event (1 KiB `data:` lines), 64 KiB chunks",
        fixed(framed, CHUNK),
        [body],
        1,
        True,
    )

    # And the bound: with its default limit the SDK refuses an oversized event early.
    from qwen_spaces._errors import ProtocolError
    from qwen_spaces._gradio.sse import SSEDecoder

    limit = 16 * 2**20 if not quick else 2**20
    framed, _ = big_event(big, None)
    decoder = SSEDecoder(max_event_bytes=limit)
    c0 = time.process_time()
    fed = 0
    refused = False
    try:
        for chunk in fixed(framed, CHUNK):
            fed += len(chunk)
            decoder.feed(chunk)
    except ProtocolError:
        refused = True
    seconds = time.process_time() - c0
    note = (
        f"With `max_event_bytes={limit // 2**20} MiB` the SDK's decoder "
        + (
            f"refuses the {mib} MiB event after {fed / 2**20:.1f} MiB, in "
            f"{seconds * 1e3:.1f} ms (`ProtocolError`)"
            if refused
            else "did not refuse it"
        )
        + "; sseclient-py has no limit."
    )

    header = ["case", "chunks", "sseclient-py 1.9.0", "`SSEDecoder`", "SSEDecoder faster by"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        f"CPU time, median of {runs} runs (one run for the large events, stopped after "
        f"{bound:.0f} s). {note}",
    ]
    if not args.markdown:
        print(f"SSE decoders, Python {sys.version.split()[0]}\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
