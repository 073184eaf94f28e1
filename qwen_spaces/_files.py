"""Documents a user hands to a call (``files=``), checked before anything is sent.

Each item is a path (``str``, ``bytes`` or ``os.PathLike``), a ``(filename,
bytes)`` pair or a ``(filename, binary file object)`` pair. The check opens a
path and takes its size, but reads none of it: the upload opens it again and
streams it (``Upload.open``, called by a transport), so a 200 MB file never
sits in memory. The core only carries these values.

A file name that is not valid UTF-8 (a Latin-1 ``café.txt`` on a UTF-8
system, which Python holds with surrogate escapes) is sent the way browsers
send it: as UTF-8, each undecodable byte replaced by U+FFFD. The file is still
read from its real path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from typing import IO, Any, ClassVar, Optional, Union

from ._patterns import LazyPattern
from ._value import Frozen

__all__ = ["FileArg", "Upload", "UploadReader", "check_files", "file_size"]

FileArg = Union[
    str,
    bytes,
    "os.PathLike[str]",
    "os.PathLike[bytes]",
    tuple[Union[str, bytes], bytes],
    tuple[Union[str, bytes], IO[bytes]],
]

_SPOOL_IN_MEMORY = 1 << 20  # a non-seekable stream is copied to disk past 1 MiB


class Upload(Frozen):
    """One file of an upload: its name, type and size, and where to read it from."""

    __match_args__: ClassVar[tuple[str, ...]] = ("name", "mime_type", "size", "_path", "_stream")
    __slots__ = __match_args__
    name: str
    mime_type: str
    size: int
    _path: Optional[str]
    _stream: Optional[IO[bytes]]

    def __init__(
        self,
        name: str,
        mime_type: str,
        size: int,
        _path: Optional[str] = None,
        _stream: Optional[IO[bytes]] = None,
    ) -> None:
        self._set("name", name)
        self._set("mime_type", mime_type)
        self._set("size", size)
        self._set("_path", _path)
        self._set("_stream", _stream)

    def open(self, progress: Optional[Callable[[int], None]] = None) -> UploadReader:
        """A reader from the start of the file; ``progress`` gets each read's byte count.

        The reader closes a file it opened itself, never the caller's own object.
        """
        if self._path is not None:
            raw: IO[bytes] = open(self._path, "rb")
            return UploadReader(raw, self.size, progress, owned=True)
        assert self._stream is not None
        self._stream.seek(0)
        return UploadReader(self._stream, self.size, progress, owned=False)


class UploadReader(io.RawIOBase):
    """A binary reader over one file that reports the bytes it reads."""

    def __init__(
        self,
        raw: IO[bytes],
        size: int,
        progress: Optional[Callable[[int], None]],
        *,
        owned: bool,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._progress = progress
        self._owned = owned

    def __len__(self) -> int:
        # The whole file's size: multipart encoders size their parts with it.
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        # A real file's descriptor lets HTTP libraries size the body (fstat).
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: Optional[int] = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        if data and self._progress is not None:
            self._progress(len(data))
        return data

    def close(self) -> None:
        if self._owned and not self.closed:
            self._raw.close()
        super().close()


def check_files(files: Optional[Sequence[FileArg]]) -> tuple[Upload, ...]:
    """Check ``files=`` and describe each file; raises ValueError or TypeError.

    A missing or unreadable path, an empty name or a value of the wrong type
    is an error here, before anything is sent.
    """
    if files is None:
        return ()
    if isinstance(files, (str, bytes, os.PathLike)) or not isinstance(files, Sequence):
        raise TypeError(
            "files must be a list of paths or (filename, bytes) / (filename, file) pairs, "
            f"got {type(files).__name__}"
        )
    return tuple(_upload(item, i) for i, item in enumerate(files))


def file_size(path: str) -> int:
    """The size of the file at ``path``; a ValueError says why it cannot be uploaded.

    The reason alone ("cannot read it: ..."): the caller names the file in its
    own words (``files[0]``, a command line's ``-f``).
    """
    try:
        with open(path, "rb"):
            size = os.stat(path).st_size
    except OSError as error:
        raise ValueError(f"cannot read it: {error.strerror or type(error).__name__}") from None
    if os.path.isdir(path):
        raise ValueError("it is a directory; expected a file")
    return size


def _upload(item: Any, i: int) -> Upload:
    if isinstance(item, (str, bytes, os.PathLike)):
        path = os.fsdecode(item)  # bytes: surrogate escapes, which open() turns back
        try:
            size = file_size(path)
        except ValueError as error:
            raise ValueError(f"files[{i}]: {path!r}: {error}") from None
        return Upload(_name(os.path.basename(path), i), _mime(path), size, _path=path)
    if not (isinstance(item, tuple) and len(item) == 2):
        raise TypeError(
            f"files[{i}] must be a path or a (filename, bytes) / (filename, file) pair, "
            f"got {type(item).__name__}"
        )
    name, content = item
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if not isinstance(name, str):
        raise TypeError(
            f"files[{i}]: the filename must be a str or bytes, got {type(name).__name__}"
        )
    name = _name(name, i)
    if isinstance(content, (bytes, bytearray, memoryview)):
        data = bytes(content)
        return Upload(name, _mime(name), len(data), _stream=io.BytesIO(data))
    if not callable(getattr(content, "read", None)):
        raise TypeError(
            f"files[{i}]: expected bytes or a binary file object, got {type(content).__name__}"
        )
    stream, size = _rewindable(content, i)
    return Upload(name, _mime(name), size, _stream=stream)


def _rewindable(stream: Any, i: int) -> tuple[IO[bytes], int]:
    # An upload may be retried, so it must be readable from the start again:
    # a seekable stream is rewound; any other is copied once (to disk past 1 MiB).
    try:
        start = stream.tell()
        size = stream.seek(0, os.SEEK_END) - start
        stream.seek(start)
        if start == 0:
            return stream, size
    except (AttributeError, OSError, ValueError):
        pass
    import tempfile  # uploads only: a call without files never loads it (nor shutil, random)

    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    size = 0
    while chunk := stream.read(1 << 16):
        if not isinstance(chunk, bytes):
            raise TypeError(f"files[{i}]: the file object must be opened in binary mode ('rb')")
        spool.write(chunk)
        size += len(chunk)
    spool.seek(0)
    return spool, size


def _name(name: str, i: int) -> str:
    name = _utf8_name(name.replace("\\", "/").rsplit("/", 1)[-1].strip())
    if not name:
        raise ValueError(f"files[{i}]: the filename is empty")
    return name


_SURROGATE = LazyPattern("[\ud800-\udfff]")


def _utf8_name(name: str) -> str:
    """``name`` as UTF-8 can carry it, as a browser sends a file name it cannot decode.

    The bytes of a surrogate-escaped name (os.fsdecode's) are decoded again as
    UTF-8 with U+FFFD for each bad byte; any other lone surrogate becomes U+FFFD.
    """
    if not _SURROGATE.search(name):
        return name
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return _SURROGATE.sub("\ufffd", name)


def _mime(name: str) -> str:
    import mimetypes  # uploads only

    return mimetypes.guess_type(name)[0] or "application/octet-stream"
