"""``qwen-spaces serve`` in front of real Gradio replicas, driven by real OpenAI clients.

The server runs as a subprocess pointed at the Max replica (Gradio 5) and the
1M replica (Gradio 4), or at all twelve models' replicas (the eight Qwen3
models at the Qwen3 demo's, Gradio 5.27); openai-python, LangChain's
ChatOpenAI and langchain-qwq's ChatQwen run in their own venv
(``.venvs/openai``, built by make) as subprocess scripts. The fake
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

from qwen_spaces._gradio.payloads import flatten
from qwen_spaces._spaces.spaces import QWEN3, SPACES
from tests.support.replicas import fake_model
from tests.support.replicas import fake_qwen3 as fq
from tests.support.replicas.launcher import Replica
from tests.support.server_harness import KEY, Serve, openai_python, run_client, space_args

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
    kinds = [
        "sync_create",
        "sync_stream",
        "sync_helper",
        "async_create",
        "async_stream",
        "async_helper",
    ]
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
        {
            "role": "user",
            "content": [{"type": "text", "text": "two "}, {"type": "text", "text": "parts"}],
        },
    ]
    extra = {"temperature": 0.1, "max_tokens": 5, "top_p": 0.5, "seed": 1, "user": "u1"}
    stream_extra = {**extra, "stream_options": {"include_usage": True}}
    create, stream = calls(
        served,
        MAX,
        {"kind": "sync_create", "messages": history, "extra": extra},
        {"kind": "sync_stream", "messages": history, "extra": stream_extra},
    )
    expected = max_answer("two parts", 1, "Be brief — très.")
    assert create["text"] == stream["text"] == expected
    usage = stream["usage"]
    assert (
        usage is not None
        and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    )


def test_1m_conversation_sends_only_the_new_message_on_turns_2_and_3(served: Serve) -> None:
    first = onem_answer("first")
    second = onem_answer("second", 1)  # the Space got "second" alone, in the session of turn 1
    third = onem_answer("third", 2)
    turn2 = [user("first"), {"role": "assistant", "content": first}, user("second")]
    turn3 = [*turn2, {"role": "assistant", "content": second}, user("third")]
    one, two, three = calls(
        served,
        ONEM,
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


# --- the serve guide's snippets ----------------------------------------------------------


def guide_snippets(model: str) -> dict[str, str]:
    """The Python blocks of the serve guide (docs/guides/serve.rst, "Use it from any OpenAI
    client") that use ``model``, by first import."""
    section = (ROOT / "docs" / "guides" / "serve.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", section)
    out = {}
    for block in blocks:
        code = "\n".join(line[3:] for line in block.splitlines())
        module = re.search(r"^from (\w+)", code, re.M)
        assert module is not None, code
        if f'model="{model}"' in code:
            assert module.group(1) not in out, code
            out[module.group(1)] = code
    return out


def test_the_serve_guide_snippets_run_against_the_server(max_g5: Replica, onem_g4: Replica) -> None:
    snippets = guide_snippets(MAX)
    assert set(snippets) == {"openai", "langchain_openai"}
    python = openai_python()
    with Serve(
        "--api-key", "my-key", *space_args([(MAX, max_g5.url), (ONEM, onem_g4.url)])
    ) as serve:
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
    return {
        "type": "file",
        "file": {"filename": name, "file_data": f"data:{mime};base64,{encoded}"},
    }


def test_file_parts_become_uploads_the_1m_space_reads(served: Serve) -> None:
    notes, pdf = "Notes — café ☕\n".encode(), b"%PDF-1.4\n%%EOF\n"
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Compare these"},
            file_part("notes.txt", notes),
            file_part("tiny.pdf", pdf, "application/pdf"),
        ],
    }
    facts = [fake_model.file_fact("notes.txt", notes), fake_model.file_fact("tiny.pdf", pdf)]
    expected = onem_answer(fake_model.with_files("Compare these", facts))
    streamed, created = calls(
        served,
        ONEM,
        {"kind": "sync_stream", "messages": [message]},
        {"kind": "async_create", "messages": [message]},
    )
    assert streamed.get("text") == expected, streamed
    assert created.get("text") == expected, created
    # The next turn resends the history with the file part: only the new message is sent.
    follow = [message, {"role": "assistant", "content": expected}, user("And now?")]
    (second,) = calls(served, ONEM, {"kind": "sync_create", "messages": follow})
    assert second.get("text") == onem_answer("And now?", 1), second


