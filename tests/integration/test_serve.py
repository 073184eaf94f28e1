"""``qwen-spaces serve`` in front of real Gradio replicas, driven by real OpenAI clients.

The server runs as a subprocess pointed at the Max replica (Gradio 5) and the
1M replica (Gradio 4); openai-python and LangChain's ChatOpenAI run in their
own venv (``.venvs/openai``, built by make) as subprocess scripts. The fake
model's answer says what it received (the query, the earlier turns, the system
prompt), so an exact answer proves what reached the Space.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_spaces.payloads import flatten
from tests.replicas import fake_model
from tests.replicas.launcher import Replica
from tests.server.harness import KEY, Serve, openai_python, run_client, space_args

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
MAX = "qwen-2.5-max"
ONEM = "qwen-2.5-1m"


def max_answer(query: str, turns: int = 0, system: str = fake_model.DEFAULT_SYSTEM) -> str:
    return fake_model.expected_answer(query, turns, system)


def onem_answer(query: str, turns: int = 0) -> str:
    return fake_model.expected_answer(query, turns, fake_model.ONEM_SYSTEM)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.fixture(scope="module")
def served(max_g5: Replica, onem_g4: Replica) -> Iterator[Serve]:
    openai_python()  # fail or skip early when the client venv is missing
    with Serve("--api-key", KEY, *space_args([(MAX, max_g5.url), (ONEM, onem_g4.url)])) as serve:
        yield serve


def calls(serve: Serve, model: str, *items: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = run_client(
        "openai_calls", base_url=serve.base_url, api_key=KEY, model=model, calls=list(items)
    )
    return result


def test_openai_python_every_call_shape_gives_the_exact_answer(served: Serve) -> None:
    kinds = ["sync_create", "sync_stream", "sync_helper", "async_create", "async_stream",
             "async_helper"]
    results = calls(served, MAX, *({"kind": k, "messages": [user(f"{k} ☕ ha ha")]} for k in kinds))
    for kind, result in zip(kinds, results, strict=True):
        expected = max_answer(f"{kind} ☕ ha ha")
        assert "error" not in result, (kind, result)
        assert result["text"] == expected, kind
        assert result["finish_reason"] == "stop", kind
        if kind.endswith("helper"):
            assert result["streamed"] == expected  # content.delta events add up
        if kind.endswith("stream"):
            assert result["roles"] == ["assistant"]
            # One chunk per streamed piece (not one block at the end), plus role and stop.
            assert result["chunks"] >= len(fake_model.tokens(expected)) // 2
        if kind.endswith("create"):
            assert result["usage"]["total_tokens"] > 0  # an estimate, never missing


def test_history_goes_to_max_as_real_turns_with_openai_message_variants(served: Serve) -> None:
    history = [
        {"role": "system", "content": "Be brief — très.", "name": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "one"}], "name": "ann"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "two "}, {"type": "text", "text": "parts"}]},
    ]
    extra = {"temperature": 0.1, "max_tokens": 5, "top_p": 0.5, "seed": 1, "user": "u1"}
    stream_extra = {**extra, "stream_options": {"include_usage": True}}
    create, stream = calls(
        served, MAX,
        {"kind": "sync_create", "messages": history, "extra": extra},
        {"kind": "sync_stream", "messages": history, "extra": stream_extra},
    )
    expected = max_answer("two parts", 1, "Be brief — très.")
    assert create["text"] == stream["text"] == expected
    usage = stream["usage"]
    assert usage is not None and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_1m_conversation_sends_only_the_new_message_on_turns_2_and_3(served: Serve) -> None:
    first = onem_answer("first")
    second = onem_answer("second", 1)  # the Space got "second" alone, in the session of turn 1
    third = onem_answer("third", 2)
    turn2 = [user("first"), {"role": "assistant", "content": first}, user("second")]
    turn3 = [*turn2, {"role": "assistant", "content": second}, user("third")]
    one, two, three = calls(
        served, ONEM,
        {"kind": "sync_create", "messages": [user("first")]},
        {"kind": "sync_stream", "messages": turn2},
        {"kind": "async_create", "messages": turn3},
    )
    assert [one["text"], two["text"], three["text"]] == [first, second, third]
    # The 1M Space's status text comes as reasoning_content, never as content.
    assert one["reasoning"].startswith(fake_model.THINKING)
    assert two["reasoning"].startswith(fake_model.THINKING)

    # Turn 2's history was taken by turn 3's session: a new branch from it starts
    # a fresh session, with the history flattened into one prompt.
    fork = [*turn2[:2], user("other")]
    (branch,) = calls(served, ONEM, {"kind": "async_stream", "messages": fork})
    assert branch["text"] == onem_answer(flatten(fork))


def test_langchain_chat_openai_invoke_and_stream(served: Serve) -> None:
    messages = [{"role": "system", "content": "Short."}, user("LangChain ☕ ha ha")]
    result = run_client(
        "langchain_calls", base_url=served.base_url, api_key=KEY, model=MAX, messages=messages
    )
    expected = max_answer("LangChain ☕ ha ha", 0, "Short.")
    assert result["invoke"] == expected
    assert result["stream"] == expected
    assert result["stream_pieces"] > 3  # streamed, not one block


# --- the README's snippets ---------------------------------------------------------------


def readme_snippets() -> dict[str, str]:
    """The Python blocks of the README section "Use it from any OpenAI client", by first import."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    after = text.split("Use it from any OpenAI client\n", 1)[1]
    section = after.split("\n", 1)[1].split("\n-----", 1)[0]  # past the underline, to the next
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section)
    out = {}
    for block in blocks:
        code = "\n".join(line[3:] for line in block.splitlines())
        module = re.search(r"^from (\w+)", code, re.M)
        assert module is not None, code
        out[module.group(1)] = code
    return out


