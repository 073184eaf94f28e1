"""The aiohttp.web application: OpenAI's chat-completions API in front of the Qwen Spaces.

Routes: ``GET /health``, ``GET /v1/models``, ``GET /v1/models/{model}``,
``POST /v1/chat/completions`` (``stream`` true or false). Each model is served
through one shared :class:`~qwen_spaces.AsyncClient`, closed when the app is
cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from aiohttp import web

from .._client.async_client import AsyncClient, AsyncStream
from .._errors import QwenSpacesError, redact
from .._events import ConversationState, Reply
from .._spaces.spaces import SPACES, resolve_model
from .errors import APIError, from_sdk_error
from .guard import Guard, cors_headers
from .idle import FirstRequestGuard
from .parse import (
    CHARS_PER_TOKEN,
    DEFAULT_MAX_MESSAGES,
    IGNORED_PARAMETERS,
    UNSUPPORTED,
    ChatRequest,
    Limits,
    parse_chat_request,
    parse_json,
)
from .sessions import SessionCache
from .sse import DONE, ChunkEncoder, SSEWriter, dumps, event
from .thinking import EFFORT_BUDGETS, MAX_BUDGET, THINKING_FIELDS

__all__ = ["ServerConfig", "create_app"]

log = logging.getLogger("qwen_spaces.server")
OWNER = "qwen (Hugging Face Space)"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # a reverse proxy must not hold the stream back
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ServerConfig:
    """What ``qwen-spaces serve`` serves, and its limits.

    ``spaces`` maps each model to serve (a name or alias) to its Space's URL,
    or None for the public Space (default: every model, at its public Space).
    ``api_key``, when set, is required as
    ``Authorization: Bearer KEY`` on every route but ``/health``.
    ``concurrency`` requests are read, parsed and answered at once; one beyond that waits up to
    ``queue_wait`` seconds for a slot, then gets a 429 with ``Retry-After``.
    A body over ``max_body`` bytes gets a 413; one that takes more than
    ``body_timeout`` seconds to arrive, a 408. A request with more than
    ``max_messages`` messages or ``max_chars`` characters of text gets a 400.
    By default ``max_chars`` is each model's context (about 4 characters a
    token) and ``max_body`` admits the largest of them (see ``parse.Limits``).
    ``idle_timeout`` closes a connection that has not sent a whole request's
    headers within that many seconds of opening or of its last answer.
    ``sessions`` bounds the conversations remembered to continue their Space
    session (see :mod:`qwen_spaces._server.sessions`).
    Without an API key, the server answers only ``Host`` headers naming it
    (or one of ``allowed_hosts``), JSON ``POST`` bodies, and web pages of the
    ``allow_origins`` (see :mod:`qwen_spaces._server.guard`).
    ``timeout`` and ``max_retries`` go to each AsyncClient.
    """

    spaces: Mapping[str, Optional[str]] = field(
        default_factory=lambda: {spec.model: None for spec in SPACES}
    )
    api_key: Optional[str] = None
    concurrency: int = 32
    queue_wait: float = 10.0
    max_body: Optional[int] = None
    max_messages: int = DEFAULT_MAX_MESSAGES
    max_chars: Optional[int] = None
    body_timeout: float = 30.0
    idle_timeout: float = 15.0
    allowed_hosts: Sequence[str] = ()
    allow_origins: Sequence[str] = ()
    sessions: int = 4096
    session_max_age: float = 3600.0
    timeout: Optional[float] = None
    max_retries: int = 2

    def __post_init__(self) -> None:
        if not self.spaces:
            raise ValueError("serve at least one model")
        given = (self.max_body, self.max_chars)  # None: from the models' contexts
        if min(self.concurrency, self.max_messages, *(n for n in given if n is not None)) < 1:
            raise ValueError("concurrency, max_body, max_messages and max_chars must be >= 1")
        if self.queue_wait < 0 or not (self.body_timeout > 0 and self.idle_timeout > 0):
            raise ValueError("queue_wait must be >= 0, body_timeout and idle_timeout > 0")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("the API key is empty")

    def __repr__(self) -> str:  # never the key
        key = "'***'" if self.api_key else "None"
        return f"ServerConfig(spaces={dict(self.spaces)!r}, api_key={key}, ...)"


class _Server:
    """The app's state: one client per model, the answer slots, the Space sessions."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Told of each request, when the command serves the app (see server/idle.py).
        self.first_request: Optional[FirstRequestGuard] = None
        self.clients: dict[str, AsyncClient] = {}
        for model, url in config.spaces.items():
            client = AsyncClient(
                model,
                base_url=url,
                timeout=config.timeout,
                max_retries=config.max_retries,
                hf_token=os.environ.get("HF_TOKEN") or None,  # for private Spaces
            )
            self.clients[client.model] = client
        self.slots = asyncio.Semaphore(config.concurrency)
        self.limits = Limits(config.max_messages, config.max_chars)
        self.max_body = (
            self.limits.body_for(self.clients) if config.max_body is None else config.max_body
        )
        self.guard = Guard.of(config.allowed_hosts, config.allow_origins)
        self.sessions = SessionCache(config.sessions, config.session_max_age)
        self._key = config.api_key.encode("utf-8") if config.api_key else None
        self.started = int(time.time())

    # --- middleware --------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authentication (or, without a key, the guard), CORS for the allowed origins,
        errors in OpenAI's shape, and one log line per request."""
        started = time.monotonic()
        if self.first_request is not None:
            self.first_request.request_seen(request.transport)
        status = 500
        cors = self.guard.cors_origin(request.headers.get("Origin"))
        try:
            if self._key is None:
                self.guard.check(
                    request.method, request.headers, request.content_type, _local_address(request)
                )
            if (
                cors is not None
                and request.method == "OPTIONS"
                and ("Access-Control-Request-Method" in request.headers)
            ):  # a preflight: no key is sent with it
                status = 204
                return web.Response(status=204, headers=cors_headers(cors, preflight=True))
            if self._key is not None and request.path != "/health":
                self._authenticate(request)
            response = await handler(request)
            status = response.status
            if cors is not None and not response.prepared:
                response.headers.update(cors_headers(cors, preflight=False))
            return response
        except APIError as error:
            if _client_gone(request):
                status = 499
                raise asyncio.CancelledError from None
            status = error.status
            return _error_response(error, cors)
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400:
                raise
            return _error_response(_http_error(exc, request), cors)
        except ConnectionError:
            if not _client_gone(request):
                return _unexpected(request)
            status = 499  # the client's socket broke: nothing to answer, nothing to report
            raise asyncio.CancelledError from None
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        except Exception:
            return _unexpected(request)
        finally:
            extra = ""
            if "qs_model" in request:
                extra = f" model={request['qs_model']} stream={str(request['qs_stream']).lower()}"
            if status == 499:  # one INFO line says it all: a client leaving is no fault
                extra += f" (the client went away{_STAGES.get(request.get('qs_stage', ''), '')})"
            log.info(
                "%s %s %d %.3fs%s",
                request.method,
                request.path,
                status,
                time.monotonic() - started,
                extra,
            )

    def _authenticate(self, request: web.Request) -> None:
        assert self._key is not None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # compare_digest: the time taken says nothing about the key.
        given = token.strip().encode("utf-8", "surrogateescape")
        if not (scheme.lower() == "bearer" and hmac.compare_digest(given, self._key)):
            raise APIError(
                401,
                "missing or incorrect API key: send 'Authorization: Bearer <key>' with the "
                "key the server was started with",
                code="invalid_api_key",
            )

    # --- routes ------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "models": list(self.clients)})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [_model_info(m, self.started, self.limits) for m in self.clients],
            }
        )

    async def model(self, request: web.Request) -> web.Response:
        name = request.match_info["model"]
        try:
            model = resolve_model(name).model
        except ValueError:
            model = ""
        if model not in self.clients:
            raise APIError(
                404, f"the model {name!r} is not served here", param="model", code="model_not_found"
            )
        return web.json_response(_model_info(model, self.started, self.limits))

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        # The slot first: --concurrency then bounds the bodies read and parsed at once.
        async with self._slot():
            data = parse_json(await self._read_body(request))
            chat = parse_chat_request(data, self.clients, self.limits)
            del data
            request["qs_model"], request["qs_stream"] = chat.model, chat.stream
            client = self.clients[chat.model]
            # A history this server answered continues in its Space session: a
            # Space that keeps history there (the 1M and Qwen3 demos) then gets the
            # new message alone; one that takes the whole history (Max) gets it all.
            # Qwen3's session keeps its thinking switch too: flipped only if this
            # request asks for the other mode.
            messages = chat.messages
            conversation = self.sessions.take(chat.model, chat.messages)
            if conversation is not None:
                messages = chat.messages[-1:]
            else:
                # Every answer may be continued: run it as a conversation's first
                # turn, so the client notes what it needs to see a restart later.
                conversation = ConversationState(chat.model)
            try:
                files = list(chat.files) or None
                stream = client.stream(
                    messages,
                    conversation=conversation,
                    files=files,
                    thinking=chat.thinking.enabled,
                    thinking_budget=chat.thinking.budget,
                )
            except (ValueError, TypeError) as exc:  # the SDK's own input checks
                raise _invalid(exc) from None
            try:
                if chat.stream:
                    return await self._stream(request, chat, stream)
                try:
                    reply = await stream.get_reply()
                except QwenSpacesError as error:
                    raise from_sdk_error(error) from None
                except ValueError as exc:  # the SDK's input checks, when the call starts
                    raise _invalid(exc) from None
                self._remember(reply)
                body = reply.to_openai()
                body["usage"] = _usage(chat, reply)
                return web.json_response(body, dumps=dumps)
            finally:
                await stream.close()  # a call still running is cancelled on the Space

    # --- helpers -----------------------------------------------------------------

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.max_body
        too_large = APIError(
            413,
            f"the request body is larger than this server's limit of {limit} bytes",
            code="request_too_large",
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        request["qs_stage"] = "body"
        try:
            # A client that leaves mid-body: ConnectionResetError, for the middleware.
            body = await asyncio.wait_for(request.read(), self.config.body_timeout)
            request["qs_stage"] = "answer"
            return body
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None
        except asyncio.TimeoutError:
            raise APIError(
                408,
                f"the request body did not arrive within {self.config.body_timeout:g} s",
                code="request_timeout",
            ) from None

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        busy = APIError(
            429,
            f"the server is already answering {self.config.concurrency} requests; retry shortly",
            type="rate_limit_error",
            code="server_busy",
            retry_after=1,
        )
        if not self.slots.locked():
            await self.slots.acquire()  # free: returns at once
        elif self.config.queue_wait <= 0:
            raise busy
        else:
            try:
                await asyncio.wait_for(self.slots.acquire(), self.config.queue_wait)
            except asyncio.TimeoutError:
                raise busy from None
        try:
            yield
        finally:
            self.slots.release()

    def _remember(self, reply: Reply) -> None:
        state: Optional[ConversationState] = reply.conversation
        if state is not None:
            self.sessions.put(state)

    async def _stream(
        self, request: web.Request, chat: ChatRequest, stream: AsyncStream
    ) -> web.StreamResponse:
        chunks = stream.openai_chunks()
        writer: Optional[SSEWriter] = None
        try:
            # Headers wait for the first chunk (the answer has begun), so that a
            # failure before it, such as a full queue, gets its own HTTP status.
            try:
                first = await chunks.__anext__()
            except QwenSpacesError as error:
                raise from_sdk_error(error) from None
            except ValueError as exc:
                raise _invalid(exc) from None
            except StopAsyncIteration:  # pragma: no cover - openai_chunks always finishes
                raise APIError(502, "the Space sent no answer", type="api_error") from None
            request["qs_stage"] = "stream"
            response = web.StreamResponse(headers=SSE_HEADERS)
            cors = self.guard.cors_origin(request.headers.get("Origin"))
            if cors is not None:
                response.headers.update(cors_headers(cors, preflight=False))
            await response.prepare(request)
            writer = SSEWriter(response)
            encode = ChunkEncoder().encode
            # A client that leaves mid-stream: ConnectionResetError or a cancellation, for
            # the middleware; the finally blocks cancel the answer on the Space.
            await writer.send(encode(first))
            try:
                async for chunk in chunks:
                    await writer.send(encode(chunk))
            except QwenSpacesError as error:
                # Too late for a status: an error event, which openai-python
                # raises as APIError.
                await writer.send(event(from_sdk_error(error).body()))
            else:
                self._remember(stream.reply)
                if chat.include_usage:
                    await writer.send(event(_usage_chunk(first, chat, stream.reply)))
                await writer.send(DONE)
            await writer.close()
            await response.write_eof()
            return response
        finally:
            if writer is not None:
                writer.abort()
            aclose = getattr(chunks, "aclose", None)  # an async generator today
            if aclose is not None:
                await aclose()


def _model_info(model: str, created: int, limits: Limits) -> dict[str, Any]:
    """What /v1/models says of ``model``: OpenAI's fields, and the SDK's extras."""
    spec = resolve_model(model)
    thinking: dict[str, Any] = {}
    if spec.adapter.thinks:
        thinking = {
            "thinking": {
                "fields": list(THINKING_FIELDS),
                "max_budget": MAX_BUDGET,
                "reasoning_effort": dict(EFFORT_BUDGETS),
            }
        }
    return {
        "id": model,
        "object": "model",
        "created": created,
        "owned_by": OWNER,
        # Extra fields: OpenAI clients keep them and ignore them.
        "aliases": list(spec.aliases),
        "label": spec.label,
        # Tokens, as OpenRouter's models API names it (vLLM says max_model_len); and the
        # characters of text this server lets one request hold (serve --max-chars).
        "context_length": spec.context_length,
        "max_chars": limits.chars_for(model),
        "ignored_parameters": list(IGNORED_PARAMETERS),
        "unsupported": list(UNSUPPORTED),
        **thinking,
    }


def _tokens(text: str) -> int:
    # No tokenizer here: about 4 characters a token, as OpenAI's own rule of thumb.
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _usage(chat: ChatRequest, reply: Reply) -> dict[str, Any]:
    """An estimate (about 4 characters a token): the Spaces report no token counts.

    As in OpenAI's usage, the completion counts the reasoning too, also given apart.
    """
    prompt = sum(_tokens(m["content"]) for m in chat.messages)
    reasoning = _tokens(reply.reasoning) if chat.thinking.enabled else 0
    completion = _tokens(reply.text) + reasoning
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if chat.thinking.enabled is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _usage_chunk(first: Mapping[str, Any], chat: ChatRequest, reply: Reply) -> dict[str, Any]:
    """The last chunk of a stream with ``include_usage``: no choices, the usage."""
    return {
        "id": first["id"],
        "object": "chat.completion.chunk",
        "created": first["created"],
        "model": first["model"],
        "choices": [],
        "usage": _usage(chat, reply),
    }


#: What a client that went away left undone, by the stage its request had reached.
_STAGES = {
    "body": " before its request body was complete",
    "answer": " before its answer began",
    "stream": " during the stream",
}


def _client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed or closing."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _unexpected(request: web.Request) -> web.Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return _error_response(
        APIError(500, "internal server error", type="server_error", code="internal_error")
    )


