"""The server's logs say nothing secret, and a malformed request is one short line.

aiohttp logs a request it cannot parse at ERROR, with a traceback, and the
exception shows the raw line: a malformed ``Authorization`` line puts the API
key in the log. :class:`RedactingFilter` rewrites every record of the loggers
the server runs under (its own, aiohttp's, asyncio's): the API key, bearer
values and ``Authorization`` values become ``***``, and a request aiohttp
refused becomes one WARNING line naming what was wrong, without the line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Optional

from aiohttp.http_exceptions import HttpProcessingError

from .._errors import redact

__all__ = ["HTTP_LOGGER", "RedactingFilter", "install", "uninstall"]

#: The logger given to aiohttp's connection handler (``AppRunner(logger=...)``).
HTTP_LOGGER = "qwen_spaces.server.http"

#: The loggers a record of the server may start from; a filter on a logger sees only the
#: records logged on that very logger, so each is named (and any child seen at install).
SOURCES = (
    "qwen_spaces",
    "qwen_spaces.server",
    HTTP_LOGGER,
    "aiohttp",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.access",
    "aiohttp.internal",
    "aiohttp.client",
    "aiohttp.websocket",
    "asyncio",
)

_BEARER_ANY = re.compile(r"(?i)(bearer\s+)[^\s'\"\\]+")
_AUTHORIZATION = re.compile(r"(?i)(authorization\s*[:=]\s*)[^\r\n'\"]+")
_SUMMARY_END = re.compile(r"[:'\"\r\n]")
_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Rewrites records in place: secrets out, tracebacks of refused requests out."""

    def __init__(self, secrets: Iterable[Optional[str]] = ()) -> None:
        super().__init__()
        forms: list[str] = []
        for secret in secrets:
            if secret and len(secret) >= 4:
                # As written, and as a bytes repr shows it (aiohttp quotes raw header lines).
                forms += [secret, repr(secret.encode("utf-8", "surrogateescape"))[2:-1]]
        self._secrets = tuple(sorted(set(forms), key=len, reverse=True))

    def clean(self, text: str) -> str:
        """``text`` without the secrets, bearer values and Authorization values."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _BEARER_ANY.sub(r"\1***", text)
        text = _AUTHORIZATION.sub(r"\1***", text)
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            # "Error handling request from 127.0.0.1" + what was wrong, without the raw line.
            what = _SUMMARY_END.split(str(exc.message).strip(), maxsplit=1)[0].strip()[:80]
            record.msg = f"{self.clean(record.getMessage())}: {exc.code} {self.clean(what)}"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        else:
            record.msg = self.clean(record.getMessage())
            if record.exc_info:
                record.exc_text = self.clean(_FORMATTER.formatException(record.exc_info))
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = self.clean(record.exc_text)
        record.args = ()
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


def install(
    secrets: Iterable[Optional[str]], handlers: Iterable[logging.Handler] = ()
) -> RedactingFilter:
    """A filter on every logger the server runs under, on the root's handlers and on
    ``handlers``; :func:`uninstall` takes it off."""
    found = RedactingFilter(secrets)
    names = set(SOURCES) | {
        name
        for name in logging.Logger.manager.loggerDict
        if name.startswith(("qwen_spaces.", "aiohttp.", "asyncio."))
    }
    for name in sorted(names):
        logging.getLogger(name).addFilter(found)
    for handler in [*logging.getLogger().handlers, *handlers]:
        handler.addFilter(found)
    return found


def uninstall(found: RedactingFilter, handlers: Iterable[logging.Handler] = ()) -> None:
    for name in list(logging.Logger.manager.loggerDict):
        logger = logging.Logger.manager.loggerDict[name]
        if isinstance(logger, logging.Logger):
            logger.removeFilter(found)
    for handler in [*logging.getLogger().handlers, *handlers]:
        handler.removeFilter(found)
