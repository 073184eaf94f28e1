"""The seeds' provider interface keeps its class attributes and signatures."""

from __future__ import annotations

import inspect

import pytest

from qwen_spaces.providers import (
    JsonConversation,
    Qwen_Qwen_2_5_Max,
    Qwen_Qwen_2_5M,
    generate_session_hash,
)
from qwen_spaces.testing import FakeSpace


def test_max_attributes_as_in_the_seed() -> None:
    p = Qwen_Qwen_2_5_Max
    assert p.label == "Qwen Qwen-2.5-Max"
    assert p.url == "https://qwen-qwen2-5-max-demo.hf.space"
    assert p.api_endpoint == p.url + "/gradio_api/queue/join?"
    assert p.working and p.supports_stream and p.supports_system_message
    assert p.default_model == "qwen-qwen2-5-max"
    assert p.model_aliases == {"qwen-2-5-max": "qwen-qwen2-5-max"}
    assert p.models == ["qwen-2-5-max"]


def test_1m_attributes_as_in_the_seed() -> None:
    p = Qwen_Qwen_2_5M
    assert p.label == "Qwen Qwen-2.5M"
    assert p.url == "https://qwen-qwen2-5-1m-demo.hf.space"
    assert p.api_endpoint.startswith(p.url + "/run/predict")
    assert p.working and p.supports_stream and p.supports_system_message
    assert p.supports_message_history is False
    assert p.default_model == "qwen-2.5-1m-demo"
    assert p.model_aliases == {"qwen-2.5-1m": "qwen-2.5-1m-demo"}
    assert p.models == ["qwen-2.5-1m"]


def test_api_endpoint_follows_url_when_it_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Qwen_Qwen_2_5_Max, "url", "http://127.0.0.1:9")
    assert Qwen_Qwen_2_5_Max.api_endpoint == "http://127.0.0.1:9/gradio_api/queue/join?"


def test_signatures_match_the_seeds() -> None:
    params = inspect.signature(Qwen_Qwen_2_5M.create_async_generator).parameters
    assert list(params)[:5] == ["model", "messages", "proxy", "return_conversation", "conversation"]
    assert params["proxy"].default is None
    assert inspect.isasyncgenfunction(Qwen_Qwen_2_5_Max.create_async_generator)


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="qwen-2-5-max"):
        Qwen_Qwen_2_5_Max.get_model("gpt-4")


def test_bad_input_fails_before_any_network() -> None:
    with pytest.raises(ValueError):
        list(Qwen_Qwen_2_5_Max.create_completion("qwen-2-5-max", []))


def test_session_hash_and_conversation() -> None:
    h = generate_session_hash()
    assert len(h) == 12
    assert JsonConversation(session_hash=h).session_hash == h


def test_gpt4free_spellings_of_the_model_are_accepted() -> None:
    assert Qwen_Qwen_2_5_Max.get_model("qwen-2.5-max") == "qwen-qwen2-5-max"
    assert Qwen_Qwen_2_5M.get_model("qwen-2.5-1m") == "qwen-2.5-1m-demo"


# --- the same classes without gpt4free (this venv has no g4f) ------------------------------


def _gpt4free_installed() -> bool:
    try:
        import g4f  # noqa: F401
    except ImportError:
        return False
    return True


def answer(query: str, turns: int, system: str) -> str:
    return f"turn {turns}: {query}"


@pytest.mark.skipif(_gpt4free_installed(), reason="gpt4free is installed here")
def test_without_gpt4free_the_providers_stand_alone() -> None:
    import sys

    from qwen_spaces import providers

    assert providers.GPT4FREE is False
    assert "g4f" not in sys.modules
    bases = {cls.__module__ for cls in Qwen_Qwen_2_5_Max.__mro__}
    assert {b for b in bases if not b.startswith("qwen_spaces.providers")} == {"builtins"}
    with pytest.raises(ValueError, match="does not serve"):
        Qwen_Qwen_2_5M.get_model("gpt-4")
    assert issubclass(providers.ModelNotFoundError, ValueError)


def test_1m_conversation_continues_from_the_object_or_its_dict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qwen_spaces as qs

    with FakeSpace(layout="1m", answer=answer) as space:
        monkeypatch.setattr(Qwen_Qwen_2_5M, "url", space.url)
        first = [{"role": "user", "content": "a"}]
        chunks = list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", first, return_conversation=True))
        conversation = chunks[-1]
        assert isinstance(conversation, JsonConversation) and str(conversation) == ""
        assert "".join(c for c in chunks if isinstance(c, str)) == "turn 0: a"
        # The status is reasoning, never text.
        assert [c.text for c in chunks if isinstance(c, qs.Reasoning)] == ["Qwen is thinking..."]
        # The Space's session holds the earlier turns: only the new message is
        # sent, and the Space answers it as the next turn.
        history = [*first, {"role": "assistant", "content": "turn 0: a"}]
        for turn, given in enumerate((conversation, conversation.get_dict()), start=1):
            follow_up = [*history, {"role": "user", "content": f"q{turn}"}]
            chunks = list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", follow_up, conversation=given))
            text = "".join(c for c in chunks if isinstance(c, str))
            assert text == f"turn {turn}: q{turn}"
            history = [*follow_up, {"role": "assistant", "content": text}]
        # gpt4free passes api_key along; it may be meant for another service.
        list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "x", api_key="sk-not-for-spaces"))
        assert space.requests
        assert not [r for r in space.requests if "sk-not-for-spaces" in str(r.headers)]


def test_non_stream_completion_gives_reasoning_then_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import qwen_spaces as qs

    with FakeSpace(layout="1m", answer=answer) as space:
        monkeypatch.setattr(Qwen_Qwen_2_5M, "url", space.url)
        chunks = list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "hi", stream=False))
    assert isinstance(chunks[0], qs.Reasoning) and chunks[0].text == "Qwen is thinking..."
    assert chunks[1:] == ["turn 0: hi"]


def test_media_is_refused_by_the_max_model_before_any_network() -> None:
    with pytest.raises(ValueError, match="files"):
        list(Qwen_Qwen_2_5_Max.create_completion("qwen-2.5-max", "hi", media=[("data:,x", "x.txt")]))
    with pytest.raises(TypeError, match="session_hash"):
        list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "hi", conversation={"id": 1}))
