"""Uploading a large file: each client against a bare streaming upload, side by side.

    python -m benchmarks.uploads            # 200 MB, 3 runs: prints a Markdown section
    python -m benchmarks.uploads --quick    # 16 MB, 1 run

The server is the fake 1M Space (``python -m qwen_spaces.testing serve --layout
1m``) in its own process, pinned apart from the clients; it streams each upload
to disk and its agent answers with the file's sha256, which is checked. Each
contender runs in a fresh interpreter:

- ``bare requests``: a hand-written multipart body streamed from the file by a
  generator (``requests.post(data=generator)``), the least a sync client does;
- ``bare aiohttp``: ``aiohttp.FormData`` with the open file, the least an
  asyncio client does;
- ``Client`` / ``AsyncClient``: a whole ``chat(..., files=[path])`` call
  (upload, add_text, join, the answer), so the SDK is charged for more.

Peak RSS growth is the process's high-water mark after the call less its RSS
before it (the mark is reset first through ``/proc/self/clear_refs``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any, Optional

from benchmarks.harness import CLIENT_CPU, Plan, Server, log, pin, run_json_worker
from benchmarks.report import TARGETS_HEADER, table, verdict

CONTENDERS = ("bare_requests", "qs_sync", "bare_aiohttp", "qs_async")
LABEL = {
    "bare_requests": "bare requests (streamed multipart generator)",
    "bare_aiohttp": "bare aiohttp (`FormData` with the open file)",
    "qs_sync": "qwen_spaces `Client.chat(files=[path])`",
    "qs_async": "qwen_spaces `AsyncClient.chat(files=[path])`",
}
FLOOR = {"qs_sync": "bare_requests", "qs_async": "bare_aiohttp"}
RSS_LIMIT_MB = 32.0
THROUGHPUT_LIMIT = 0.8
CHUNK = 1 << 20


def make_file(directory: str, size_mb: int) -> tuple[str, str]:
    """A file of ``size_mb`` MiB of varied bytes; its path and sha256."""
    path = os.path.join(directory, "upload.bin")
    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for i in range(size_mb):
            chunk = i.to_bytes(4, "big") + block[4:]
            f.write(chunk)
            digest.update(chunk)
    return path, digest.hexdigest()


# --- in the worker process -----------------------------------------------------------------


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _multipart(path: str, boundary: str) -> Iterator[bytes]:
    name = os.path.basename(path)
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def run_one(contender: str, url: str, path: str, sha: str) -> dict[str, Any]:
    """Upload once; the seconds, the RSS growth and whether the Space got the bytes."""
    import asyncio

    import qwen_spaces as qs

    ok = True
    if contender == "qs_async":
        import aiohttp
    _reset_peak()
    before = _rss_kb("VmRSS")
    started = time.perf_counter()
    if contender == "bare_requests":
        import requests

        boundary = uuid.uuid4().hex
        response = requests.post(
            f"{url}/upload",
            data=_multipart(path, boundary),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=600,
        )
        ok = response.status_code == 200 and len(response.json()) == 1
    elif contender == "bare_aiohttp":
        import aiohttp

        async def bare() -> bool:
            async with aiohttp.ClientSession() as session:
                form = aiohttp.FormData()
                with open(path, "rb") as f:
                    form.add_field("files", f, filename=os.path.basename(path))
                    async with session.post(f"{url}/upload", data=form) as response:
                        return response.status == 200 and len(await response.json()) == 1

        ok = asyncio.run(bare())
    elif contender == "qs_sync":
        with qs.Client("qwen-2.5-1m", base_url=url, timeout=600) as client:
            ok = sha in client.chat("Read", files=[path]).text
    else:

        async def sdk() -> bool:
            async with qs.AsyncClient("qwen-2.5-1m", base_url=url, timeout=600) as client:
                return sha in (await client.chat("Read", files=[path])).text

        ok = asyncio.run(sdk())
    seconds = time.perf_counter() - started
    peak = _rss_kb("VmHWM")
    return {"ok": ok, "seconds": seconds, "rss_growth_mb": (peak - before) / 1024}


# --- the driver ---------------------------------------------------------------------------


def worker(contender: str, url: str, path: str, sha: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.uploads", "--worker", contender, url, path, sha]
    return run_json_worker(cmd, 900, preexec=pin(CLIENT_CPU))


def section(plan: Plan) -> tuple[list[str], list[list[str]]]:
    """The Markdown section and the target rows (name, measured, limit, result)."""
    log("uploads")
    quick = plan.quick
    size_mb, runs = (16, 1) if quick else (200, 3)
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    with tempfile.TemporaryDirectory(prefix="qs-upload-bench-") as directory:
        path, sha = make_file(directory, size_mb)
        server = Server("1m", 1)
        # Not a benchmark-mode server: its agent echoes the query, file facts included.
        server.args = [a for a in server.args if a not in ("--tokens", "1")]
        with server:
            for run in range(runs):
                order = CONTENDERS[run % len(CONTENDERS) :] + CONTENDERS[: run % len(CONTENDERS)]
                for contender in order:
                    results[contender].append(worker(contender, server.url, path, sha))
    rows, targets = [], []
    throughput: dict[str, Optional[float]] = {}
    for contender in CONTENDERS:
        done = [r for r in results[contender] if r.get("ok")]
        if len(done) < len(results[contender]) or not done:
            errors = [r.get("error", "wrong answer") for r in results[contender] if not r.get("ok")]
            rows.append([LABEL[contender], f"n/a: {errors[:1]}", "", "", ""])
            throughput[contender] = None
            continue
        speeds = [size_mb / r["seconds"] for r in done]
        rss = [r["rss_growth_mb"] for r in done]
        throughput[contender] = statistics.median(speeds)
        floor = FLOOR.get(contender)
        x = (
            throughput[contender] / throughput[floor]  # type: ignore[operator]
            if floor and throughput.get(floor)
            else None
        )
        rows.append(
            [
                LABEL[contender],
                f"{statistics.median(speeds):.0f} [{min(speeds):.0f}-{max(speeds):.0f}]",
                f"{statistics.median(rss):.1f} [{min(rss):.1f}-{max(rss):.1f}]",
                "1 (floor)" if floor is None else f"{x:.2f}x" if x else "n/a",
                f"{statistics.median(r['seconds'] for r in done):.2f}",
            ]
        )
        if floor is not None:
            side = contender.replace("qs_", "")
            targets.append(
                [
                    f"{size_mb} MB upload, {side}: throughput vs {LABEL[floor]}",
                    f"{x:.2f}x" if x else "n/a",
                    f"≥ {THROUGHPUT_LIMIT}x",
                    verdict(None if x is None else x >= THROUGHPUT_LIMIT),
                ]
            )
            worst = max(rss)
            targets.append(
                [
                    f"{size_mb} MB upload, {side}: peak RSS growth",
                    f"{worst:.1f} MB",
                    f"< {RSS_LIMIT_MB:g} MB",
                    verdict(worst < RSS_LIMIT_MB),
                ]
            )
    for contender in CONTENDERS:
        if throughput[contender] is None and contender.startswith("qs_"):
            targets.append([f"{size_mb} MB upload, {contender}", "did not run", "", verdict(False)])
    body = [
        f"## Uploading a {size_mb} MB file",
        "",
        f"`python -m benchmarks.uploads`: median [min-max] of {runs} run(s), each contender "
        "in a fresh process, alternating; the fake 1M Space stores the upload on disk. "
        "Peak RSS growth is the high-water mark less the RSS before the call.",
        "",
        *table(["contender", "MB/s", "peak RSS growth MB", "x floor", "seconds"], rows),
    ]
    return body, targets


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=4, metavar=("CONTENDER", "URL", "PATH", "SHA"))
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_one(*args.worker)))
        return 0
    body, targets = section(Plan.of(args.quick))
    print("\n".join([*table(TARGETS_HEADER, targets), "", *body]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
