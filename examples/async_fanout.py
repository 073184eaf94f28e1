"""Ask several questions at once on one AsyncClient; print each answer as it finishes.

    python examples/async_fanout.py ["question" ...]

One client, one connection pool, the calls run concurrently (at most
CONCURRENCY at a time, to be kind to a shared Space). QWEN_SPACES_BASE_URL
and QWEN_SPACES_MODEL choose the Space and the model.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Union

import qwen_spaces as qs

PROMPTS = [
    "What is 2+2?",
    "Name three primary colours.",
    "Say 'good morning' in French.",
    "What is the capital of Japan?",
]
CONCURRENCY = 4


async def ask(
    client: qs.AsyncClient, limit: asyncio.Semaphore, prompt: str
) -> tuple[str, Union[qs.Reply, qs.QwenSpacesError]]:
    async with limit:
        try:
            return prompt, await client.chat(prompt)
        except qs.QwenSpacesError as error:  # one failed question does not stop the others
            return prompt, error


async def main(prompts: list[str]) -> int:
    started = time.perf_counter()
    failed = 0
    limit = asyncio.Semaphore(CONCURRENCY)
    async with qs.AsyncClient(
        model=os.environ.get("QWEN_SPACES_MODEL", "qwen-2.5-max"),
        base_url=os.environ.get("QWEN_SPACES_BASE_URL"),
    ) as client:
        for finished in asyncio.as_completed([ask(client, limit, p) for p in prompts]):
            prompt, result = await finished
            print(f"## {prompt}")
            if isinstance(result, qs.Reply):
                print(result.text, end="\n\n", flush=True)
            else:
                failed += 1
                print(f"error: {result}", end="\n\n", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"{len(prompts) - failed} of {len(prompts)} answered in {elapsed:.2f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:] or PROMPTS)))