def _invalid(exc: Exception) -> APIError:
    """A 400 for input the SDK refused (parse.py checks first, in the request's words)."""
    return APIError(400, f"invalid request: {exc}", param="messages")


def _local_address(request: web.Request) -> Optional[tuple[str, int]]:
    """The address and port the client connected to (None on a Unix socket)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return None


def _error_response(error: APIError, cors: Optional[str] = None) -> web.Response:
    headers = error.headers()
    if cors is not None:
        headers.update(cors_headers(cors, preflight=False))
    return web.Response(
        status=error.status,
        text=error.json(),
        content_type="application/json",
        headers=headers,
    )


def _http_error(exc: web.HTTPException, request: web.Request) -> APIError:
    if exc.status == 404:
        return APIError(404, f"no route {request.method} {redact(request.path)}", code="not_found")
    if exc.status == 405:
        return APIError(
            405,
            f"{request.method} is not allowed on {redact(request.path)}",
            code="method_not_allowed",
        )
    if exc.status == 413:
        return APIError(413, "the request body is too large", code="request_too_large")
    return APIError(exc.status, exc.reason or "HTTP error")


SERVER = web.AppKey("qwen_spaces_server", _Server)


def create_app(config: ServerConfig) -> web.Application:
    """The aiohttp application for ``config``; its clients close on the app's cleanup.

    Serve it with ``web.AppRunner(app, handler_cancellation=True)`` so that a
    client that disconnects cancels its answer on the Space at once.
    """
    server = _Server(config)
    app = web.Application(middlewares=[server.middleware], client_max_size=server.max_body)
    app.router.add_get("/health", server.health)
    app.router.add_get("/v1/models", server.models)
    app.router.add_get("/v1/models/{model}", server.model)
    app.router.add_post("/v1/chat/completions", server.chat_completions)

    async def close_clients(app: web.Application) -> None:
        await asyncio.gather(*(client.close() for client in server.clients.values()))

    app.on_cleanup.append(close_clients)
    app[SERVER] = server
    return app
