"""The attachment service: receiving uploads within their limits, signed download links,
reading attachments back, and sweeping blobs no attachment refers to.

Uploads are streamed into the storage *before* the change's transaction (a transaction must not
wait on a 25 MB upload); the rows that refer to them are written inside it. If the change fails
or is rolled back, ``receive`` removes the blobs it created that no committed row refers to, and
``sweep_orphans`` removes whatever a crash left behind. (One narrow race remains: if two changes
upload the same bytes at once, the second finding the blob already there, and the first fails
before the second commits, the blob goes with the first: both must carry the identical file
while the first is still in flight.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from gql_support.accounts.links import UserLinks
from gql_support.accounts.models import User
from gql_support.attachments.content_types import clean_filename, content_type_of
from gql_support.attachments.models import Attachment
from gql_support.attachments.storage import (
    LocalStorage,
    OverLimit,
    Readable,
    S3Storage,
    Storage,
    s3_client,
)
from gql_support.errors import NotFound, TooLarge
from gql_support.settings import Settings

FIELD = ["input", "attachments"]


class IncomingFile(Readable, Protocol):
    """An upload being received: its name as the client gave it, and its bytes to read."""

    filename: str | None


@dataclass(frozen=True, kw_only=True)
class ReceivedFile:
    """An upload now in the storage, waiting for its row."""

    filename: str
    content_type: str
    size: int
    sha256: str
    created: bool


def _mb(size: int) -> str:
    return f"{size / 1_048_576:g} MB"


class AttachmentStore:
    """The storage with its limits, and the key that signs download links."""

    def __init__(
        self,
        storage: Storage,
        *,
        max_bytes: int,
        per_request: int,
        secret_key: str,
        link_ttl: int,
    ) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.per_request = per_request
        self.links = UserLinks(
            secret_key=secret_key,
            purpose="attachment links",
            ttl=link_ttl,
            noun="download link",
            renew="ask for a new one",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AttachmentStore:
        """The store the settings describe: S3 when a bucket is set, local files otherwise."""
        storage: Storage
        if settings.attachments_s3_bucket:
            client = s3_client(
                endpoint_url=settings.attachments_s3_endpoint_url,
                region=settings.attachments_s3_region,
                access_key_id=settings.attachments_s3_access_key_id,
                secret_access_key=(
                    settings.attachments_s3_secret_access_key.get_secret_value()
                    if settings.attachments_s3_secret_access_key
                    else None
                ),
            )
            storage = S3Storage(client, settings.attachments_s3_bucket)
        else:
            storage = LocalStorage(Path(settings.attachments_dir))
        return cls(
            storage,
            max_bytes=settings.attachment_max_bytes,
            per_request=settings.attachments_per_request,
            secret_key=settings.secret_key.get_secret_value(),
            link_ttl=settings.attachment_link_ttl,
        )

    @asynccontextmanager
    async def receive(self, files: Sequence[IncomingFile]) -> AsyncIterator[list[ReceivedFile]]:
        """Streams the uploads into the storage, within the limits; if the block fails, removes
        the blobs it created that nothing committed refers to."""
        if len(files) > self.per_request:
            raise TooLarge(f"at most {self.per_request} files at once", field=FIELD)
        received: list[ReceivedFile] = []
        try:
            for upload in files:
                filename = clean_filename(upload.filename)
                try:
                    blob = await self.storage.save(upload, max_bytes=self.max_bytes)
                except OverLimit:
                    raise TooLarge(
                        f"{filename} is larger than {_mb(self.max_bytes)}", field=FIELD
                    ) from None
                received.append(
                    ReceivedFile(
                        filename=filename,
                        content_type=content_type_of(blob.head, filename=filename, size=blob.size),
                        size=blob.size,
                        sha256=blob.sha256,
                        created=blob.created,
                    )
                )
            yield received
        except BaseException:
            await self._discard([f.sha256 for f in received if f.created])
            raise

    async def _discard(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        kept = await _referenced(keys)
        for key in set(keys) - kept:
            await self.storage.delete(key)

    def download_url(
        self, attachment: Attachment, *, user_id: int, base_url: str, ttl: int | None = None
    ) -> str:
        """The absolute address that serves the attachment to ``user_id``, without a token, for
        ``ttl`` seconds: for an ``<a href>`` in a page or an email."""
        return self.download_url_by_id(attachment.id, user_id=user_id, base_url=base_url, ttl=ttl)

    def download_url_by_id(
        self, attachment_id: int, *, user_id: int, base_url: str, ttl: int | None = None
    ) -> str:
        """``download_url`` for an attachment known by its id."""
        link = self.links.make(attachment_id, user_id=user_id, ttl=ttl)
        query = urlencode(
            {"user": link.user_id, "expires": link.expires, "signature": link.signature}
        )
        return f"{base_url.rstrip('/')}/attachments/{attachment_id}?{query}"

    async def open_download(
        self, *, attachment_id: int, viewer: User
    ) -> tuple[Attachment, AsyncIterator[bytes]]:
        """The attachment and its bytes, for a user who may see its incident."""
        attachment = await Attachment.get_or_none(id=attachment_id)
        if attachment is None or not may_see_attachments(viewer):
            raise NotFound("no such attachment")
        try:
            chunks = await self.storage.open(attachment.sha256)
        except FileNotFoundError:
            raise NotFound("the file of this attachment is missing") from None
        return attachment, chunks

    async def sweep_orphans(self, *, older_than: float) -> list[str]:
        """Removes the blobs older than ``older_than`` seconds that no attachment refers to
        (left by a crash between upload and commit); returns their keys."""
        cutoff = time.time() - older_than
        stale = [b.key for b in await self.storage.list() if b.modified_at.timestamp() < cutoff]
        if not stale:
            return []
        kept = await _referenced(stale)
        removed = [key for key in stale if key not in kept]
        for key in removed:
            await self.storage.delete(key)
        return removed


async def _referenced(keys: Sequence[str]) -> set[str]:
    """The keys some attachment row (committed, or of this transaction) refers to."""
    found = await Attachment.filter(sha256__in=list(keys)).values_list("sha256", flat=True)
    return {str(key) for key in found}


def may_see_attachments(user: User) -> bool:
    """Every active user may see every incident, and so its files."""
    return user.is_active


async def attachments_by_comment(comment_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """The attachments of each comment, in upload order (for the API and for emails)."""
    grouped: dict[int, list[Attachment]] = {}
    for attachment in await Attachment.filter(comment_id__in=list(comment_ids)).order_by("id"):
        assert attachment.comment_id is not None
        grouped.setdefault(attachment.comment_id, []).append(attachment)
    return grouped


async def attachments_by_incident(incident_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """Every attachment of each incident, its comments' included, in upload order."""
    grouped: dict[int, list[Attachment]] = {}
    for attachment in await Attachment.filter(incident_id__in=list(incident_ids)).order_by("id"):
        grouped.setdefault(attachment.incident_id, []).append(attachment)
    return grouped


@asynccontextmanager
async def receive(
    store: AttachmentStore | None, files: Sequence[IncomingFile]
) -> AsyncIterator[list[ReceivedFile]]:
    """``store.receive(files)``, or nothing to receive when there are no files."""
    if not files:
        yield []
        return
    if store is None:
        raise ValueError("receiving attachments needs an AttachmentStore")
    async with store.receive(files) as received:
        yield received
