"""The Space registry, /config resolution, timeouts, retries and redaction."""

from __future__ import annotations

import pytest

import qwen_spaces as qs
from qwen_spaces._core.policy import RetryPolicy, Timeouts
from qwen_spaces._errors import (
    QueueFullError,
    SpaceConnectionError,
    SpaceError,
    SpaceHTTPError,
    SpaceTimeoutError,
    redact,
)
from qwen_spaces._gradio.space_url import check_base_url
from qwen_spaces._spaces.spaces import QWEN_1M, QWEN_MAX, resolve_endpoints, resolve_model


def max_config(shift: int = 0, version: str = "5.12.0", chatbot_type: str = "tuples") -> dict:
    s = shift
    return {
        "version": version,
        "api_prefix": "/gradio_api",
        "components": [
            {"id": 4 + s, "type": "textbox", "props": {}},
            {"id": 8 + s, "type": "textbox", "props": {"visible": False}},
            {"id": 10 + s, "type": "chatbot", "props": {"type": chatbot_type}},
            {"id": 11 + s, "type": "textbox", "props": {}},
            {"id": 14 + s, "type": "button", "props": {}},
        ],
        "dependencies": [
            {
                "id": 0,
                "targets": [[11 + s, "submit"]],
                "inputs": [11 + s, 10 + s, 8 + s],
                "outputs": [11 + s, 10 + s, 4 + s],
                "api_name": "model_chat",
                "queue": None,
            },
            {
                "id": 1,
                "targets": [[14 + s, "click"]],
                "inputs": [11 + s, 10 + s, 8 + s],
                "outputs": [11 + s, 10 + s, 4 + s],
                "api_name": "model_chat_1",
                "queue": None,
            },
        ],
    }


def test_models_and_aliases() -> None:
    assert qs.MODELS[:2] == ("qwen-2.5-max", "qwen-2.5-1m")
    assert set(qs.MODELS[2:]) == {
        "qwen-3-235b",
        "qwen-3-32b",
        "qwen-3-30b",
        "qwen-3-14b",
        "qwen-3-8b",
        "qwen-3-4b",
        "qwen-3-1.7b",
        "qwen-3-0.6b",
        "qwen-2-72b",
        "qwen-2.5",
    }
    for alias in ("qwen-2-5-max", "qwen-qwen2-5-max", "QWEN-2.5-MAX"):
        assert resolve_model(alias) is QWEN_MAX
    assert resolve_model("qwen-2.5-1m-demo") is QWEN_1M


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"qwen-2\.5-max"):
        qs.Client(model="gpt-4")


def test_config_resolution_finds_model_chat() -> None:
    e = resolve_endpoints(QWEN_MAX, max_config())
    assert (e.fn_index, e.trigger_id, e.chatbot_output, e.api_prefix) == (0, 11, 1, "/gradio_api")
    assert e.chatbot_format == "tuples" and e.from_config


def test_config_resolution_follows_shifted_ids() -> None:
    e = resolve_endpoints(QWEN_MAX, max_config(shift=1))
    assert e.trigger_id == 12


def test_config_resolution_by_layout_when_api_name_differs() -> None:
    config = max_config()
    for dep in config["dependencies"]:
        dep["api_name"] = "renamed"
    assert resolve_endpoints(QWEN_MAX, config).fn_index == 0


def test_gradio6_is_a_messages_chatbot_with_parts() -> None:
    config = max_config(version="6.31.0")
    del config["components"][2]["props"]["type"]
    assert resolve_endpoints(QWEN_MAX, config).chatbot_format == "messages"
    config5 = max_config(chatbot_type="messages")
    assert resolve_endpoints(QWEN_MAX, config5).chatbot_format == "messages_str"


def test_gradio4_has_no_prefix() -> None:
    config = max_config(version="4.44.1")
    del config["api_prefix"]
    assert resolve_endpoints(QWEN_MAX, config).api_prefix == ""


def test_config_without_the_function_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        resolve_endpoints(QWEN_MAX, {"components": [], "dependencies": []})


def test_timeouts_must_be_positive_and_finite() -> None:
    with pytest.raises(ValueError, match="positive"):
        Timeouts(read=-1)
    with pytest.raises(ValueError):
        Timeouts(total=float("inf"))
    with pytest.raises(ValueError, match="positive"):
        qs.Client(timeout=-5)
    with pytest.raises(TypeError):
        qs.Client(timeout="10")  # type: ignore[arg-type]


def test_a_number_caps_every_limit() -> None:
    t = Timeouts.of(5)
    assert (t.connect, t.read, t.queue, t.total) == (5, 5, 5, 5)


def test_retry_policy_retries_transient_failures_only() -> None:
    p = RetryPolicy(max_retries=3)
    assert p.delay(SpaceConnectionError("x"), 0) is not None
    assert p.delay(QueueFullError("full"), 0) is not None
    for status in (429, 500, 502, 503, 504):
        assert p.delay(SpaceHTTPError(status), 0) is not None
    assert p.delay(SpaceHTTPError(404), 0) is None
    assert p.delay(SpaceHTTPError(422), 0) is None
    assert p.delay(SpaceError("bad"), 0) is None
    assert p.delay(SpaceTimeoutError("read", 1), 0) is None
    assert p.delay(SpaceConnectionError("x"), 3) is None


def test_no_retry_once_text_arrived() -> None:
    assert RetryPolicy().delay(SpaceConnectionError("x", partial_text="half"), 0) is None


def test_retry_after_is_honoured() -> None:
    assert RetryPolicy().delay(SpaceHTTPError(429, retry_after=1.0), 0) >= 1.0  # type: ignore[operator]


def test_backoff_grows_and_is_jittered() -> None:
    p = RetryPolicy(max_retries=10)
    delays = [p.delay(SpaceConnectionError("x"), a) for a in range(5)]
    assert delays[4] > delays[0]  # type: ignore[operator]


def test_redact_removes_credentials() -> None:
    text = "proxy http://user:s3cret@proxy:8080 Authorization: Bearer hf_abcdefghijk token=hf_zzzzzzzzzzzz"
    out = redact(text, "s3cret")
    assert "s3cret" not in out and "hf_abcdefghijk" not in out and "hf_zzzzzzzzzzzz" not in out


@pytest.mark.parametrize("url", ["ftp://x", "x.hf.space", "", "http://"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        check_base_url(url)


def test_construction_touches_no_network_and_hides_the_token() -> None:
    client = qs.Client(hf_token="hf_secretsecret123", proxy="http://u:pw@127.0.0.1:9")
    assert "hf_secret" not in repr(client) and "pw" not in repr(client)
    assert client._transport._own is None  # no session before the first call


def test_import_does_not_load_aiohttp_or_requests() -> None:
    # aiohttp loads with the first AsyncClient request, requests with the
    # first Client request: neither at import or construction.
    import subprocess
    import sys

    code = (
        "import sys, qwen_spaces as q; q.Client()\n"
        "print(sorted(m for m in ('aiohttp', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://user:hf_SECRETabcdef123@127.0.0.1:9", "credentials"),
        ("https://x.hf.space/?theme=dark", r"without \?query"),
        ("https://huggingface.co/spaces/Qwen/Qwen2.5-Max-Demo", "OWNER-NAME.hf.space"),
    ],
)
def test_a_base_url_that_is_not_a_spaces_root_is_refused_clearly(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as info:
        qs.Client(base_url=url)
    assert "SECRET" not in str(info.value)


def test_a_proxy_may_carry_credentials() -> None:
    client = qs.Client(proxy="http://user:pw@127.0.0.1:3128")
    assert "pw" not in repr(client)