def test_readme_snippets_run_against_the_server(max_g5: Replica, onem_g4: Replica) -> None:
    snippets = readme_snippets()
    assert set(snippets) == {"openai", "langchain_openai"}
    python = openai_python()
    with Serve("--api-key", "my-key", *space_args([(MAX, max_g5.url), (ONEM, onem_g4.url)])) as serve:
        for name, code in snippets.items():
            assert "http://127.0.0.1:8000/v1" in code
            code = code.replace("http://127.0.0.1:8000/v1", serve.base_url)
            done = subprocess.run(
                [python, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=120
            )
            assert done.returncode == 0, (name, done.stderr[-2000:])
            # Every snippet asks "What is 2+2?" twice (whole, then streamed) and prints both.
            assert done.stdout.count(max_answer("What is 2+2?")) == 2, (name, done.stdout)


def file_part(name: str, data: bytes, mime: str = "text/plain") -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    return {"type": "file", "file": {"filename": name, "file_data": f"data:{mime};base64,{encoded}"}}


def test_file_parts_become_uploads_the_1m_space_reads(served: Serve) -> None:
    notes, pdf = "Notes — café ☕\n".encode(), b"%PDF-1.4\n%%EOF\n"
    message = {"role": "user", "content": [
        {"type": "text", "text": "Compare these"},
        file_part("notes.txt", notes),
        file_part("tiny.pdf", pdf, "application/pdf"),
    ]}
    facts = [fake_model.file_fact("notes.txt", notes), fake_model.file_fact("tiny.pdf", pdf)]
    expected = onem_answer(fake_model.with_files("Compare these", facts))
    streamed, created = calls(
        served, ONEM, {"kind": "sync_stream", "messages": [message]},
        {"kind": "async_create", "messages": [message]},
    )
    assert streamed.get("text") == expected, streamed
    assert created.get("text") == expected, created
    # The next turn resends the history with the file part: only the new message is sent.
    follow = [message, {"role": "assistant", "content": expected}, user("And now?")]
    (second,) = calls(served, ONEM, {"kind": "sync_create", "messages": follow})
    assert second.get("text") == onem_answer("And now?", 1), second


def test_a_file_part_for_the_max_model_is_a_400(served: Serve) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "hi"},
                                            file_part("a.txt", b"a")]}
    (result,) = calls(served, MAX, {"kind": "sync_create", "messages": [message]})
    assert result["error"]["class"] == "BadRequestError"
    assert "file parts work only with model qwen-2.5-1m" in result["error"]["message"]
