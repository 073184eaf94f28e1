"""policy.check_token: a token fit for an Authorization header, and never in a message."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_spaces._core.policy import check_token

TOKEN = "hf_AbCdEfGh0123456789xyz"


@pytest.mark.parametrize(
    "raw", [TOKEN, f"{TOKEN}\n", f"{TOKEN}\r\n", f"  {TOKEN}\t", f"\n{TOKEN}\u00a0"]
)
def test_surrounding_whitespace_is_stripped(raw: str) -> None:
    assert check_token(raw) == TOKEN


@pytest.mark.parametrize("raw", ["", "   ", "\n"])
def test_an_empty_token_is_no_token(raw: str) -> None:
    assert check_token(raw) == ""


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (f"{TOKEN[:8]} {TOKEN[8:]}", "whitespace inside it"),
        (f"{TOKEN[:8]}\n{TOKEN[8:]}", "whitespace inside it"),
        (f"{TOKEN[:8]}\x00{TOKEN[8:]}", "a control character"),
        (f"{TOKEN}\x7f", "a control character"),
        (f"“{TOKEN}”", "a non-ASCII character"),  # pasted with smart quotes
        (f"{TOKEN}é", "a non-ASCII character"),  # latin-1 but no token has it
        (f"{TOKEN}☕", "a non-ASCII character"),  # not even latin-1
        (f"Bearer {TOKEN}", "whitespace inside it"),
    ],
)
def test_a_bad_token_says_what_was_expected_and_never_shows_itself(raw: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        check_token(raw)
    message = str(info.value)
    assert message.startswith(f"hf_token has {problem}: expected printable ASCII without spaces")
    assert TOKEN not in message and TOKEN[:8] not in message and TOKEN[8:] not in message
    assert info.value.__cause__ is None and info.value.__context__ is None
    # Nor in the locals a traceback printer could show.
    tb = info.value.__traceback__
    while tb is not None:
        assert all(
            not (isinstance(v, str) and TOKEN[8:] in v) for v in tb.tb_frame.f_locals.values()
        ) or tb.tb_frame.f_code.co_name.startswith("test_")
        tb = tb.tb_next


@pytest.mark.parametrize("raw", [b"hf_x", 123, ["hf_x"]])
def test_a_token_that_is_not_a_str_is_a_type_error(raw: Any) -> None:
    with pytest.raises(TypeError, match="hf_token must be a str, got"):
        check_token(raw)
