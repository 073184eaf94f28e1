"""The replicas' fake model: a deterministic answer and how it is streamed.

Pure and stdlib-only, so the replica apps (in their Gradio venvs) and the
tests (in the dev venv) compute the very same text.
"""

from __future__ import annotations

import hashlib

#: The Max Space's default system prompt (also the SDK's default).
DEFAULT_SYSTEM = "You are a helpful assistant."

#: The 1M Space has no system prompt; its replica answers with this label.
ONEM_SYSTEM = "qwen2.5-1m"

#: The Qwen2.5 Space's default system prompt.
QWEN25_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

#: The status the 1M Space shows before the first answer chunk.
THINKING = "Qwen is thinking..."

# Chunk sizes cycle through these (1-4 characters), so an answer streams as
# many small appends and chunk boundaries fall inside repeated words.
_SIZES = (2, 1, 3, 4, 1, 2)


#: A query longer than this is answered with its length and digest instead of echoed: a
#: long-context prompt (megabytes) gets a short answer that still proves it arrived whole.
LONG_QUERY = 1_000_000


def expected_answer(query: str, turns: int, system: str) -> str:
    """The full answer to ``query`` after ``turns`` earlier user/assistant pairs.

    Repeated words ("ha ha ha" twice) catch de-duplicating parsers; the
    non-ASCII text catches byte-level chunking bugs.
    """
    return (
        f"[{system}] turn {turns}: you said «{quoted(query)}». "
        "ha ha ha — naïve café ☕ 你好 ✓ ha ha ha"
    )


def quoted(query: str) -> str:
    """``query`` as the answer quotes it: whole, or past ``LONG_QUERY`` characters its
    length and sha256."""
    if len(query) <= LONG_QUERY:
        return query
    digest = hashlib.sha256(query.encode("utf-8")).hexdigest()
    return f"{len(query)} characters, sha256 {digest}"


def sized_system(size: str, system: str) -> str:
    """The system string the Qwen2.5 replica answers with: the size radio's value, then the prompt."""
    return f"[{size}] {system}"


def file_fact(name: str, data: bytes) -> str:
    """What the 1M replica's agent says of a file it read: name, size and sha256."""
    return f"{name} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})"


def with_files(query: str, facts: list[str]) -> str:
    """The query as the agent answers it when files came with it."""
    return f"{query} [files: {'; '.join(facts)}]" if facts else query


def tokens(text: str) -> list[str]:
    """Split ``text`` into small chunks (1-4 characters); ''.join gives it back."""
    out: list[str] = []
    i = 0
    k = 0
    while i < len(text):
        size = _SIZES[k % len(_SIZES)]
        out.append(text[i : i + size])
        i += size
        k += 1
    return out


def footer(step: int, total: int) -> str:
    """The 1M replica's changing trailing block (not answer text)."""
    return f"\n<summary>chunk {step}/{total}</summary>"
