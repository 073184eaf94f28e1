"""Many short 1M conversations against a replica: how often does a follow-up fail?

    .venvs/gradio4/bin/python tests/support/replicas/serve.py onem --port 18777 &
    QWEN_SPACES_CACHE=off .venv/bin/python tests/support/replicas/followup_stress.py \\
        http://127.0.0.1:18777 40 sync|async

Each conversation is three turns on one Space session. It prints the count of
conversations that ended well and of each error. Gradio 4 used to make about
one in a hundred follow-ups fail ("Tuple should have at most 2 items"): see
``gradio.is_diff``. Bounded: N conversations, each with a 60 s limit.
"""

from __future__ import annotations

import asyncio
import collections
import sys

import qwen_spaces as qs

MODEL = "qwen-2.5-1m"
TURNS = ("Hello there", "Again, ha!", "More?")


async def _async_conversation(url: str) -> None:
    async with qs.AsyncClient(model=MODEL, base_url=url, timeout=60, max_retries=0) as client:
        conversation = client.conversation(system="Be brief.")
        for text in TURNS:
            await conversation.send(text)


def _sync_conversation(url: str) -> None:
    with qs.Client(model=MODEL, base_url=url, timeout=60, max_retries=0) as client:
        conversation = client.conversation(system="Be brief.")
        for text in TURNS:
            conversation.send(text)


def main(argv: list[str]) -> int:
    url, count, mode = argv[0], int(argv[1]), argv[2]
    outcomes: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        try:
            if mode == "async":
                asyncio.run(_async_conversation(url))
            else:
                _sync_conversation(url)
            outcomes["ok"] += 1
        except qs.QwenSpacesError as exc:
            outcomes[str(exc)[:100]] += 1
    print(dict(outcomes))
    return 0 if outcomes["ok"] == count else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
