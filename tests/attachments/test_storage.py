"""Both storages behind the one interface: local files, and S3 over HTTP against moto."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gql_support.attachments.storage import (
    CHUNK_SIZE,
    LocalStorage,
    OverLimit,
    S3Storage,
    Storage,
)


class Source:
    """An upload being received, read in whatever sizes the storage asks for."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.position = 0
        self.reads = 0

    async def read(self, size: int = -1) -> bytes:
        self.reads += 1
        end = len(self.content) if size < 0 else self.position + size
        chunk = self.content[self.position : end]
        self.position += len(chunk)
        return chunk


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    s3: S3Storage = request.getfixturevalue("s3_storage")
    return s3


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def _read(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.open(key)])


async def test_a_blob_is_kept_by_its_sha256_and_read_back_in_chunks(storage: Storage) -> None:
    # Given 2.5 chunks of bytes
    content = bytes(range(256)) * (CHUNK_SIZE * 5 // 512)
    source = Source(content)

    # When they are saved
    blob = await storage.save(source, max_bytes=len(content))

    # Then they were streamed, chunk by chunk, and are keyed by their hash
    assert source.reads == 4
    assert blob.sha256 == hashlib.sha256(content).hexdigest()
    assert (blob.size, blob.created) == (len(content), True)
    assert blob.head == content[:4096]
    assert await _read(storage, blob.sha256) == content
    assert [b.key for b in await storage.list()] == [blob.sha256]

    # And the same bytes again are not stored twice
    again = await storage.save(Source(content), max_bytes=len(content))
    assert (again.sha256, again.created) == (blob.sha256, False)
    assert len(await storage.list()) == 1

    # And a deleted blob is gone (deleting it twice is no error)
    await storage.delete(blob.sha256)
    await storage.delete(blob.sha256)
    assert await storage.list() == []
    with pytest.raises(FileNotFoundError):
        await storage.open(blob.sha256)


async def test_an_upload_over_its_limit_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    source = Source(b"x" * (CHUNK_SIZE + 1))
    with pytest.raises(OverLimit):
        await storage.save(source, max_bytes=CHUNK_SIZE)
    # It stopped reading at the first chunk past the limit
    assert source.reads == 2
    assert await storage.list() == []
    assert _files(tmp_path) == []


async def test_local_keys_cannot_name_a_path(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    for key in ("../../etc/passwd", "A" * 64, ""):
        with pytest.raises(ValueError, match="not a blob key"):
            await storage.open(key)
