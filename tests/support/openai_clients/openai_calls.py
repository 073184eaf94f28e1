"""Real openai-python calls against a server; runs in the OpenAI venv, prints one JSON line.

    python openai_calls.py '{"base_url": ..., "api_key": ..., "model": ..., "calls": [...]}'

Each call is ``{"kind": K, "messages": [...], "extra": {...}}`` with K one of
sync_create, sync_stream, sync_helper, async_create, async_stream,
async_helper, load (``n`` concurrent async streams of ``prompt`` % i),
models. The answer per call: the text, reasoning, usage, finish reason,
chunk count, or the error (class name, its bases, status, message).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import openai


def error_of(exc: BaseException) -> dict[str, Any]:
    return {
        "class": type(exc).__name__,
        "bases": [c.__name__ for c in type(exc).__mro__],
        "status": getattr(exc, "status_code", None),
        "message": str(getattr(exc, "message", exc)),
        "body": getattr(exc, "body", None),
        "retry_after": (
            exc.response.headers.get("retry-after")
            if isinstance(exc, openai.APIStatusError)
            else None
        ),
    }


def usage_of(usage: Any) -> Any:
    return None if usage is None else usage.model_dump()


def from_completion(completion: Any) -> dict[str, Any]:
    message = completion.choices[0].message
    extra = message.model_extra or {}
    return {
        "text": message.content,
        "reasoning": extra.get("reasoning_content", ""),
        "finish_reason": completion.choices[0].finish_reason,
        "usage": usage_of(completion.usage),
        "id": completion.id,
        "model": completion.model,
    }


class Chunks:
    def __init__(self) -> None:
        self.text, self.reasoning, self.finish, self.usage, self.n, self.roles = (
            "",
            "",
            None,
            None,
            0,
            [],
        )

    def add(self, chunk: Any) -> None:
        self.n += 1
        if chunk.usage is not None:
            self.usage = usage_of(chunk.usage)
        for choice in chunk.choices:
            delta = choice.delta
            if delta.role:
                self.roles.append(delta.role)
            self.text += delta.content or ""
            self.reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            self.finish = choice.finish_reason or self.finish

    def result(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "finish_reason": self.finish,
            "usage": self.usage,
            "chunks": self.n,
            "roles": self.roles,
        }


def sync_call(client: openai.OpenAI, spec: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    kind, extra = call["kind"], call.get("extra", {})
    args = {"model": call.get("model", spec["model"]), "messages": call.get("messages"), **extra}
    if kind == "models":
        return {"models": [m.model_dump() for m in client.models.list()]}
    if kind == "sync_create":
        return from_completion(client.chat.completions.create(**args))
    if kind == "sync_stream":
        chunks = Chunks()
        for chunk in client.chat.completions.create(stream=True, **args):
            chunks.add(chunk)
        return chunks.result()
    if kind == "sync_helper":
        with client.chat.completions.stream(**args) as stream:
            text = "".join(event.delta for event in stream if event.type == "content.delta")
            final = stream.get_final_completion()
        return {**from_completion(final), "streamed": text}
    raise ValueError(kind)


async def async_call(
    client: openai.AsyncOpenAI, spec: dict[str, Any], call: dict[str, Any]
) -> dict[str, Any]:
    kind, extra = call["kind"], call.get("extra", {})
    args = {"model": call.get("model", spec["model"]), "messages": call.get("messages"), **extra}
    if kind == "async_create":
        return from_completion(await client.chat.completions.create(**args))
    if kind == "async_stream":
        chunks = Chunks()
        async for chunk in await client.chat.completions.create(stream=True, **args):
            chunks.add(chunk)
        return chunks.result()
    if kind == "async_helper":
        async with client.chat.completions.stream(**args) as stream:
            text = ""
            async for event in stream:
                if event.type == "content.delta":
                    text += event.delta
            final = await stream.get_final_completion()
        return {**from_completion(final), "streamed": text}
    if kind == "load":

        async def one(i: int) -> Any:
            messages = [{"role": "user", "content": call["prompt"] % i}]
            chunks = Chunks()
            try:
                async for chunk in await client.chat.completions.create(
                    model=args["model"], messages=messages, stream=True
                ):
                    chunks.add(chunk)
            except openai.OpenAIError as exc:
                return error_of(exc)
            return chunks.text

        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(call["n"]))), call.get("timeout", 60)
        )
        return {"results": results, "wall_s": time.monotonic() - started}
    raise ValueError(kind)


async def run_async(spec: dict[str, Any], calls: list[dict[str, Any]]) -> list[Any]:
    out = []
    async with openai.AsyncOpenAI(
        base_url=spec["base_url"],
        api_key=spec["api_key"],
        max_retries=spec.get("max_retries", 0),
        timeout=spec.get("timeout", 60),
    ) as client:
        for call in calls:
            try:
                out.append(await async_call(client, spec, call))
            except openai.OpenAIError as exc:
                out.append({"error": error_of(exc)})
    return out


def main() -> None:
    spec = json.loads(sys.argv[1])
    results: list[Any] = []
    client = openai.OpenAI(
        base_url=spec["base_url"],
        api_key=spec["api_key"],
        max_retries=spec.get("max_retries", 0),
        timeout=spec.get("timeout", 60),
    )
    with client:
        for call in spec["calls"]:
            if call["kind"].startswith(("sync_", "models")):
                try:
                    results.append(sync_call(client, spec, call))
                except openai.OpenAIError as exc:
                    results.append({"error": error_of(exc)})
            else:
                results.extend(asyncio.run(run_async(spec, [call])))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