def test_a_file_part_for_the_max_model_is_a_400(served: Serve) -> None:
    message = {
        "role": "user",
        "content": [{"type": "text", "text": "hi"}, file_part("a.txt", b"a")],
    }
    (result,) = calls(served, MAX, {"kind": "sync_create", "messages": [message]})
    assert result["error"]["class"] == "BadRequestError"
    assert "file parts work only with model qwen-2.5-1m" in result["error"]["message"]


# --- Qwen3 (and all twelve models) -----------------------------------------------------------

SYSTEM = "Be brief — très."
QUERY = "Laugh: ha ha — café ☕?"
OLDER = {"qwen-2-72b": SYSTEM, "qwen-2.5": fake_model.sized_system("72B", SYSTEM)}


def q3_answer(
    prompt: str,
    model: str = "qwen3-32b",
    budget: int = fq.MAX_BUDGET,
    thinking: bool = True,
    system: str = fq.NO_SYSTEM,  # the Space never hands its form's system prompt on
    turns: int = 0,
) -> str:
    return fq.expected_answer(prompt, model, budget, thinking, system, turns)


def q3_reasoning(
    prompt: str,
    model: str = "qwen3-32b",
    budget: int = fq.MAX_BUDGET,
    system: str = fq.NO_SYSTEM,
    turns: int = 0,
) -> str:
    return fq.expected_reasoning(prompt, model, budget, system, turns)


def with_system(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, user(text)]


def opening(text: str) -> str:
    """What a Qwen3 session's first prompt is for ``with_system(text)``: the page never
    gives the model its form's system prompt, so the prompt carries it at its head."""
    return flatten(with_system(text))


@pytest.fixture(scope="module")
def served_all(
    max_g5: Replica, onem_g4: Replica, qwen3_g527: Replica, qwen2_g4: Replica, qwen25_g4: Replica
) -> Iterator[Serve]:
    """One server for all twelve models, each at its replica (the eight Qwen3 at one)."""
    openai_python()
    pairs = [
        (MAX, max_g5.url),
        (ONEM, onem_g4.url),
        ("qwen-2-72b", qwen2_g4.url),
        ("qwen-2.5", qwen25_g4.url),
        *((spec.model, qwen3_g527.url) for spec in QWEN3),
    ]
    with Serve("--api-key", KEY, *space_args(pairs)) as serve:
        yield serve


def test_models_lists_the_twelve_and_each_one_answers(served_all: Serve) -> None:
    (listed,) = calls(served_all, MAX, {"kind": "models"})
    ids = [m["id"] for m in listed["models"]]
    assert sorted(ids) == sorted(spec.model for spec in SPACES) and len(ids) == 12
    thinkers = {m["id"] for m in listed["models"] if "thinking" in m}
    assert thinkers == {spec.model for spec in QWEN3}
    kinds = ["sync_create", "async_stream"]
    items = [
        {"kind": kinds[i % 2], "model": model, "messages": with_system(QUERY)}
        for i, model in enumerate(ids)
    ]
    results = calls(served_all, MAX, *items)
    for item, result in zip(items, results, strict=True):
        model = item["model"]
        assert "error" not in result, (model, result)
        spec = next(s for s in SPACES if s.model == model)
        if spec in QWEN3:
            assert result["text"] == q3_answer(opening(QUERY), str(spec.model_id)), model
            assert result["reasoning"] == q3_reasoning(opening(QUERY), str(spec.model_id)), model
        elif model in OLDER:
            assert result["text"] == fake_model.expected_answer(QUERY, 0, OLDER[model]), model
        elif model == MAX:
            assert result["text"] == max_answer(QUERY, 0, SYSTEM)
        else:  # the 1M demo has no system prompt of its own: it goes into the query
            assert result["text"] == onem_answer(flatten(with_system(QUERY)))


