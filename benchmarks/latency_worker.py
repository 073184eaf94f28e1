"""The latency section's contenders (issue 13), each run in a fresh interpreter:

    python -m benchmarks.latency_worker worker '{"contender": "floor", "url": URL, ...}'

prints ``{"ok": true, "samples": [seconds to the first text delta, ...]}``. The top of this
module imports the standard library only, so gpt4free's venv (``.venvs/g4f``) can run it too;
each contender imports what it measures when it runs. ``benchmarks/latency.py`` runs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "hi"
SYSTEM = "You are a helpful assistant."
MODEL = {"max": "qwen-2.5-max", "1m": "qwen-2.5-1m"}
G4F_PROVIDER = {
    "max": ("g4f.Provider.hf_space.Qwen_Qwen_2_5_Max", "Qwen_Qwen_2_5_Max", "qwen-2-5-max"),
    "1m": ("g4f.Provider.hf_space.Qwen_Qwen_2_5M", "Qwen_Qwen_2_5M", "qwen-2.5-1m"),
}


def _known_ids(url: str, layout: str) -> Any:
    """The floor's ids, read from /config before any timing (it "knows" them)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.contenders import Layout  # stdlib only at the top here: the g4f venv

    return Layout(url, layout)


def floor(url: str, layout: str, runs: int) -> list[float]:
    """http.client: (predict,) join, stream; the first process_generating's arrival."""
    import http.client
    from urllib.parse import urlsplit

    proto = _known_ids(url, layout)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    prefix = urlsplit(proto.join_url(url)).path.rsplit("/queue/join", 1)[0]
    headers = {"Content-Type": "application/json"}
    samples = []
    for _ in range(runs):
        h = os.urandom(6).hex()
        start = time.perf_counter()
        chatbot = None
        if proto.predict is not None:
            conn.request(
                "POST", f"{prefix}/run/predict", json.dumps(proto.predict_body(h)), headers
            )
            chatbot = json.loads(conn.getresponse().read())["data"][1]
        conn.request(
            "POST", f"{prefix}/queue/join", json.dumps(proto.join_body(h, chatbot)), headers
        )
        conn.getresponse().read()
        conn.request(
            "GET", f"{prefix}/queue/data?session_hash={h}", headers={"Accept": "text/event-stream"}
        )
        response = conn.getresponse()
        first = None
        while line := response.readline():
            if line.startswith(b"data:"):
                kind = json.loads(line[5:])["msg"]
                if kind == "process_generating" and first is None:
                    first = time.perf_counter() - start
                elif kind == "process_completed":
                    break
        response.read()  # to the end of the body: the connection is reused
        assert first is not None, "no process_generating"
        samples.append(first)
    conn.close()
    return samples


def floor_requests(url: str, layout: str, runs: int) -> list[float]:
    """requests alone: (predict,) join, stream; the first process_generating's arrival."""
    import requests

    proto = _known_ids(url, layout)
    samples = []
    with requests.Session() as session:
        for r in range(runs + 1):  # the first opens the connection (as a warm client's)
            h = os.urandom(6).hex()
            start = time.perf_counter()
            chatbot = None
            if proto.predict is not None:
                answer = session.post(
                    proto.predict_url(url), json=proto.predict_body(h), timeout=60
                )
                chatbot = answer.json()["data"][1]
            session.post(proto.join_url(url), json=proto.join_body(h, chatbot), timeout=60)
            first = None
            with session.get(
                proto.data_url(url),
                params={"session_hash": h},
                stream=True,
                headers={"Accept": "text/event-stream"},
                timeout=60,
            ) as response:
                for line in response.iter_lines():
                    if line.startswith(b"data:"):
                        kind = json.loads(line[5:])["msg"]
                        if kind == "process_generating" and first is None:
                            first = time.perf_counter() - start
                        elif kind == "process_completed":
                            break
                for _ in response.iter_content(65536):  # to the end: the connection is reused
                    pass
            assert first is not None, "no process_generating"
            if r:
                samples.append(first)
    return samples


def qs_sync(url: str, layout: str, runs: int) -> list[float]:
    import qwen_spaces as qs

    samples = []
    with qs.Client(model=MODEL[layout], base_url=url, timeout=60) as client:
        for _ in range(runs + 1):  # the first warms the client (/config, connection)
            start, first = time.perf_counter(), None
            with client.stream(PROMPT) as stream:
                for event in stream:
                    if first is None and type(event) is qs.TextDelta:
                        first = time.perf_counter() - start
            assert first is not None, "no text"
            samples.append(first)
    return samples[1:]


def qs_async(url: str, layout: str, runs: int) -> list[float]:
    import qwen_spaces as qs

    async def main() -> list[float]:
        samples = []
        async with qs.AsyncClient(model=MODEL[layout], base_url=url, timeout=60) as client:
            for _ in range(runs + 1):
                start, first = time.perf_counter(), None
                async with client.stream(PROMPT) as stream:
                    async for event in stream:
                        if first is None and type(event) is qs.TextDelta:
                            first = time.perf_counter() - start
                assert first is not None, "no text"
                samples.append(first)
        return samples[1:]

    return asyncio.run(main())


def gradio_client(url: str, layout: str, runs: int) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    samples = []
    for _ in range(runs + 1):
        start, first = time.perf_counter(), None
        if layout == "max":
            job = client.submit(PROMPT, [], SYSTEM, fn_index=0)
        else:
            raise RuntimeError("no 1M layout: its add_text/agent_run chain is not one function")
        for _output in job:
            if first is None:
                first = time.perf_counter() - start
        if first is None:
            raise RuntimeError("no output")
        samples.append(first)
    return samples[1:]


def g4f(url: str, layout: str, runs: int) -> list[float]:
    import importlib

    module, name, model = G4F_PROVIDER[layout]
    provider = getattr(importlib.import_module(module), name)
    # Pointed at the proxy: its URLs are class attributes (the 1M one built from url).
    provider.url = url
    if layout == "max":
        provider.api_endpoint = f"{url}/gradio_api/queue/join?"
    else:
        provider.api_endpoint = f"{url}/run/predict?__theme=light"

    async def main() -> list[float]:
        samples = []
        for _ in range(runs + 1):
            start, first = time.perf_counter(), None
            async for chunk in provider.create_async_generator(
                model, [{"role": "user", "content": PROMPT}]
            ):
                if first is None and isinstance(chunk, str) and chunk:
                    first = time.perf_counter() - start
            if first is None:
                raise RuntimeError("no text")
            samples.append(first)
        return samples[1:]

    return asyncio.run(main())


CONTENDERS: dict[str, Callable[[str, str, int], list[float]]] = {
    "floor": floor,
    "floor_requests": floor_requests,
    "qs_sync": qs_sync,
    "qs_async": qs_async,
    "gradio_client": gradio_client,
    "g4f": g4f,
}


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        samples = CONTENDERS[spec["contender"]](spec["url"], spec["layout"], spec["runs"])
        return {"ok": True, "samples": samples}
    except Exception as exc:  # reported as n/a with the reason
        if os.environ.get("QS_BENCH_DEBUG"):
            traceback.print_exc()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


if __name__ == "__main__":
    if sys.argv[1:2] != ["worker"] or len(sys.argv) != 3:
        sys.exit("usage: python -m benchmarks.latency_worker worker SPEC_JSON")
    print(json.dumps(worker(json.loads(sys.argv[2]))))
