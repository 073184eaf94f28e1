"""`make demo`: a streamed chat through both clients.

By default against a local replica of the Qwen2.5-Max Space (a real Gradio 5
app with the Space's layout and a scripted model), so it runs with no network.
`python examples/demo.py --remote` talks to the real Space instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qwen_spaces as qs  # noqa: E402

PROMPT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello in three languages."},
]


@contextlib.contextmanager
def space(remote: bool) -> Iterator[str | None]:
    if remote:
        yield None  # the client's default: the real Space
        return
    from tests.support.replicas.launcher import start_replica

    print(
        "Starting a local replica of the Qwen2.5-Max Space (real Gradio 5, scripted model;"
        " no network needed; --remote for the real Space)...",
        file=sys.stderr,
    )
    with start_replica("max", 5) as replica:
        yield replica.url


def sync_demo(base_url: str | None) -> str:
    print("\n== Client (blocking), streamed ==")
    started = time.perf_counter()
    with qs.Client(model="qwen-2.5-max", base_url=base_url) as client:
        with client.stream(PROMPT) as stream:
            for event in stream:
                if isinstance(event, qs.TextDelta):
                    print(event.text, end="", flush=True)
                elif isinstance(event, qs.QueueStatus) and not event.started:
                    print(f"[queue: {event.rank} ahead]", file=sys.stderr)
            reply = stream.reply
    print(f"\n({len(reply.text)} characters in {time.perf_counter() - started:.2f} s)")
    return reply.text


async def async_demo(base_url: str | None) -> str:
    print("\n== AsyncClient, streamed ==")
    async with qs.AsyncClient(model="qwen-2.5-max", base_url=base_url) as client:
        stream = client.stream(PROMPT)
        async for text in stream.text_stream:
            print(text, end="", flush=True)
        reply = await stream.get_reply()
        print()
        conversation = client.conversation(system="Be brief.")
        await conversation.send("Hi!")
        follow_up = await conversation.send("And once more?")
        print(f"\n== a conversation of {len(conversation.messages)} messages ==\n{follow_up.text}")
    return reply.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--remote",
        action="store_true",
        default=bool(os.environ.get("QWEN_SPACES_DEMO_REMOTE")),
        help="use the real Space (needs network)",
    )
    args = parser.parse_args()
    try:
        with space(args.remote) as base_url:
            sync_text = sync_demo(base_url)
            async_text = asyncio.run(async_demo(base_url))
    except qs.QwenSpacesError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not sync_text or not async_text:
        print("error: an empty answer", file=sys.stderr)
        return 1
    print("\ndemo ok: both clients streamed a complete answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
