"""Where attachment bytes live, behind one small interface.

``Storage`` keeps blobs by the hex SHA-256 of their bytes (content-addressed, so the same file
uploaded twice is stored once). ``save`` streams an upload in chunks, hashing and counting as it
goes, and gives up as soon as it passes its size limit; nothing is ever held whole in memory.

    LocalStorage   files under one folder: written to a temporary file, synced, then linked
                   into place (an atomic create-if-absent, so exactly one writer creates a blob)
    S3Storage      an S3 or S3-compatible bucket, through boto3 (several hosts share it)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

#: Bytes read from an upload, or from the storage, at a time.
CHUNK_SIZE = 1024 * 1024
#: Bytes kept from the start of a blob to tell its type.
HEAD_SIZE = 4096


class Readable(Protocol):
    """An upload being received: Starlette's UploadFile is one."""

    async def read(self, size: int = -1) -> bytes: ...


class OverLimit(Exception):
    """The upload passed its size limit; nothing was stored."""


@dataclass(frozen=True, kw_only=True)
class StoredBlob:
    sha256: str
    size: int
    #: The first bytes, to tell the type from.
    head: bytes
    #: True when this save put the bytes there; False when the same bytes were stored already.
    created: bool


@dataclass(frozen=True, kw_only=True)
class BlobInfo:
    key: str
    modified_at: datetime


class Storage(Protocol):
    async def save(self, source: Readable, *, max_bytes: int) -> StoredBlob:
        """Streams the source into the storage; raises OverLimit past ``max_bytes``."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes, in chunks; raises FileNotFoundError if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the blob, if it is there."""
        ...

    async def list(self) -> list[BlobInfo]:
        """Every blob stored, with when it was written."""
        ...


async def _spool(source: Readable, target: IO[bytes], max_bytes: int) -> tuple[str, int, bytes]:
    """Copies the source into a file chunk by chunk: its SHA-256, size and first bytes."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    while chunk := await source.read(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise OverLimit
        digest.update(chunk)
        if len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
        await asyncio.to_thread(target.write, chunk)
    await asyncio.to_thread(target.flush)
    return digest.hexdigest(), size, head


async def _chunks(read: Callable[[int], bytes], close: Callable[[], None]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(read, CHUNK_SIZE):
            yield chunk
    finally:
        close()


class LocalStorage:
    """Blobs as files under ``root``: ``ab/abcdef…``, with temporary files in ``root/tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key

    async def save(self, source: Readable, *, max_bytes: int) -> StoredBlob:
        staging = self.root / "tmp"
        await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(
            lambda: tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then removed
                mode="wb", dir=staging, prefix="upload-", delete=False
            )
        )
        temporary = Path(handle.name)
        try:
            try:
                sha256, size, head = await _spool(source, handle, max_bytes)
                await asyncio.to_thread(os.fsync, handle.fileno())
            finally:
                await asyncio.to_thread(handle.close)
            created = await asyncio.to_thread(self._publish, temporary, self._path(sha256))
        finally:
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
        return StoredBlob(sha256=sha256, size=size, head=head, created=created)

    @staticmethod
    def _publish(temporary: Path, final: Path) -> bool:
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(temporary, final)
        except FileExistsError:
            return False
        return True

    async def open(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        return _chunks(handle.read, handle.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def list(self) -> list[BlobInfo]:
        def scan() -> list[BlobInfo]:
            if not self.root.is_dir():
                return []
            return [
                BlobInfo(
                    key=path.name,
                    modified_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                )
                for path in self.root.glob("??/*")
                if path.parent.name != "tmp" and path.is_file()
            ]

        return await asyncio.to_thread(scan)


class S3Storage:
    """Blobs as objects ``<prefix>ab/abcdef…`` of a bucket. Uploads are spooled to a local
    temporary file while hashing (the key is the hash), then sent in parts by boto3."""

    def __init__(self, client: Any, bucket: str, prefix: str = "attachments/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    async def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    async def save(self, source: Readable, *, max_bytes: int) -> StoredBlob:
        with tempfile.TemporaryFile() as spool:
            sha256, size, head = await _spool(source, spool, max_bytes)
            key = self._key(sha256)
            created = not await self._exists(key)
            if created:
                spool.seek(0)
                await asyncio.to_thread(self.client.upload_fileobj, spool, self.bucket, key)
        return StoredBlob(sha256=sha256, size=size, head=head, created=created)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            response = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise FileNotFoundError(key) from error
            raise
        body = response["Body"]
        return _chunks(body.read, body.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def list(self) -> list[BlobInfo]:
        def scan() -> list[BlobInfo]:
            paginator = self.client.get_paginator("list_objects_v2")
            found = []
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    key = item["Key"].rsplit("/", 1)[-1]
                    found.append(BlobInfo(key=key, modified_at=item["LastModified"]))
            return found

        return await asyncio.to_thread(scan)


def s3_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    """A boto3 S3 client; without keys, boto3's own credential chain (e.g. an instance role)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(signature_version="s3v4", retries={"mode": "standard"}),
    )
