"""An incremental, sans-I/O decoder for Server-Sent Events.

Feed it bytes as they arrive, cut anywhere; it returns the ``data`` payload of
each complete event as a str. Events are decoded whole, so a multi-byte
character split across chunks is never cut; and ``json.loads`` of a str is
twice as fast as of bytes, whose encoding it must detect first.

Why not sseclient-py: it grows each event with ``data += line`` (quadratic on a
large or dribbled event), has no size bound, and pulls from a blocking
iterator, so the async driver could not share it. ``benchmarks/sse_decoders.py``
measures the difference.
"""

from __future__ import annotations

from .._errors import ProtocolError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Bytes in, event payloads out.

    >>> d = SSEDecoder()
    >>> d.feed(b'data: {"a": 1}\\n\\ndata: {"b"')
    ['{"a": 1}']
    >>> d.feed(b': 2}\\n\\n')
    ['{"b": 2}']

    Only ``data`` fields matter to Gradio; comments, ``event``, ``id`` and
    ``retry`` fields are skipped, and so is a UTF-8 byte-order mark that opens
    the stream. An event larger than ``max_event_bytes`` raises
    :class:`ProtocolError` rather than exhausting memory.
    """

    __slots__ = ("_at_start", "_cr", "_head", "_max", "_pending", "_pending_len")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes <= 0:
            raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes!r}")
        self._max = max_event_bytes
        # Pieces of an incomplete event, joined only once it completes, so a
        # large event dribbled in small chunks costs linear time.
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._cr = False  # the last chunk ended with CR: drop an LF that follows
        self._at_start = True  # a byte-order mark may still open the stream
        self._head = b""  # the stream's first bytes while they could be a split BOM

    def feed(self, chunk: bytes) -> list[str]:
        if not chunk:
            return []
        if self._at_start:
            chunk = self._skip_bom(chunk)
            if not chunk:
                return []
        # Gradio's usual case, one whole one-line event per chunk: C-level checks only.
        # bytes.find, not ``in``: ``needle in chunk`` first tries the needle as
        # an int, and the TypeError it makes and clears costs more than the search.
        if (
            chunk[:6] == b"data: "
            and chunk[-2:] == b"\n\n"
            and not self._pending
            and not self._cr
            and chunk.find(b"\n", 6, -2) == -1
            and chunk.find(b"\r") == -1
            and len(chunk) - 8 <= self._max
        ):
            return [chunk[6:-2].decode("utf-8", "replace")]
        if self._cr or chunk.find(b"\r") != -1:
            chunk = self._normalise_newlines(chunk)
            if not chunk:
                return []
        pending = self._pending
        if pending:
            # The separator may straddle the boundary: b"...\n" + b"\n...".
            if chunk.find(b"\n\n") == -1 and not (chunk[:1] == b"\n" and pending[-1][-1:] == b"\n"):
                return self._hold(chunk)
            pending.append(chunk)
            chunk = b"".join(pending)
            pending.clear()
            self._pending_len = 0
        elif chunk.find(b"\n\n") == -1:
            return self._hold(chunk)
        blocks = chunk.split(b"\n\n")
        tail = blocks.pop()
        if tail:
            self._hold(tail)
        out: list[str] = []
        for block in blocks:
            if len(block) > self._max:
                raise ProtocolError(
                    f"an event of {len(block)} bytes exceeds the limit of {self._max} bytes",
                    payload=block[:200],
                )
            # Gradio's case: one "data: " line per event.
            if block[:6] == b"data: " and block.find(b"\n") == -1:
                out.append(block[6:].decode("utf-8", "replace"))
            elif block:
                data = _parse_block(block)
                if data is not None:
                    out.append(data.decode("utf-8", "replace"))
        return out

    def _skip_bom(self, chunk: bytes) -> bytes:
        # The SSE spec ignores one UTF-8 BOM at the very start of the stream;
        # unskipped, it glues onto "data" and the first event is lost.
        head = self._head + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head  # perhaps a BOM cut across chunks: wait for more
            return b""
        self._at_start = False
        self._head = b""
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _hold(self, piece: bytes) -> list[str]:
        self._pending.append(piece)
        self._pending_len += len(piece)
        if self._pending_len > self._max:
            size = self._pending_len
            self._pending.clear()
            self._pending_len = 0
            raise ProtocolError(
                f"an event of more than {size} bytes exceeds the limit of {self._max} bytes",
                payload=piece[:200],
            )
        return []

    def _normalise_newlines(self, chunk: bytes) -> bytes:
        # SSE allows CRLF, CR or LF line ends; make them all LF. A chunk ending
        # in CR ends its line now; an LF opening the next chunk is its pair.
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._cr = chunk[-1:] == b"\r"
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a complete event."""
        return self._pending_len + len(self._head)


def _parse_block(block: bytes) -> bytes | None:
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line[:5] != b"data:":
            continue  # a comment, another field, or a blank line
        value = line[5:]
        data.append(value[1:] if value[:1] == b" " else value)
    if not data:
        return None
    return b"\n".join(data)