def test_qwen3_reasoning_content_streamed_and_whole_with_a_budget(served_all: Serve) -> None:
    kinds = ["sync_create", "sync_stream", "async_create", "async_stream", "sync_helper"]
    extra = {"extra_body": {"thinking_budget": 3000}}
    items = [{"kind": k, "messages": with_system(f"{k} {QUERY}"), "extra": extra} for k in kinds]
    results = calls(served_all, "qwen-3-32b", *items)
    for kind, result in zip(kinds, results, strict=True):
        prompt = f"{kind} {QUERY}"
        assert "error" not in result, (kind, result)
        # 3000 tokens is rounded up to 3 units of 1024: the Space saw budget 3.
        assert result["text"] == q3_answer(opening(prompt), budget=3), kind
        assert result["reasoning"] == q3_reasoning(opening(prompt), budget=3), kind
        assert result["finish_reason"] == "stop"
        if kind.endswith("stream"):
            assert result["chunks"] >= len(fq.tokens(result["text"])) // 2  # streamed
        if kind.endswith("create"):
            details = result["usage"]["completion_tokens_details"]
            assert 0 < details["reasoning_tokens"] < result["usage"]["completion_tokens"]


def test_qwen3_thinking_off_by_extra_body_and_by_chat_template_kwargs(served_all: Serve) -> None:
    off, kwargs_off, stream_off = calls(
        served_all,
        "qwen-3-8b",
        {
            "kind": "sync_create",
            "messages": with_system("one"),
            "extra": {"extra_body": {"enable_thinking": False}},
        },
        {
            "kind": "async_create",
            "messages": with_system("two"),
            "extra": {"extra_body": {"chat_template_kwargs": {"enable_thinking": False}}},
        },
        {
            "kind": "sync_stream",
            "messages": with_system("three"),
            "extra": {"extra_body": {"enable_thinking": False, "thinking_budget": 2048}},
        },
    )
    assert off["text"] == q3_answer(opening("one"), "qwen3-8b", thinking=False)
    assert kwargs_off["text"] == q3_answer(opening("two"), "qwen3-8b", thinking=False)
    assert stream_off["text"] == q3_answer(opening("three"), "qwen3-8b", budget=2, thinking=False)
    assert off["reasoning"] == kwargs_off["reasoning"] == stream_off["reasoning"] == ""


@pytest.mark.parametrize(
    ("effort", "budget"), [("minimal", 1), ("low", 4), ("medium", 16), ("high", 38), ("none", 0)]
)
def test_qwen3_reasoning_effort_maps_to_budgets(
    served_all: Serve, effort: str, budget: int
) -> None:
    (result,) = calls(
        served_all,
        "qwen-3-4b",
        {
            "kind": "sync_stream",
            "messages": with_system(effort),
            "extra": {"reasoning_effort": effort},
        },
    )
    if effort == "none":  # thinking off, the Space's own budget
        assert result["text"] == q3_answer(opening(effort), "qwen3-4b", thinking=False)
        assert result["reasoning"] == ""
    else:
        assert result["text"] == q3_answer(opening(effort), "qwen3-4b", budget=budget)
        assert result["reasoning"] == q3_reasoning(opening(effort), "qwen3-4b", budget=budget)


