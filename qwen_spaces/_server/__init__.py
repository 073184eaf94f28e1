"""An OpenAI-compatible HTTP server in front of the Qwen Spaces: ``qwen-spaces serve``.

Any OpenAI client (openai-python, LangChain's ``ChatOpenAI``, curl) talks to
``/v1/chat/completions`` and ``/v1/models``; each model is served through one
shared :class:`qwen_spaces.AsyncClient`, on ``aiohttp.web``. An application, not
an API: users run it as ``qwen-spaces serve`` (docs/guides/serve.rst); the tests
build it with ``create_app(ServerConfig(...))``.

aiohttp loads with ``create_app``, not with this package, so that the command
line registers ``serve`` without importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServerConfig, create_app
    from .errors import APIError

__all__ = ["APIError", "ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("ServerConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "APIError":
        from .errors import APIError

        return APIError
    raise AttributeError(f"module 'qwen_spaces._server' has no attribute {name!r}")
