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
