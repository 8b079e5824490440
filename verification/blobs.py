"""Content-addressed file storage: a file's name is the SHA-256 of its bytes, so a stored file
cannot change without its name changing, and one upload serves every report that cites it."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

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
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise UploadTooLarge(f"the upload exceeds the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    tmp.write(chunk)
            sha256 = digest.hexdigest()
            target = self.root / sha256[:2] / sha256
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp_name, target)  # atomic; an identical earlier upload is simply replaced
            return sha256, size
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
