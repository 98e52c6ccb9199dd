"""The attachment service on its own: receiving within limits, cleaning up after a failed
change, sweeping orphans, and what the email code reads (a comment's files and their links)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.attachments.service import AttachmentStore, attachments_by_comment
from gql_support.attachments.storage import LocalStorage, S3Storage
from gql_support.errors import TooLarge
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.settings import Settings
from tests.attachments.test_storage import Source
from tests.conftest import MakePerson


class Upload(Source):
    def __init__(self, filename: str, content: bytes) -> None:
        super().__init__(content)
        self.filename: str | None = filename


def _store(settings: Settings) -> AttachmentStore:
    return AttachmentStore.from_settings(settings)


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


async def test_a_failed_change_removes_only_the_blobs_it_created(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given an incident with one attachment
    reporter = await make_person(Role.USER)
    store = _store(settings)
    incident = await service.report_incident(
        actor=reporter.user,
        description="Kept",
        changes=IncidentChanges(attachments=[Upload("kept.txt", b"kept")]),
        store=store,
    )
    root = Path(settings.attachments_dir)
    kept = _files(root)
    assert len(kept) == 1

    # When a change with the same bytes and new ones fails after they are stored
    async def fail_after_storing() -> None:
        async with store.receive([Upload("a", b"kept"), Upload("b", b"new")]) as received:
            assert [f.created for f in received] == [False, True]
            assert len(_files(root)) == 2
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_after_storing()

    # Then the new blob is gone and the one an attachment refers to is still there
    assert _files(root) == kept

    # And a change over the file limit stores nothing at all
    small = AttachmentStore(store.storage, max_bytes=3, per_request=5, secret_key="k", link_ttl=60)
    with pytest.raises(TooLarge, match="big is larger than"):
        async with small.receive([Upload("ok", b"abc"), Upload("big", b"abcd")]):
            pytest.fail("the block must not run")
    assert _files(root) == kept
    assert incident.id > 0


async def test_the_sweeper_removes_old_orphans_only(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a referenced blob, an old orphan (a crash between upload and commit) and a new one
    reporter = await make_person(Role.USER)
    store = _store(settings)
    await service.report_incident(
        actor=reporter.user,
        description="With a file",
        changes=IncidentChanges(attachments=[Upload("kept.txt", b"kept")]),
        store=store,
    )
    old = await store.storage.save(Source(b"orphan from a crash"), max_bytes=100)
    fresh = await store.storage.save(Source(b"upload in flight"), max_bytes=100)
    assert isinstance(store.storage, LocalStorage)
    two_hours_ago = time.time() - 7200
    os.utime(store.storage._path(old.sha256), (two_hours_ago, two_hours_ago))

    # When the sweeper runs with a one-hour grace
    removed = await store.sweep_orphans(older_than=3600)

    # Then only the old orphan is gone
    assert removed == [old.sha256]
    keys = {b.key for b in await store.storage.list()}
    assert old.sha256 not in keys
    assert fresh.sha256 in keys
    assert len(keys) == 2


async def test_a_comment_gives_its_files_and_a_link_for_each_recipient(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a comment with two files
    reporter = await make_person(Role.USER)
    watcher = await make_person(Role.AGENT)
    store = _store(settings)
    incident = await service.report_incident(actor=reporter.user, description="Mail me")
    comment, _ = await service.add_comment(
        actor=reporter.user,
        incident_id=incident.id,
        body="See attached",
        attachments=[Upload("log.txt", b"one"), Upload("shot.png", b"\x89PNG\r\n\x1a\n")],
        store=store,
    )

    # When the email code reads the comment's attachments and links for a recipient
    [files] = (await attachments_by_comment([comment.id])).values()
    assert [(f.filename, f.size) for f in files] == [("log.txt", 3), ("shot.png", 8)]
    url = store.download_url(
        files[0], user_id=watcher.user.id, base_url="https://desk.example.com/", ttl=7 * 86400
    )

    # Then the link is absolute, and serves the file to that recipient without a token
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "desk.example.com")
    app = create_app(settings, manage_database=False, attachments=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response.content == b"one"


async def test_attachments_go_through_s3_over_http(
    settings: Settings, make_person: MakePerson, s3_storage: S3Storage
) -> None:
    # Given the app on an S3 bucket (moto's server)
    store = AttachmentStore(
        s3_storage, max_bytes=1_000_000, per_request=3, secret_key="k", link_ttl=60
    )
    reporter = await make_person(Role.USER)
    app = create_app(settings, manage_database=False, attachments=store)
    content = os.urandom(300_000)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        # When a file is uploaded with a report, and downloaded with its link
        from tests.conftest import GraphQLClient

        gql = GraphQLClient(http)
        query = (
            "mutation R($input: ReportIncidentInput!) { reportIncident(input: $input) "
            "{ incident { attachments { sha256 url } } errors { code } } }"
        )
        response = await gql.upload(
            query, {"input": {"description": "On S3"}}, [("blob.bin", content)], as_=reporter
        )
        [attachment] = response.json()["data"]["reportIncident"]["incident"]["attachments"]
        parts = urlsplit(attachment["url"])
        downloaded = await http.get(f"{parts.path}?{parts.query}")

    # Then the bucket holds it under its hash, and the same bytes come back
    assert [b.key for b in await s3_storage.list()] == [attachment["sha256"]]
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert _files(Path(settings.attachments_dir)) == []
