"""The token `hf auth login` stored is read as huggingface_hub reads it, and never shown."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import responses

import qwen_spaces as qs
from qwen_spaces._client.hf_token import default_token, token_path
from qwen_spaces.testing import MockSpace

TOKEN = "hf_StoredByTheHubLogin0123"
OTHER = "hf_FromTheEnvironment4567"
VARIABLES = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "XDG_CACHE_HOME",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN",
)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A home directory of its own, and none of the variables set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def store(path: Path, content: str | bytes = TOKEN + "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def sent(**options: object) -> set[str]:
    """The Authorization headers a Client sent for one chat."""
    space = MockSpace("max", answer="ok", base_url="https://private.hf.space")
    with responses.RequestsMock() as mock:
        space.register(mock)
        with qs.Client(base_url="https://private.hf.space", max_retries=0, **options) as client:  # type: ignore[arg-type]
            assert client.chat("hi").text == "ok"
        return {str(call.request.headers.get("Authorization")) for call in mock.calls}


def test_the_default_place_is_the_cache_home(home: Path) -> None:
    assert token_path() == str(home / ".cache" / "huggingface" / "token")
    assert default_token() is None  # no file: no token
    store(home / ".cache" / "huggingface" / "token")
    assert default_token() == TOKEN
    assert sent() == {f"Bearer {TOKEN}"}


def test_xdg_cache_home_then_hf_home_then_hf_token_path(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg"))
    assert token_path() == str(home / "xdg" / "huggingface" / "token")
    monkeypatch.setenv("HF_HOME", "~/hf")  # ~ and $VARS are expanded, as huggingface_hub does
    assert token_path() == str(home / "hf" / "token")
    monkeypatch.setenv("WHERE", str(home / "elsewhere"))
    monkeypatch.setenv("HF_TOKEN_PATH", "$WHERE/my-token")
    assert token_path() == str(home / "elsewhere" / "my-token")
    store(home / "elsewhere" / "my-token")
    store(home / "hf" / "token", "hf_NotThisOne000000")
    assert default_token() == TOKEN


def test_empty_variables_are_unset(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", "")
    monkeypatch.setenv("HF_TOKEN_PATH", "")
    assert token_path() == str(home / ".cache" / "huggingface" / "token")


def test_the_environment_wins_over_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store(Path(token_path()))
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_TheLegacyName12345")
    assert default_token() == "hf_TheLegacyName12345"
    monkeypatch.setenv("HF_TOKEN", OTHER)
    assert default_token() == OTHER
    assert sent() == {f"Bearer {OTHER}"}
    monkeypatch.setenv("HF_TOKEN", " \n")  # blank, as huggingface_hub: the next source
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN")
    assert default_token() == TOKEN


def test_the_argument_wins_and_an_empty_one_is_no_token(home: Path) -> None:
    store(Path(token_path()))
    assert sent(hf_token="hf_TheArgument123456") == {"Bearer hf_TheArgument123456"}
    assert sent(hf_token="") == {"None"}


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disable_implicit_token_leaves_only_hf_token(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    store(Path(token_path()))
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", value)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_TheLegacyName12345")
    assert default_token() is None
    assert sent() == {"None"}
    monkeypatch.setenv("HF_TOKEN", OTHER)  # this library's documented default stays
    assert default_token() == OTHER


@pytest.mark.parametrize(
    "content",
    [f"{TOKEN}\n", f"{TOKEN}\r\n", f"  {TOKEN}  \n\n", f"\n{TOKEN[:10]}\n{TOKEN[10:]}\r\n"],
)
def test_newlines_and_surrounding_whitespace_go(home: Path, content: str) -> None:
    store(Path(token_path()), content)
    assert default_token() == TOKEN


@pytest.mark.parametrize("content", ["", "\n", "   \r\n"])
def test_an_empty_file_is_no_token(home: Path, content: str) -> None:
    store(Path(token_path()), content)
    assert default_token() is None


def test_an_unreadable_place_is_no_token(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_spaces")
    Path(token_path()).mkdir(parents=True)  # a directory where the file would be
    assert default_token() is None
    assert any("cannot read" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f"{TOKEN[:8]} {TOKEN[8:]}", "whitespace inside it"),
        (f"{TOKEN}\x00".encode(), "a control character"),
        (f"“{TOKEN}”", "a non-ASCII character"),
        (b"hf_\xff\xfe" + TOKEN[3:].encode(), "a non-ASCII character"),  # not UTF-8
    ],
)
def test_a_bad_stored_token_names_the_file_never_the_token(
    home: Path, content: str | bytes, problem: str
) -> None:
    path = store(Path(token_path()), content)
    for cls in (qs.Client, qs.AsyncClient):
        with pytest.raises(ValueError) as info:
            cls()
        message = str(info.value)
        assert message.startswith(f"the token in {path} has {problem}"), message
        assert TOKEN[3:12] not in message and TOKEN[12:] not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_stored_token_is_in_no_log_or_repr(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_spaces")
    path = store(Path(token_path()))
    assert repr(default_token()) == "'***'"
    assert sent() == {f"Bearer {TOKEN}"}
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert f"using the token stored in {path}" in said
    assert TOKEN not in said and TOKEN[3:] not in said
    with qs.Client() as client:
        assert TOKEN not in repr(client) and TOKEN not in repr(vars(client))


def test_reading_it_imports_no_huggingface_hub(home: Path) -> None:
    store(Path(token_path()))
    code = (
        "import sys; from qwen_spaces._client.hf_token import default_token; "
        "assert default_token(); print('huggingface_hub' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_serve_redacts_the_stored_token_from_its_logs(home: Path) -> None:
    from qwen_spaces._server.command import _stored_token
    from qwen_spaces._server.logs import RedactingFilter

    secret = "NotShapedLikeHfTokens0123"  # no hf_ prefix: only the filter's list hides it
    store(Path(token_path()), secret)
    assert _stored_token() == secret
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (secret,), None)
    assert RedactingFilter([_stored_token()]).filter(record)
    assert secret not in record.getMessage()
