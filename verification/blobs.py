"""Content-addressed file storage: a file's name is the SHA-256 of its bytes, so a stored file
cannot change without its name changing, and one upload serves every report that cites it."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from verification.errors import UnknownBlob, UploadTooLarge

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256):
            raise UnknownBlob("a blob is named by the 64 lowercase hex digits of its SHA-256")
        path = self.root / sha256[:2] / sha256
        if not path.exists():
            raise UnknownBlob(f"no uploaded file {sha256}; upload it first (PUT /api/v1/uploads)")
        return path

    async def put_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> tuple[str, int]:
        """Store a stream, hashing as it arrives; refuse it past `max_bytes` without keeping any of it."""
        with self._incoming() as (tmp, finish):
            digest, size = hashlib.sha256(), 0
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"the upload exceeds the limit of {max_bytes} bytes")
                digest.update(chunk)
                tmp.write(chunk)
            return finish(digest.hexdigest()), size

    def put_bytes(self, data: bytes) -> str:
        """Store data already in memory (the demo's generated files)."""
        with self._incoming() as (tmp, finish):
            tmp.write(data)
            return finish(hashlib.sha256(data).hexdigest())

    @contextmanager
    def _incoming(self) -> Iterator[tuple[BinaryIO, Callable[[str], str]]]:
        """A temporary file in the store, and a function that files it under its hash."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")

        def finish(sha256: str) -> str:
            tmp.close()
            target = self.root / sha256[:2] / sha256
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp_name, target)  # atomic; an identical earlier upload is simply replaced
            return sha256

        try:
            with os.fdopen(fd, "wb") as tmp:
                yield tmp, finish
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