BAD_THINKING = [
    ("qwen-3-32b", {"extra_body": {"enable_thinking": "no"}}, "enable_thinking"),
    ("qwen-3-32b", {"extra_body": {"thinking_budget": 0}}, "thinking_budget"),
    ("qwen-3-32b", {"extra_body": {"thinking_budget": 38913}}, "thinking_budget"),
    ("qwen-3-32b", {"extra_body": {"thinking_budget": "4096"}}, "thinking_budget"),
    ("qwen-3-32b", {"extra_body": {"thinking_budget": 1.5}}, "thinking_budget"),
    ("qwen-3-32b", {"reasoning_effort": "extreme"}, "reasoning_effort"),
    (
        "qwen-3-32b",
        {"reasoning_effort": "high", "extra_body": {"enable_thinking": False}},
        "reasoning_effort",
    ),
    (
        "qwen-3-32b",
        {"extra_body": {"chat_template_kwargs": {"enable_thinking": 0}}},
        "chat_template_kwargs.enable_thinking",
    ),
    (MAX, {"extra_body": {"enable_thinking": False}}, "enable_thinking"),
    ("qwen-2.5", {"extra_body": {"thinking_budget": 4096}}, "thinking_budget"),
    (ONEM, {"reasoning_effort": "low"}, "reasoning_effort"),
]


def test_bad_thinking_fields_are_a_400_naming_the_field(served_all: Serve) -> None:
    items = [
        {"kind": "sync_create", "model": model, "messages": [user("hi")], "extra": extra}
        for model, extra, _ in BAD_THINKING
    ]
    items.append({**items[0], "kind": "async_stream"})  # streamed: still a 400, before any chunk
    results = calls(served_all, MAX, *items)
    for (model, extra, field), result in zip(
        [*BAD_THINKING, BAD_THINKING[0]], results, strict=True
    ):
        error = result.get("error")
        assert error is not None, (model, extra, result)
        assert (error["class"], error["status"]) == ("BadRequestError", 400), (model, extra)
        assert f"'{field}'" in error["message"], (model, extra, error["message"])
        assert error["body"]["param"] == field
        if model in (MAX, "qwen-2.5", ONEM):
            assert "has no thinking mode" in error["message"]


def test_qwen3_follow_ups_reuse_the_session_and_its_thinking_switch(served_all: Serve) -> None:
    """Turn 2 sends only the new message into turn 1's session ("turn 1"), with thinking
    still off without flipping it; turn 3 names no thinking field: thinking is back on."""
    off = {"extra_body": {"enable_thinking": False}}
    (one,) = calls(
        served_all,
        "qwen-3-14b",
        {"kind": "sync_create", "messages": with_system("first"), "extra": off},
    )
    first = q3_answer(opening("first"), "qwen3-14b", thinking=False)
    assert one["text"] == first
    turn2 = [*with_system("first"), {"role": "assistant", "content": first}, user("second")]
    second = q3_answer("second", "qwen3-14b", thinking=False, turns=1)
    turn3 = [*turn2, {"role": "assistant", "content": second}, user("third")]
    two, three = calls(
        served_all,
        "qwen-3-14b",
        {"kind": "sync_stream", "messages": turn2, "extra": off},
        {"kind": "async_create", "messages": turn3},
    )
    assert two["text"] == second and two["reasoning"] == ""
    assert three["text"] == q3_answer("third", "qwen3-14b", turns=2)
    assert three["reasoning"] == q3_reasoning("third", "qwen3-14b", turns=2)


def test_langchain_chat_qwen_reasoning_and_follow_up(served_all: Serve) -> None:
    result = run_client(
        "langchain_calls",
        base_url=served_all.base_url,
        api_key=KEY,
        model="qwen3-30b-a3b",
        chat="qwen",
        options={"thinking_budget": 5000},
        messages=with_system(QUERY),
        followup="And again?",
    )
    answer = q3_answer(opening(QUERY), "qwen3-30b-a3b", budget=5)
    reasoning = q3_reasoning(opening(QUERY), "qwen3-30b-a3b", budget=5)
    assert result["invoke"] == result["stream"] == answer
    assert result["invoke_reasoning"] == result["stream_reasoning"] == reasoning
    assert result["stream_pieces"] > 3  # streamed, not one block
    # The follow-up went into the first answer's session: the Space saw one earlier turn.
    assert result["followup"] == q3_answer("And again?", "qwen3-30b-a3b", budget=5, turns=1)
    assert result["followup_reasoning"] == q3_reasoning(
        "And again?", "qwen3-30b-a3b", budget=5, turns=1
    )


