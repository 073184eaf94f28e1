"""A Space's base URL: where its Gradio app answers, at a host's root or under a path.

Every request of a call goes under it, as gradio_client builds them:
``{base}/config`` first, then ``{base}{api_prefix}/queue/join`` and the rest,
with the prefix that ``/config`` gives (``/gradio_api`` on Gradio 5 and 6,
none on 4). A path is kept, so an app mounted with
``gr.mount_gradio_app(app, demo, path="/chat")``, behind a reverse proxy's
prefix or served with a ``root_path`` is reached at ``https://host/chat``.
The ``root`` field of ``/config`` is not used: behind a proxy it may name an
address the client cannot reach, and the URL the user gave is the one known
to work.

A path into Gradio's own routes (``/config``, ``/gradio_api/...``,
``/queue/join``, ``/call/NAME``, a ``?__theme=`` page setting) is a URL copied
from a browser or the API page: refused before anything is sent, naming the
app's URL to use instead.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qs, urlsplit

from .._errors import redact
from .._patterns import LazyPattern

__all__ = ["check_base_url", "gradio_route_at"]

# Gradio's routes as a user may paste them (address bar, API page, network
# panel): first segment -> the lengths (in segments) the route has.
_ROUTES: dict[str, tuple[int, ...]] = {
    "config": (1,),
    "app_id": (1,),
    "info": (1,),
    "theme.css": (1,),
    "upload": (1,),
    "upload_progress": (1,),
    "startup-events": (1,),
    "cancel": (1,),
    "queue": (2,),  # queue/join, queue/data
    "call": (2, 3),  # call/NAME, call/NAME/EVENT_ID
    "run": (2,),  # run/predict, run/NAME
    "heartbeat": (2,),  # heartbeat/SESSION
}
# Gradio 5 and 6 serve every route but /config under this prefix; Gradio 4's
# file URLs are /file=PATH. Whatever follows them is Gradio's too.
_PREFIXES = ("gradio_api",)
_FILE_SEGMENT = ("file=", "proxy=")
_SPACE_OR_CONTROL = LazyPattern(r"[\s\x00-\x1f\x7f]")
_HF_HOSTS = ("huggingface.co", "www.huggingface.co")


def gradio_route_at(segments: list[str]) -> Optional[int]:
    """Where Gradio's own route begins in a path's ``segments``, or None for an app's path."""
    for index, segment in enumerate(segments):
        rest = len(segments) - index
        if segment in _PREFIXES or segment.startswith(_FILE_SEGMENT):
            return index
        if rest in _ROUTES.get(segment, ()):
            return index
        if segments[index:] == ["api", "predict"]:  # Gradio 4's old predict route
            return index
    return None


def check_base_url(url: str, what: str = "base_url") -> str:
    """A Gradio app's URL, normalised: http(s), a host, the path it is mounted at.

    Returned without a trailing slash (``https://host`` or ``https://host/chat``),
    repeated slashes collapsed. Refused with a ValueError: credentials (never
    echoed: they would end up in logs), a ``?query`` or ``#fragment``, a path
    into Gradio's own routes (the message names the app's URL to use), a
    Hugging Face page instead of its Space, spaces or control characters.
    """
    if not isinstance(url, str):
        raise TypeError(f"{what} must be a str, got {type(url).__name__}")
    text = url.strip()
    parts = urlsplit(text)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{what} must not carry credentials (user:password@): pass a token as hf_token="
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{what} must be an http(s) URL such as https://x.hf.space, got {redact(text)!r}"
        )
    if _SPACE_OR_CONTROL.search(text):
        raise ValueError(f"{what} must not hold spaces or control characters, got {text!r}")
    try:
        parts.port  # noqa: B018 (it raises for a port that is not a number in range)
    except ValueError:
        raise ValueError(f"{what} has a port that is not a number 0-65535, got {text!r}") from None
    if parts.hostname in _HF_HOSTS:
        raise ValueError(
            f"{what} is a Space's page, not the Space: use https://OWNER-NAME.hf.space "
            "(the 'Embed this Space' link on the page)"
        )
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"{what} must not hold . or .. in its path, got {text!r}")
    own = gradio_route_at(segments)
    app_path = "".join(f"/{s}" for s in segments[:own])
    app = f"{parts.scheme}://{parts.netloc}{app_path}"
    if own is not None:
        raise ValueError(
            f"{what} must be the Gradio app's URL, not one of its routes: use {app} "
            f"(got the path {parts.path!r}; the client adds Gradio's own paths)"
        )
    if parts.query or parts.fragment:
        setting = "__theme" in parse_qs(parts.query)
        why = " (__theme is a setting of the page, not of the app)" if setting else ""
        raise ValueError(
            f"{what} must be the app's URL without ?query or #fragment{why}: use {app}"
        )
    return app
