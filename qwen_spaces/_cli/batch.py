"""``qwen-spaces batch``: a JSONL file of prompts, answered resumably."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .._client.client_core import DEFAULT_MODEL
from .._client.messages import Messages
from .._client.progress import bar_file
from .._errors import QwenSpacesError
from .common import (
    COMMAND_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    check_thinking_flags,
    positive_int_arg,
    rounded_timings,
    wants_status,
    write_atomically,
)

if TYPE_CHECKING:
    from .._client.async_client import AsyncClient


@dataclass
class Job:
    """One input line: what to ask, or why it cannot be asked."""

    id: Any
    messages: Optional[Messages]
    line: int
    error: Optional[str] = None  # why the line cannot be asked

    @property
    def key(self) -> str:
        return _id_key(self.id)


def _id_key(value: Any) -> str:
    # JSON text as the key: 1 and "1" stay distinct ids, as in the files.
    return json.dumps(value, sort_keys=True)


def _read_jobs(path: Path) -> list[Job]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        job = _parse_job(line, number)
        if job.key in seen:
            raise UsageError(
                f"{path}:{number}: id {job.id!r} is also on line {seen[job.key]}; "
                "ids must be unique to resume"
            )
        seen[job.key] = number
        jobs.append(job)
    return jobs


def _parse_job(line: str, number: int) -> Job:
    try:
        item = json.loads(line)
    except ValueError as error:
        return Job(number, None, number, f"not JSON: {error}")
    if not isinstance(item, dict):
        return Job(number, None, number, "not a JSON object")
    job_id = item.get("id", number)
    if not isinstance(job_id, (str, int, float)) or isinstance(job_id, bool):
        return Job(number, None, number, "id must be a string or a number")
    if isinstance(item.get("prompt"), str):
        return Job(job_id, item["prompt"], number)
    if isinstance(item.get("messages"), list):
        return Job(job_id, item["messages"], number)
    return Job(job_id, None, number, 'expected "prompt" (a string) or "messages" (a list)')


def _answered(path: Path, compact: bool = True) -> set[str]:
    """The ids answered in OUT; with ``compact``, OUT is rewritten without the rest.

    Failed lines are retried, so dropping them keeps one line per id; so is a
    torn last line (power lost mid-write). The rewrite is atomic: a crash
    leaves the old file whole.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return set()
    done: set[str] = set()
    kept: list[str] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "id" in item and isinstance(item.get("text"), str):
            key = _id_key(item["id"])
            if key not in done:
                done.add(key)
                kept.append(line)
    text = "".join(line + "\n" for line in kept)
    if compact and text.encode() != raw:
        write_atomically(path, text)
    return done


def _append(fd: int, record: dict[str, Any]) -> None:
    # One write(2) of the whole line on an O_APPEND descriptor: no buffer to
    # lose on a crash, and never part of a line in the file.
    data = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode())
    while data:
        data = data[os.write(fd, data) :]