def test_langchain_thinking_off_and_reasoning_effort(served_all: Serve) -> None:
    off = run_client(
        "langchain_calls",
        base_url=served_all.base_url,
        api_key=KEY,
        model="qwen-3-1.7b",
        chat="qwen",
        options={"enable_thinking": False},
        messages=with_system(QUERY),
        followup="More?",
    )
    assert off["invoke"] == off["stream"] == q3_answer(opening(QUERY), "qwen3-1.7b", thinking=False)
    assert off["invoke_reasoning"] == off["stream_reasoning"] == ""
    assert off["followup"] == q3_answer("More?", "qwen3-1.7b", thinking=False, turns=1)
    effort = run_client(
        "langchain_calls",
        base_url=served_all.base_url,
        api_key=KEY,
        model="qwen-3-0.6b",
        options={"reasoning_effort": "medium"},
        messages=with_system(QUERY),
    )
    # ChatOpenAI reads no reasoning_content; the answer shows the budget the Space got.
    assert (
        effort["invoke"] == effort["stream"] == q3_answer(opening(QUERY), "qwen3-0.6b", budget=16)
    )


def test_the_serve_guide_qwen3_snippets_print_the_exact_reasoning_and_answers(
    qwen3_g527: Replica,
) -> None:
    snippets = guide_snippets("qwen-3-32b")
    assert set(snippets) == {"openai", "langchain_qwq"}
    model, system, query = "qwen3-32b", fq.NO_SYSTEM, "What is 2+2?"
    expected = {
        # reasoning_effort "low" (4096 tokens), then a stream with thinking off.
        "openai": [
            q3_reasoning(query, model, 4, system),
            q3_answer(query, model, 4, True, system),
            q3_answer(query, model, thinking=False, system=system),
        ],
        "langchain_qwq": [
            q3_reasoning(query, model, 4, system),
            q3_answer(query, model, 4, True, system),
        ],
    }
    python = openai_python()
    with Serve("--api-key", "my-key", "--space", f"qwen-3-32b={qwen3_g527.url}") as serve:
        for name, code in snippets.items():
            assert "http://127.0.0.1:8000/v1" in code
            code = code.replace("http://127.0.0.1:8000/v1", serve.base_url)
            done = subprocess.run(
                [python, "-c", code], capture_output=True, text=True, encoding="utf-8", timeout=120
            )
            assert done.returncode == 0, (name, done.stderr[-2000:])
            assert done.stdout.splitlines() == expected[name], name


def test_qwen3_error_turn_is_a_502_or_an_error_event_with_the_spaces_words(
    served_all: Serve,
) -> None:
    late, early, whole = calls(
        served_all,
        "qwen-3-32b",
        {"kind": "sync_stream", "messages": [user(f"{fq.ERROR_MARKER} late")]},
        {"kind": "async_stream", "messages": [user(f"{fq.ERROR_EARLY_MARKER} early")]},
        {"kind": "sync_create", "messages": [user(f"{fq.ERROR_MARKER} whole")]},
    )
    # Mid-answer: too late for a status, an error event that openai-python raises.
    assert late["error"]["class"] == "APIError" and late["error"]["status"] is None
    assert fq.ERROR_MESSAGE in late["error"]["message"]
    for result in (early, whole):  # before the first chunk, or a whole answer: a 502
        error = result["error"]
        assert (error["class"], error["status"]) == ("InternalServerError", 502), error
        # The Space's words, without markup.
        assert error["body"]["message"] == f"the Space reported an error: {fq.ERROR_MESSAGE}"
        assert error["body"]["code"] == "space_error"
