"""Input a client cannot send as it is, through both clients against the fake Space.

- Text with a lone surrogate has no UTF-8 form: a ValueError naming the message
  or argument that holds it, before anything is sent.
- A file name that is not valid UTF-8 is sent the way browsers send it: UTF-8,
  each undecodable byte replaced by U+FFFD; the file itself is read from its
  real path.
- A ``base_url`` into Gradio's own routes is refused before anything is sent
  (the calls would go to a doubled path and 404); an app's own path is kept
  (tests/client/test_base_url.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import qwen_spaces as qs

if TYPE_CHECKING:
    from qwen_spaces.testing.pytest_plugin import FakeSpaceFactory

pytest_plugins = ["qwen_spaces.testing.pytest_plugin"]
pytestmark = pytest.mark.timeout(60)

ONEM = "qwen-2.5-1m"
DRIVERS = ["sync", "async"]


def run_sync_or_async(driver: str, url: str, model: str, use: Callable[[Any], Any]) -> Any:
    """``use(client)`` on a Client, or awaited on an AsyncClient."""
    options: dict[str, Any] = {"base_url": url, "timeout": 20, "max_retries": 0}
    if driver == "sync":
        with qs.Client(model, **options) as client:
            return use(client)

    async def run() -> Any:
        async with qs.AsyncClient(model, **options) as client:
            result = use(client)
            return await result if asyncio.iscoroutine(result) else result

    return asyncio.run(run())


# --- a lone surrogate in the text -------------------------------------------------------------


UNENCODABLE = [
    ("a prompt", lambda c: c.chat("caf\ud800"), "the prompt holds text"),
    ("a stream", lambda c: c.stream("caf\ud800"), "the prompt holds text"),
    (
        "a message",
        lambda c: c.chat(
            [{"role": "system", "content": "ok"}, {"role": "user", "content": "x\udce9"}]
        ),
        "messages[1] content holds text",
    ),
    (
        "a text part",
        lambda c: c.stream([{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]),
        "messages[0] content holds text",
    ),
    ("a conversation's turn", lambda c: c.conversation().send("\ud800"), "the prompt holds text"),
    ("a system prompt", lambda c: c.conversation(system="\ud800"), "system= holds text"),
]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(("where", "use", "message"), UNENCODABLE, ids=[u[0] for u in UNENCODABLE])
def test_a_lone_surrogate_is_a_value_error_before_anything_is_sent(
    fake_space: FakeSpaceFactory, driver: str, where: str, use: Callable[[Any], Any], message: str
) -> None:
    space = fake_space()
    with pytest.raises(ValueError, match="cannot be encoded as UTF-8: a lone surrogate") as raised:
        run_sync_or_async(driver, space.url, "qwen-2.5-max", use)
    assert str(raised.value).startswith(message)
    assert space.requests == []


# --- file names that are not UTF-8 ------------------------------------------------------------


def test_non_utf8_file_names_are_sent_as_browsers_send_them(
    fake_space: FakeSpaceFactory, tmp_path: Path
) -> None:
    latin1 = os.fsencode(tmp_path) + b"/caf\xe9.txt"  # "café.txt" written by a Latin-1 system
    with open(latin1, "wb") as out:
        out.write(b"menu")
    digest = hashlib.sha256(b"menu").hexdigest()
    files: list[Any] = [
        os.fsdecode(latin1),  # as Python holds it (surrogate escapes): open() finds it
        latin1,  # the path as bytes
        (b"r\xe9sum\xe9.md", b"cv"),  # a name as bytes
        ("odd\ud800.txt", b"x"),  # a str name with a lone surrogate
    ]
    space = fake_space(layout="1m")
    for driver in DRIVERS:
        reply = run_sync_or_async(driver, space.url, ONEM, lambda c: c.chat("read", files=files))
        assert reply.text.startswith(
            f"You said: read [files: caf\ufffd.txt (4 bytes, sha256 {digest}); "
            f"caf\ufffd.txt (4 bytes, sha256 {digest}); r\ufffdsum\ufffd.md (2 bytes, "
        )
        assert "; odd\ufffd.txt (1 bytes, sha256 " in reply.text
    # The call's own JSON names them the same way.
    sent = [
        [f["orig_name"] for f in r.json["data"][0]["files"]]
        for r in space.requests
        if isinstance(r.json, dict) and r.json.get("data") and isinstance(r.json["data"][0], dict)
    ]
    names = ["caf\ufffd.txt", "caf\ufffd.txt", "r\ufffdsum\ufffd.md", "odd\ufffd.txt"]
    assert sent == [names, names]


def test_a_missing_non_utf8_path_is_reported_readably(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"files\[0\]: '.*caf\\udce9\.txt': cannot read it: No such file"
    ):
        qs.Client(ONEM).chat("read", files=[os.fsencode(tmp_path) + b"/caf\xe9.txt"])


# --- base_url into Gradio's own routes ---------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("path", ["/gradio_api/", "/some/gradio_api/x", "/config", "/gradio_api"])
def test_a_base_url_into_gradios_routes_is_refused_before_anything_is_sent(
    fake_space: FakeSpaceFactory, driver: str, path: str
) -> None:
    space = fake_space()
    client_class = qs.Client if driver == "sync" else qs.AsyncClient
    with pytest.raises(ValueError, match="the Gradio app's URL, not one of its routes") as raised:
        client_class(base_url=space.url + path)
    app = space.url + ("/some" if path.startswith("/some") else "")
    assert f"use {app} (got the path {path!r}" in str(raised.value)
    assert space.requests == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_base_url_with_a_trailing_slash_is_the_root(
    fake_space: FakeSpaceFactory, driver: str
) -> None:
    space = fake_space()
    reply = run_sync_or_async(driver, space.url + "/", "qwen-2.5-max", lambda c: c.chat("hi"))
    assert reply.text == "You said: hi (turn 1)"
