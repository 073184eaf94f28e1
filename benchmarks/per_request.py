"""CPU per request on a keep-alive connection, by HTTP layer (a diagnostic for issue #13).

    python -m benchmarks.per_request [N]

Why the sync client sends through urllib3 and not requests: each of the 1M
Space's three requests before its first token pays its HTTP layer's CPU. The
replay server answers N POSTs of a queue/join body through each path, one
after another on one keep-alive connection; the figure is the process's CPU
time divided by N (twice each, alternating). Not part of ``make bench``: no
issue target rests on it.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
import urllib3

from benchmarks.harness import Server

BODY = {"data": [None, [], "hi"], "fn_index": 0, "session_hash": "abc", "trigger_id": 1}
PATH = "/gradio_api/queue/join"


def _cpu_per_call(fn: Callable[[], None], n: int) -> float:
    fn()  # connect, warm up
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    with Server("max", 20) as server:
        url = server.url + PATH
        parts = urlsplit(server.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        session = requests.Session()
        session.trust_env = False
        manager = urllib3.PoolManager()
        headers = {"Content-Type": "application/json"}

        def bare() -> None:
            conn.request("POST", PATH, json.dumps(BODY), headers)
            conn.getresponse().read()

        def via_urllib3() -> None:
            response = manager.urlopen(
                "POST",
                url,
                body=json.dumps(BODY).encode(),
                headers=headers,
                preload_content=False,
                retries=False,
            )
            response.read()
            response.release_conn()

        def via_requests() -> None:
            prepared = requests.PreparedRequest()
            prepared.prepare(method="POST", url=url, headers=dict(session.headers), json=BODY)
            response = session.send(prepared, stream=True, timeout=(10, 10))
            response.raw.read()
            response.close()

        paths = {
            "http.client (the latency floor's)": bare,
            "urllib3 PoolManager.urlopen (Client)": via_urllib3,
            "requests: prepare + Session.send (Client before #13)": via_requests,
        }
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(2):
            for name, fn in paths.items():
                results[name].append(_cpu_per_call(fn, n))
        print("| path | µs CPU a request |\n| --- | --- |")
        for name, values in results.items():
            print(f"| {name} | {' / '.join(f'{v:.0f}' for v in values)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
