"""The providers keep gpt4free's class attributes, signatures and model names."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from qwen_spaces.providers import (
    JsonConversation,
    Qwen_Qwen_2_5,
    Qwen_Qwen_2_5_Max,
    Qwen_Qwen_2_5M,
    Qwen_Qwen_2_72B,
    Qwen_Qwen_3,
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
        chunks = list(
            Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", first, return_conversation=True)
        )
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
            chunks = list(
                Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", follow_up, conversation=given)
            )
            text = "".join(c for c in chunks if isinstance(c, str))
            assert text == f"turn {turn}: q{turn}"
            history = [*follow_up, {"role": "assistant", "content": text}]
        # gpt4free passes api_key along; it may be meant for another service.
        list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "x", api_key="sk-not-for-spaces"))
        assert space.requests
        assert not [r for r in space.requests if "sk-not-for-spaces" in str(r.headers)]


def test_non_stream_completion_gives_reasoning_then_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qwen_spaces as qs

    with FakeSpace(layout="1m", answer=answer) as space:
        monkeypatch.setattr(Qwen_Qwen_2_5M, "url", space.url)
        chunks = list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "hi", stream=False))
    assert isinstance(chunks[0], qs.Reasoning) and chunks[0].text == "Qwen is thinking..."
    assert chunks[1:] == ["turn 0: hi"]


def test_media_is_refused_by_the_max_model_before_any_network() -> None:
    with pytest.raises(ValueError, match="files"):
        list(
            Qwen_Qwen_2_5_Max.create_completion("qwen-2.5-max", "hi", media=[("data:,x", "x.txt")])
        )
    with pytest.raises(TypeError, match="session_hash"):
        list(Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", "hi", conversation={"id": 1}))


# --- the Qwen3 demo and the two older demos (gpt4free's last Qwen_Qwen_3, _2_5, _2_72B) -------

QWEN3_IDS = {
    "qwen-3-235b": "qwen3-235b-a22b",
    "qwen-3-32b": "qwen3-32b",
    "qwen-3-30b": "qwen3-30b-a3b",
    "qwen-3-30b-a3b": "qwen3-30b-a3b",
    "qwen-3-14b": "qwen3-14b",
    "qwen-3-8b": "qwen3-8b",
    "qwen-3-4b": "qwen3-4b",
    "qwen-3-1.7b": "qwen3-1.7b",
    "qwen-3-0.6b": "qwen3-0.6b",
}


def test_qwen3_attributes_as_gpt4free_had_them() -> None:
    p = Qwen_Qwen_3
    assert p.label == "Qwen Qwen-3"
    assert p.url == "https://qwen-qwen3-demo.hf.space"
    assert p.api_endpoint == p.url + "/gradio_api/queue/join?__theme=system"
    assert p.working and p.supports_stream and p.supports_system_message
    assert p.default_model == "qwen-3-235b"
    assert set(p.models) == {
        "qwen-3-235b",
        "qwen-3-32b",
        "qwen-3-30b-a3b",
        "qwen-3-14b",
        "qwen-3-8b",
        "qwen-3-4b",
        "qwen-3-1.7b",
        "qwen-3-0.6b",
    }
    # gpt4free's aliases, plus the two it forgot (8b, and 30b-a3b which it listed).
    assert p.model_aliases == QWEN3_IDS
    assert "thinking_budget" in (p.create_async_generator.__doc__ or "") + (p.__doc__ or "")


def test_older_demos_attributes_as_gpt4free_had_them() -> None:
    p = Qwen_Qwen_2_72B
    assert (p.label, p.url) == ("Qwen Qwen-2.72B", "https://qwen-qwen2-72b-instruct.hf.space")
    assert p.api_endpoint == p.url + "/queue/join?"
    assert p.default_model == "qwen-qwen2-72b-instruct"
    assert p.model_aliases == {"qwen-2-72b": "qwen-qwen2-72b-instruct"}
    assert p.models == ["qwen-2-72b"]
    q = Qwen_Qwen_2_5
    assert (q.label, q.url) == ("Qwen Qwen-2.5", "https://qwen-qwen2-5.hf.space")
    assert q.api_endpoint == q.url + "/queue/join"
    assert q.default_model == "qwen-qwen2-5"
    assert q.model_aliases == {"qwen-2.5": "qwen-qwen2-5"}
    assert q.models == ["qwen-2.5"]
    for provider in (p, q):
        assert provider.working and provider.supports_stream and provider.supports_system_message


@pytest.mark.parametrize(
    "name", [*QWEN3_IDS, *QWEN3_IDS.values(), "QWEN-3-8B", "qwen-3-235b-a22b", ""]
)
def test_every_qwen3_name_resolves_to_its_model(name: str) -> None:
    import qwen_spaces as qs
    from qwen_spaces._spaces.spaces import resolve_model

    model_id = Qwen_Qwen_3.get_model(name)
    sdk = Qwen_Qwen_3.sdk_model(name)
    assert sdk in qs.MODELS and sdk.startswith("qwen-3-")
    # The same model the SDK serves under that name, at the Qwen3 Space.
    expected = resolve_model(name or "qwen-3-235b")
    assert sdk == expected.model
    assert model_id in (expected.model_id, Qwen_Qwen_3.default_model)


@pytest.mark.parametrize(
    ("provider", "names", "sdk"),
    [
        (
            Qwen_Qwen_2_72B,
            ["qwen-2-72b", "qwen-qwen2-72b-instruct", "Qwen-2-72B", ""],
            "qwen-2-72b",
        ),
        (Qwen_Qwen_2_5, ["qwen-2.5", "qwen-qwen2-5", ""], "qwen-2.5"),
        (
            Qwen_Qwen_2_5_Max,
            ["qwen-2-5-max", "qwen-2.5-max", "qwen-qwen2-5-max", ""],
            "qwen-2.5-max",
        ),
        (Qwen_Qwen_2_5M, ["qwen-2.5-1m", "qwen-2.5-1m-demo", ""], "qwen-2.5-1m"),
    ],
)
def test_every_name_of_the_other_providers_resolves(
    provider: Any, names: list[str], sdk: str
) -> None:
    for name in names:
        assert provider.get_model(name) == provider.default_model
        assert provider.sdk_model(name) == sdk


def test_a_provider_refuses_another_providers_model() -> None:
    with pytest.raises(ValueError, match=r"does not serve model 'qwen-2\.5'"):
        Qwen_Qwen_3.get_model("qwen-2.5")
    with pytest.raises(ValueError, match="does not serve model 'qwen-3-8b'"):
        Qwen_Qwen_2_5.get_model("qwen-3-8b")


def test_thinking_arguments_are_checked_before_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Qwen_Qwen_3, "url", "http://127.0.0.1:9")  # nothing listens
    call = Qwen_Qwen_3.create_completion
    # gpt4free's unit: 1 to 38 units of 1024 tokens; tokens are refused with the conversion.
    with pytest.raises(ValueError, match=r"units of 1024 tokens.*\(4096 tokens is 4\)"):
        list(call("qwen-3-8b", "hi", thinking_budget=4096))
    with pytest.raises(ValueError, match="1 to 38"):
        list(call("qwen-3-8b", "hi", thinking_budget=0))
    with pytest.raises(TypeError, match="thinking_budget must be an int"):
        list(call("qwen-3-8b", "hi", thinking_budget="4"))
    with pytest.raises(TypeError, match="enable_thinking must be True, False or None"):
        list(call("qwen-3-8b", "hi", enable_thinking="off"))
    with pytest.raises(ValueError, match="disagree"):
        list(call("qwen-3-8b", "hi", enable_thinking=False, thinking=True))


def test_thinking_arguments_reach_the_client_in_its_units() -> None:
    from qwen_spaces.providers._base import Provider

    call = Qwen_Qwen_3._prepare(
        "qwen-3-8b", "hi", None, {"enable_thinking": False, "thinking_budget": 4}
    )
    assert call.model == "qwen-3-8b"
    assert call.thinking == (False, 4096)  # the SDK takes tokens
    assert Qwen_Qwen_3._prepare("", "hi", None, {"thinking": True}).thinking == (True, None)
    # The other demos have no thinking: gpt4free's arguments are ignored, as others are.
    assert Qwen_Qwen_2_5._prepare("qwen-2.5", "hi", None, {"enable_thinking": False}).thinking == (
        None,
        None,
    )
    assert issubclass(Qwen_Qwen_2_5, Provider)


def test_a_handed_back_conversation_keeps_the_session_and_its_thinking() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    from qwen_spaces.providers._base import _digest

    held = _digest(messages[:2])
    for given in (
        JsonConversation("0123456789ab", thinking=False, digest=held),
        JsonConversation("0123456789ab", thinking=False, digest=held).get_dict(),
        {"Qwen_Qwen_3": {"session_hash": "0123456789ab", "thinking": False, "digest": held}},
    ):
        call = Qwen_Qwen_3._prepare("qwen-3-32b", messages, given, {})
        assert call.sent == messages[2:]  # only the new message
        assert call.state is not None and call.state.session_hash == "0123456789ab"
        assert call.state.session.thinking is False and call.state.synced == 2


def test_a_conversation_from_another_chat_starts_a_fresh_session() -> None:
    # gpt4free 8.x's conversation cache may pass the conversation of a chat
    # that began alike and is further along: its digest does not fit.
    from qwen_spaces.providers._base import _digest

    other = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "d"},
        {"role": "assistant", "content": "y"},
    ]
    mine = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "e"},
    ]
    given = JsonConversation("0123456789ab", digest=_digest(other))
    call = Qwen_Qwen_3._prepare("qwen-3-32b", mine, given, {})
    assert call.state is None and call.sent == mine  # the whole history, in a new session
    # A conversation kept from an earlier turn of this chat still fits.
    earlier = JsonConversation("0123456789ab", digest=_digest(mine[:2]))
    longer = [*mine, {"role": "assistant", "content": "z"}, {"role": "user", "content": "f"}]
    kept = Qwen_Qwen_3._prepare("qwen-3-32b", longer, earlier, {})
    assert kept.state is not None and kept.sent == longer[4:]


def test_1m_conversation_carries_a_digest_that_a_follow_up_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeSpace(layout="1m", answer=answer) as space:
        monkeypatch.setattr(Qwen_Qwen_2_5M, "url", space.url)
        first = [{"role": "user", "content": "a"}]
        conversation = list(
            Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", first, return_conversation=True)
        )[-1]
        assert conversation.get_dict()["digest"].startswith("2:")  # the question and its answer
        # A history that is not the one the session holds: a fresh session, flattened.
        other = [
            *first,
            {"role": "assistant", "content": "not what was said"},
            {"role": "user", "content": "q"},
        ]
        chunks = list(
            Qwen_Qwen_2_5M.create_completion("qwen-2.5-1m", other, conversation=conversation)
        )
        text = "".join(c for c in chunks if isinstance(c, str))
        assert text == "turn 0: User: a\nAssistant: not what was said\nUser: q"


def test_without_gpt4free_reasoning_is_the_sdks_own_type() -> None:
    import qwen_spaces as qs
    from qwen_spaces.providers import GPT4FREE

    chunk = Qwen_Qwen_3._chunk(qs.Reasoning("hmm"), True)
    if GPT4FREE:
        pytest.skip("gpt4free is installed here")
    assert type(chunk) is qs.Reasoning and chunk.text == "hmm"
    assert Qwen_Qwen_3._chunk(qs.TextDelta("x"), False) == "x"


def test_a_follow_up_without_a_user_message_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="user message"):
        Qwen_Qwen_3._prepare(
            "qwen-3-8b", [{"role": "system", "content": "s"}], {"session_hash": "ab"}, {}
        )


@pytest.mark.parametrize("provider", [Qwen_Qwen_2_5M, Qwen_Qwen_3])
def test_the_new_user_message_alone_continues_the_conversation_as_the_seed_says(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed (Qwen_Qwen_2_5M): with a conversation, only the last user message
    # is sent. A list holding just that message continues the session.
    layout = "1m" if provider is Qwen_Qwen_2_5M else "qwen3"
    model = "qwen-2.5-1m" if layout == "1m" else "qwen-3-8b"
    with FakeSpace(layout=layout, answer=answer) as space:
        monkeypatch.setattr(provider, "url", space.url)
        one = [{"role": "user", "content": "one"}]
        conversation = list(provider.create_completion(model, one, return_conversation=True))[-1]
        assert conversation.get_dict()["messages"][0] == {"role": "user", "content": "one"}
        two = [{"role": "user", "content": "two"}]
        chunks = list(
            provider.create_completion(
                model, two, conversation=conversation.get_dict(), return_conversation=True
            )
        )
        chats = list(space.chats)
        assert [(c.query, c.turns) for c in chats] == [("one", 0), ("two", 1)]
        assert "".join(c for c in chunks if isinstance(c, str)) == "turn 1: two"
        # After a restart, the carried turns go again in a new session.
        space.restart()
        three = [{"role": "user", "content": "three"}]
        text = "".join(
            c
            for c in provider.create_completion(model, three, conversation=chunks[-1])
            if isinstance(c, str)
        )
        last = space.chats[-1]
    assert last.turns == 0 and "one" in last.query and "two" in last.query
    assert text.startswith("turn 0: ") and text.endswith("three")


def test_a_conversation_without_carried_turns_is_session_lost_after_a_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qwen_spaces as qs

    with FakeSpace(layout="qwen3", answer=answer) as space:
        monkeypatch.setattr(Qwen_Qwen_3, "url", space.url)
        one = [{"role": "user", "content": "one"}]
        handed = list(Qwen_Qwen_3.create_completion("qwen-3-8b", one, return_conversation=True))
        bare = {"session_hash": handed[-1].session_hash}  # an older object: no turns carried
        space.restart()
        with pytest.raises(qs.SessionLostError):
            list(Qwen_Qwen_3.create_completion("qwen-3-8b", "two", conversation=bare))
