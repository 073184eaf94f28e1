"""openai-python conversations paused between turns (for a Space restart); runs in the OpenAI venv.

    python openai_restart.py '{"base_url": ..., "api_key": ..., "conversations": [...]}'

Each conversation is ``{"name", "model", "kind", "first", "follow", "extra"}``
with kind ``sync_create`` or ``async_stream`` (``openai_calls``' kinds). Every
conversation's turn one runs, then the line ``QWEN_SPACES_TURN_ONE {json}``
is printed and the script waits for a line on stdin (the test restarts the
Space meanwhile). Then each follow-up sends the whole history, as OpenAI
clients do (turn one, its answer, the new message), and the line
``QWEN_SPACES_RESULT {json}`` gives, per conversation, both turns' answers
(or the error).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import openai
from openai_calls import async_call, error_of, sync_call

TURN_ONE = "QWEN_SPACES_TURN_ONE"
RESULT = "QWEN_SPACES_RESULT"


def run(client: openai.OpenAI, spec: dict[str, Any], conv: dict[str, Any], messages: Any) -> Any:
    call = {"kind": conv["kind"], "messages": messages, "extra": conv.get("extra", {})}
    spec = {**spec, "model": conv["model"]}
    try:
        if conv["kind"].startswith("sync_"):
            return sync_call(client, spec, call)
        return asyncio.run(run_async(spec, call))
    except openai.OpenAIError as exc:
        return {"error": error_of(exc)}


async def run_async(spec: dict[str, Any], call: dict[str, Any]) -> Any:
    async with openai.AsyncOpenAI(
        base_url=spec["base_url"], api_key=spec["api_key"], max_retries=0, timeout=60
    ) as client:
        return await async_call(client, spec, call)


def main() -> None:
    spec = json.loads(sys.argv[1])
    conversations = spec["conversations"]
    out: dict[str, dict[str, Any]] = {}
    with openai.OpenAI(
        base_url=spec["base_url"], api_key=spec["api_key"], max_retries=0, timeout=60
    ) as client:
        for conv in conversations:
            first = [{"role": "user", "content": conv["first"]}]
            out[conv["name"]] = {"one": run(client, spec, conv, first)}
        print(TURN_ONE, json.dumps(out, ensure_ascii=False), flush=True)
        sys.stdin.readline()  # the test restarts the Space, then writes a line
        for conv in conversations:
            one = out[conv["name"]]["one"]
            history = [
                {"role": "user", "content": conv["first"]},
                {"role": "assistant", "content": one.get("text") or ""},
                {"role": "user", "content": conv["follow"]},
            ]
            out[conv["name"]]["two"] = run(client, spec, conv, history)
    print(RESULT, json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