async def _answer(
    client: AsyncClient, job: Job, thinking: Optional[bool] = None, budget: Optional[int] = None
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": job.id}
    if job.messages is None:
        record.update(error=f"line {job.line}: {job.error}", error_type="InputError")
        record["model"] = client.model
        return record
    try:
        reply = await client.chat(job.messages, thinking=thinking, thinking_budget=budget)
    except (TypeError, ValueError) as error:  # the line's input: refused before sending
        text = " ".join(str(error).split())
        record.update(error=f"line {job.line}: {text}", error_type=type(error).__name__)
        record["model"] = client.model
        return record
    except QwenSpacesError as error:
        record.update(error=" ".join(str(error).split()), error_type=type(error).__name__)
        record["model"] = client.model
        partial = getattr(error, "partial_text", "")
        if partial:
            record["partial_text"] = partial
        return record
    record.update(text=reply.text, model=reply.model, timings=rounded_timings(reply))
    if reply.reasoning:
        record.update(reasoning=reply.reasoning, thinking_seconds=reply.thinking_seconds)
    return record


@dataclass
class Outcome:
    """What a run did: answers, lines of bad input, failures a rerun may fix."""

    ok: int = 0
    bad_input: list[tuple[int, str]] = field(default_factory=list)  # (line, error)
    retryable: int = 0

    @property
    def failed(self) -> int:
        return len(self.bad_input) + self.retryable


# error_type of a line that fails whatever the Space does: its input is wrong.
_INPUT_ERRORS = ("InputError", "ValueError", "TypeError")


async def _run_batch(args: argparse.Namespace, jobs: list[Job], total: int, fd: int) -> Outcome:
    import asyncio

    from tqdm import tqdm

    from .._client.async_client import AsyncClient

    semaphore = asyncio.Semaphore(args.concurrency)
    outcome = Outcome()
    # Into a log (--progress, stderr no terminal): a line per change, not \r frames.
    log = bar_file(sys.stderr, "{n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
    bar = tqdm(
        total=total,
        initial=total - len(jobs),
        unit="line",
        disable=not wants_status(args),
        **(log or {"file": sys.stderr, "dynamic_ncols": True}),
    )
    try:
        async with AsyncClient(
            args.model or DEFAULT_MODEL, base_url=args.base_url, timeout=args.timeout
        ) as client:

            async def answer(job: Job) -> None:
                async with semaphore:
                    record = await _answer(client, job, args.thinking, args.thinking_budget)
                # No await from here on: a cancel cannot come between the answer
                # and its line, so a finished answer is always written.
                _append(fd, record)
                if "error" not in record:
                    outcome.ok += 1
                elif record["error_type"] in _INPUT_ERRORS:
                    outcome.bad_input.append((job.line, record["error"]))
                else:
                    outcome.retryable += 1
                bar.set_postfix(failed=outcome.failed, refresh=False)
                bar.update(1)

            # return_exceptions: on Ctrl-C gather then waits for every task to
            # finish cancelling (each tells the Space to stop its answer, which
            # needs the client still open) instead of returning at the first.
            results = await asyncio.gather(*(answer(job) for job in jobs), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result  # a bug: every expected failure is a line in OUT
    finally:
        bar.close()
    outcome.bad_input.sort()
    return outcome


def run(args: argparse.Namespace) -> int:
    import asyncio

    check_thinking_flags(args, args.model or DEFAULT_MODEL)
    jobs = _read_jobs(args.input)
    try:
        done = _answered(args.output)
        fd = os.open(args.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, FileNotFoundError) and not args.output.parent.is_dir():
            reason = f"the directory {args.output.parent} does not exist"
        raise UsageError(f"cannot write {args.output}: {reason}") from None
    todo = [job for job in jobs if job.key not in done]
    skipped = len(jobs) - len(todo)
    try:
        outcome = asyncio.run(_run_batch(args, todo, len(jobs), fd))
    except KeyboardInterrupt:
        answered = len({job.key for job in jobs} & _answered(args.output, compact=False))
        print(
            f"interrupted: {answered} of {len(jobs)} answered in {args.output}; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        os.close(fd)
    for line in _summary(args, outcome, skipped):
        print(line, file=sys.stderr)
    return EXIT_ERROR if outcome.failed else EXIT_OK


_SHOWN_BAD_LINES = 10


def _summary(args: argparse.Namespace, outcome: Outcome, skipped: int) -> list[str]:
    """The end of a run: counts, then each bad line, then what a rerun would do."""
    already = f", {skipped} already answered" if skipped else ""
    lines = [f"{outcome.ok} answered, {outcome.failed} failed{already} -> {args.output}"]
    bad = outcome.bad_input
    # "line 3: ..." already names its line; each shown as IN:LINE: reason, as compilers do.
    lines += [
        f"{args.input}:{n}: {error.removeprefix(f'line {n}: ')}"
        for n, error in bad[:_SHOWN_BAD_LINES]
    ]
    if len(bad) > _SHOWN_BAD_LINES:
        lines.append(f'... and {len(bad) - _SHOWN_BAD_LINES} more (the "error" of each in OUT)')
    if bad:
        these = "this line" if len(bad) == 1 else f"these {len(bad)} lines"
        lines.append(
            f"rerunning will not fix {these}: correct {'it' if len(bad) == 1 else 'them'} "
            f"in {args.input}, then run again"
        )
    if outcome.retryable:
        lines.append(
            f"{outcome.retryable} failed at the Space or on the network: run again to retry "
            f"{'it' if outcome.retryable == 1 else 'them'}"
        )
    return lines


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``batch`` command to the subparsers ``commands``."""
    command = commands.add_parser(
        "batch",
        parents=parents,
        help=COMMAND_HELP["batch"],
        description='Each input line is {"id": ..., "prompt": "..."} or {"id": ..., '
        '"messages": [...]} (the id defaults to the line number). Answers are appended to OUT '
        "as they finish, one JSON line each (id, text or error, model, timings). Rerunning "
        "skips the ids already answered in OUT and retries the failed ones; a line whose "
        "input is wrong is named at the end (IN:LINE), for a rerun cannot fix it. Exits 1 "
        "if a line failed.",
    )
    command.add_argument("input", type=Path, metavar="IN.jsonl")
    command.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.jsonl")
    command.add_argument(
        "-c",
        "--concurrency",
        type=positive_int_arg,
        default=4,
        metavar="N",
        help="answers in flight at once (default 4)",
    )
    command.add_argument("--progress", action="store_true", help="the progress bar, always")
    command.set_defaults(run=run)
