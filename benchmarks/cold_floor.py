"""The cold CLI's floor: a fresh process that imports requests and makes the requests
``qwen-spaces ask`` makes with its discovery cache filled (issue 26).

    python benchmarks/cold_floor.py SPEC_JSON

SPEC_JSON (written by ``benchmarks/latency.py`` from the Space's ``/config``,
before any timing, as the filled cache holds the ids) is
``{"predict": [url, body] | null, "join": [url, body], "data": url}``; the
bodies' ``session_hash`` is replaced by a fresh one, and on the 1M layout the
join's chatbot by the one predict answers. The first ``process_generating``
message goes to stdout (its line, flushed: the first byte is what is timed),
then the stream is read to ``process_completed``, as the CLI does.

Run as a script, not ``-m``: it imports the standard library and requests only.
"""

import json
import os
import sys


def main() -> int:
    spec = json.loads(sys.argv[1])
    import requests

    session_hash = os.urandom(6).hex()
    out = sys.stdout.buffer
    with requests.Session() as session:
        chatbot = None
        if spec["predict"]:
            url, body = spec["predict"]
            body["session_hash"] = session_hash
            chatbot = session.post(url, json=body, timeout=60).json()["data"][1]
        url, body = spec["join"]
        body["session_hash"] = session_hash
        if chatbot:
            body["data"][0] = chatbot
        session.post(url, json=body, timeout=60).raise_for_status()
        shown = False
        with session.get(
            spec["data"],
            params={"session_hash": session_hash},
            headers={"Accept": "text/event-stream"},
            stream=True,
            timeout=60,
        ) as response:
            for line in response.iter_lines():
                if not line.startswith(b"data:"):
                    continue
                kind = json.loads(line[5:])["msg"]
                if kind == "process_generating" and not shown:
                    out.write(line + b"\n")
                    out.flush()
                    shown = True
                elif kind == "process_completed":
                    break
    return 0 if shown else 1


if __name__ == "__main__":
    sys.exit(main())
