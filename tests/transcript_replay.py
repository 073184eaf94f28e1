"""Recorded exchanges with real Gradio servers, replayed without a network.

A transcript (tests/transcripts/*.json, made by tests/replicas/record.py from
real replicas) lists the HTTP exchanges of one call in order. One set drives
the pure layer (ChatCall fed directly), the sync client under `responses` and
the async client under `aioresponses`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qwen_spaces.events import Event, TextDelta
from qwen_spaces.protocol import ChatCall, Request

DIR = Path(__file__).parent / "transcripts"
BASE = "http://space.test"


def names() -> list[str]:
    return sorted(p.stem for p in DIR.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def turns(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    """A transcript is one call, or several calls of one session under "turns"."""
    return transcript.get("turns") or [transcript]


def model_of(transcript: dict[str, Any]) -> str:
    return "qwen-2.5-1m" if transcript["scenario"].startswith("onem") else "qwen-2.5-max"


def messages_of(turn: dict[str, Any]) -> list[dict[str, str]]:
    request = turn["request"]
    messages: list[dict[str, str]] = []
    if request.get("system"):
        messages.append({"role": "system", "content": request["system"]})
    for user, assistant in request.get("history") or []:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    messages.append({"role": "user", "content": request["query"]})
    return messages


def exchange_for(turn: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    path = urlsplit(url).path
    for exchange in turn["exchanges"]:
        if exchange["method"] == method and exchange["path"] == path:
            return exchange
    raise AssertionError(f"the transcript has no {method} {path}")


def chunks(data: bytes, size: int | None) -> list[bytes]:
    if not size:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


def replay_call(
    call: ChatCall,
    turn: dict[str, Any],
    chunk_size: int | None = None,
    sent: list[Request] | None = None,
) -> list[Event]:
    """Drive a ChatCall through a recorded turn, as a driver would, with no I/O.

    The requests the call made are appended to ``sent`` if given.
    """
    events: list[Event] = []
    while (request := call.next_request()) is not None:
        if sent is not None:
            sent.append(request)
        exchange = exchange_for(turn, request.method, request.url)
        body = exchange["body"].encode("utf-8")
        headers = {"Content-Type": exchange.get("content_type") or "application/json"}
        if call.on_headers(request, exchange["status"]):
            for chunk in chunks(body, chunk_size):
                events += call.feed(chunk)
                if call.finished:
                    break
            call.end_of_stream()
        else:
            call.on_response(request, exchange["status"], headers, body)
    return events


def joined(events: list[Event]) -> str:
    text = ""
    for event in events:
        if isinstance(event, TextDelta):
            text = text[: len(text) - event.backtrack] + event.text
    return text
