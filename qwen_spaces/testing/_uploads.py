"""``POST {P}/upload``: Gradio's file upload, each part to a file of its own."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Optional

from aiohttp import BodyPartReader, web

from ._faults import FaultBook
from ._http import abort, json_response
from ._layout import Layout, file_fact

__all__ = ["Uploads"]


class Uploads:
    """Where a Space's uploads go (a temporary directory, made on the first)."""

    def __init__(self, layout: Layout, faults: FaultBook) -> None:
        self._layout = layout
        self._faults = faults
        self._dir: Optional[str] = None
        self.paths: list[str] = []

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Each part of field ``files`` to a file; the answer lists their paths."""
        faults = self._faults.take(frozenset({"upload_error", "upload_drop"}))
        drop_at: Optional[int] = None
        if faults:
            fault = faults[0]
            match fault.kind:
                case "upload_error":
                    await request.release()  # read and drop the body, as a proxy's limit does
                    return web.Response(
                        status=fault.status,
                        body=fault.body.encode(),
                        content_type="application/json",
                    )
                case _:  # upload_drop: cut the connection once this many bytes are in
                    drop_at = fault.size
        reader = await request.multipart()
        paths: list[str] = []
        received = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "files":
                continue
            directory = tempfile.mkdtemp(dir=self._directory())
            path = os.path.join(directory, os.path.basename(part.filename or "file"))
            digest, size = hashlib.sha256(), 0
            with open(path, "wb") as out:
                while chunk := await part.read_chunk(1 << 16):
                    received += len(chunk)
                    if drop_at is not None and received >= drop_at:
                        abort(request)
                        return web.Response(status=500)
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            # Hashed as it arrives, so the answer costs no second read of the file.
            self._layout.file_facts[path] = file_fact(path, size, digest.hexdigest())
            paths.append(path)
            self.paths.append(path)
        return json_response(paths)

    def _directory(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="fake-space-files-")
        return self._dir

    def remove(self) -> None:
        """Delete the uploaded files."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
