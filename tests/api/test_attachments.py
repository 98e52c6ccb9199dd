"""Attachments over HTTP: multipart uploads on the three mutations, their limits, the CSRF
guard, and downloads with a token or a signed link."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.api.ids import to_global_id
from gql_support.settings import Settings
from tests.api.test_query_count import AUTH_TABLE, statements
from tests.conftest import GraphQLClient, MakePerson, Person

FIELDS = "id filename contentType size sha256 url uploadedBy { name }"

REPORT = f"""
mutation Report($input: ReportIncidentInput!) {{
  reportIncident(input: $input) {{
    incident {{ id number attachments {{ {FIELDS} }} }}
    errors {{ code message field }}
  }}
}}
"""

ADD_COMMENT = f"""
mutation Comment($input: AddCommentInput!) {{
  addComment(input: $input) {{
    comment {{ id body attachments {{ {FIELDS} }} }}
    incident {{ version attachments {{ filename }} }}
    errors {{ code message field }}
  }}
}}
"""

SAVE = f"""
mutation Save($input: SaveIncidentInput!) {{
  saveIncident(input: $input) {{
    incident {{ version attachments {{ {FIELDS} }} }}
    errors {{ code message field }}
  }}
}}
"""

INCIDENT = """
query Incident($number: Int!) {
  incident(number: $number) {
    attachments { filename size }
    comments { nodes { body attachments { filename size sha256 } } }
    history { nodes { kind field to } }
  }
}
"""


def _stored(settings: Settings) -> list[Path]:
    """Every blob in the local storage (temporary files included, so leftovers show)."""
    root = Path(settings.attachments_dir)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _download(http: httpx.AsyncClient, url: str, person: Person | None) -> httpx.Response:
    headers = {} if person is None else {"Authorization": f"Bearer {person.token}"}
    parts = urlsplit(url)
    return await http.get(f"{parts.path}?{parts.query}", headers=headers)


async def _report(gql: GraphQLClient, reporter: Person) -> str:
    data = await gql.execute(REPORT, {"input": {"description": "Printer jam"}}, as_=reporter)
    return str(data["reportIncident"]["incident"]["id"])


async def test_a_file_goes_up_and_comes_back_the_same(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a reporter and a file
    reporter = await make_person(Role.USER, name="Rita")
    content = b"%PDF-1.7\n" + bytes(range(256)) * 1000

    # When she reports an incident with it
    response = await gql.upload(
        REPORT, {"input": {"description": "Export fails"}}, [("report.pdf", content)], as_=reporter
    )

    # Then it is stored with its size, hash and a type the server told from the bytes
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["reportIncident"]
    assert payload["errors"] == []
    [attachment] = payload["incident"]["attachments"]
    assert attachment["filename"] == "report.pdf"
    assert attachment["size"] == len(content)
    assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
    assert attachment["contentType"] == "application/pdf"
    assert attachment["uploadedBy"] == {"name": "Rita"}

    # And its url serves the same bytes, as a download, to a browser without a token
    downloaded = await _download(gql.http, attachment["url"], None)
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert hashlib.sha256(downloaded.content).hexdigest() == attachment["sha256"]
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )

    # And to the reporter with her token, without the signature
    path = urlsplit(attachment["url"]).path
    with_token = await gql.http.get(path, headers={"Authorization": f"Bearer {reporter.token}"})
    assert with_token.status_code == 200
    assert with_token.content == content


async def test_several_files_on_a_comment_and_on_save(
    gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    # Given an incident
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    incident_id = await _report(gql, reporter)

    # When a comment comes with three files (two of them with the same bytes)
    files = [("a.txt", b"first\n"), ("b.csv", b"x,y\n1,2\n"), ("c.txt", b"first\n")]
    response = await gql.upload(
        ADD_COMMENT, {"input": {"incidentId": incident_id, "body": "Logs"}}, files, as_=reporter
    )

    # Then the comment has all three, in order, each with its own type
    payload = response.json()["data"]["addComment"]
    assert payload["errors"] == []
    attachments = payload["comment"]["attachments"]
    assert [(a["filename"], a["size"], a["contentType"]) for a in attachments] == [
        ("a.txt", 6, "text/plain; charset=utf-8"),
        ("b.csv", 8, "text/csv; charset=utf-8"),
        ("c.txt", 6, "text/plain; charset=utf-8"),
    ]
    # And the same bytes are stored once
    assert len(_stored(settings)) == 2

    # When Save/Send comes with a file but no comment
    response = await gql.upload(
        SAVE,
        {"input": {"incidentId": incident_id, "expectedVersion": 2}},
        [("screen.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)],
        as_=manager,
    )
    saved = response.json()["data"]["saveIncident"]
    assert saved["errors"] == []
    assert saved["incident"]["version"] == 3
    assert [a["contentType"] for a in saved["incident"]["attachments"]][-1] == "image/png"

    # Then the incident lists every file, the comment its own, and the history each one
    data = await gql.execute(INCIDENT, {"number": 1}, as_=manager)
    incident = data["incident"]
    assert [a["filename"] for a in incident["attachments"]] == [
        "a.txt",
        "b.csv",
        "c.txt",
        "screen.png",
    ]
    [comment] = incident["comments"]["nodes"]
    assert [a["filename"] for a in comment["attachments"]] == ["a.txt", "b.csv", "c.txt"]
    added = [e["to"] for e in incident["history"]["nodes"] if e["kind"] == "ATTACHMENT_ADDED"]
    assert added == ["a.txt", "b.csv", "c.txt", "screen.png"]


async def test_too_large_and_too_many_are_refused_and_nothing_is_stored(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a server that takes two files of 1,000 bytes at most
    small = settings.model_copy(update={"attachment_max_bytes": 1000, "attachments_per_request": 2})
    app = create_app(small, manage_database=False)
    reporter = await make_person(Role.USER)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        gql = GraphQLClient(http)
        report = {"input": {"description": "Big files"}}

        # When a file is one byte too large (after one that fits)
        response = await gql.upload(
            REPORT, report, [("ok.txt", b"a" * 1000), ("big.bin", b"b" * 1001)], as_=reporter
        )
        # Then the report is refused with TOO_LARGE, naming the file
        payload = response.json()["data"]["reportIncident"]
        assert payload["incident"] is None
        [error] = payload["errors"]
        assert error["code"] == "TOO_LARGE"
        assert error["field"] == ["input", "attachments"]
        assert "big.bin" in error["message"]

        # When there are too many files
        response = await gql.upload(
            REPORT, report, [("1.txt", b"1"), ("2.txt", b"2"), ("3.txt", b"3")], as_=reporter
        )
        [error] = response.json()["data"]["reportIncident"]["errors"]
        assert error["code"] == "TOO_LARGE"
        assert "at most 2 files" in error["message"]

        # When the whole body is larger than any valid request could be
        response = await gql.upload(REPORT, report, [("huge.bin", b"h" * 9_000_000)], as_=reporter)
        # Then Starlette cuts it off
        assert response.status_code == 413

        # And nothing was stored, nor any incident created
        assert _stored(small) == []
        data = await gql.execute("{ dashboard { total } }", as_=reporter)
        assert data["dashboard"]["total"] == 0


async def _raw_upload(gql: GraphQLClient, filename: bytes, person: Person) -> httpx.Response:
    """A multipart report whose file name goes on the wire byte for byte (httpx, like
    browsers, would percent-encode control characters)."""
    boundary = b"b0undary"
    operations = json.dumps(
        {"query": REPORT, "variables": {"input": {"description": "Names", "attachments": [None]}}}
    ).encode()
    body = b"".join(
        [
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="operations"\r\n\r\n',
            operations,
            b"\r\n--" + boundary + b'\r\nContent-Disposition: form-data; name="map"\r\n\r\n',
            b'{"0": ["variables.input.attachments.0"]}',
            b"\r\n--" + boundary + b'\r\nContent-Disposition: form-data; name="0"; filename="',
            filename,
            b'"\r\nContent-Type: text/html\r\n\r\nroot:x:0:0\n\r\n--' + boundary + b"--\r\n",
        ]
    )
    return await gql.http.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary.decode(),
            "Apollo-Require-Preflight": "true",
            "Authorization": f"Bearer {person.token}",
        },
    )


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/etc/passwd\x00.txt", "passwd.txt"),
        ("bell\x07 tab\t esc\x1b[31m del\x7f.log", "bell tab esc[31m del.log"),
        ("rapport d'été \u202egnp.exe", "rapport d'été gnp.exe"),
        ("..", "attachment"),
    ],
)
async def test_hostile_file_names_are_stored_and_served_safely(
    gql: GraphQLClient, make_person: MakePerson, settings: Settings, sent: str, kept: str
) -> None:
    # Given a reporter
    reporter = await make_person(Role.USER)

    # When she uploads a file whose name is a path, or has control characters, raw on the wire
    response = await _raw_upload(gql, sent.encode(), reporter)

    # Then it is kept under a clean name, inside the storage only
    [attachment] = response.json()["data"]["reportIncident"]["incident"]["attachments"]
    assert attachment["filename"] == kept
    root = Path(settings.attachments_dir)
    assert all(path.is_relative_to(root) and ".." not in path.parts for path in _stored(settings))
    assert [p.name for p in _stored(settings)] == [attachment["sha256"]]

    # And it is served as a download whose header carries no raw name
    downloaded = await _download(gql.http, attachment["url"], None)
    assert downloaded.status_code == 200
    disposition = downloaded.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert all(32 <= ord(c) < 127 for c in disposition)
    # And the type is the server's, not the client's (text/html)
    assert downloaded.headers["content-type"] == "text/plain; charset=utf-8"
    assert "/" not in disposition.split("filename*=")[0]


async def test_cross_origin_multipart_without_the_preflight_header_is_refused(
    gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    reporter = await make_person(Role.USER)
    variables = {"input": {"description": "From another site"}}
    files = [("x.txt", b"x")]

    # A multipart form without the header (what a page on another origin can send) is refused
    refused = await gql.upload(
        REPORT, variables, files, as_=reporter, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 400
    assert "CSRF" in refused.text
    # And so is any other non-JSON POST
    plain = await gql.http.post(
        "/graphql",
        content='{"query": "mutation { reportIncident(input: {description: \\"x\\"}) { errors '
        '{ code } } }"}',
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {reporter.token}"},
    )
    assert plain.status_code == 415
    assert _stored(settings) == []
    data = await gql.execute("{ dashboard { total } }", as_=reporter)
    assert data["dashboard"]["total"] == 0

    # With either header, it goes through
    for header in ("Apollo-Require-Preflight", "X-Apollo-Operation-Name"):
        accepted = await gql.upload(REPORT, variables, files, as_=reporter, headers={header: "1"})
        assert accepted.json()["data"]["reportIncident"]["errors"] == []


async def test_downloads_are_refused_without_a_token_or_with_a_bad_link(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given an attachment and its signed url
    reporter = await make_person(Role.USER)
    response = await gql.upload(
        REPORT, {"input": {"description": "Secret"}}, [("s.txt", b"secret")], as_=reporter
    )
    [attachment] = response.json()["data"]["reportIncident"]["incident"]["attachments"]
    parts = urlsplit(attachment["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}

    async def get(**params: str) -> httpx.Response:
        return await gql.http.get(parts.path, params=params)

    # Without a token or a signature: 401
    assert (await get()).status_code == 401
    # With a wrong token: 401
    wrong = await gql.http.get(parts.path, headers={"Authorization": "Bearer gqls_wrong"})
    assert wrong.status_code == 401
    # With a tampered signature, user, expiry or attachment: 403
    assert (await get(**{**query, "signature": "0" * 64})).status_code == 403
    assert (await get(**{**query, "user": str(int(query["user"]) + 1)})).status_code == 403
    assert (await get(**{**query, "expires": str(int(query["expires"]) + 60)})).status_code == 403
    other = await gql.http.get(parts.path.rsplit("/", 1)[0] + "/999999", params=query, headers={})
    assert other.status_code == 403
    # With a genuine but expired link: 403
    store = gql.http._transport.app.routes[0].endpoint.attachments  # type: ignore[attr-defined]
    attachment_pk = int(parts.path.rsplit("/", 1)[1])
    old = store.links.make(attachment_pk, user_id=int(query["user"]), ttl=60, now=time.time() - 120)
    expired = await get(user=str(old.user_id), expires=str(old.expires), signature=old.signature)
    assert expired.status_code == 403
    assert "expired" in expired.text
    # And a link made for a user who has since been deactivated no longer works
    reporter.user.is_active = False
    await reporter.user.save()
    assert (await get(**query)).status_code == 403
    # While the genuine link of an active user works
    manager = await make_person(Role.MANAGER)
    link = store.links.make(attachment_pk, user_id=manager.user.id)
    ok = await get(user=str(link.user_id), expires=str(link.expires), signature=link.signature)
    assert ok.status_code == 200
    assert ok.content == b"secret"


async def test_a_rolled_back_mutation_leaves_no_file(
    gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    # Given an incident at version 1
    reporter = await make_person(Role.USER)
    incident_id = await _report(gql, reporter)

    # When Save/Send with files fails inside its transaction (a stale expectedVersion)
    response = await gql.upload(
        SAVE,
        {"input": {"incidentId": incident_id, "expectedVersion": 7, "comment": "With logs"}},
        [("log.txt", b"a log"), ("trace.txt", b"a trace")],
        as_=reporter,
    )
    # Then it is refused, and the uploaded files are gone
    [error] = response.json()["data"]["saveIncident"]["errors"]
    assert error["code"] == "VERSION_CONFLICT"
    assert _stored(settings) == []

    # When a refused change uploads bytes that an earlier attachment already holds
    kept = await gql.upload(
        ADD_COMMENT,
        {"input": {"incidentId": incident_id, "body": "Log"}},
        [("log.txt", b"a log")],
        as_=reporter,
    )
    assert kept.json()["data"]["addComment"]["errors"] == []
    refused = await gql.upload(
        ADD_COMMENT,
        {"input": {"incidentId": incident_id, "body": " "}},
        [("again.txt", b"a log")],
        as_=reporter,
    )
    assert refused.json()["data"]["addComment"]["errors"][0]["code"] == "INVALID_INPUT"
    # Then the earlier attachment keeps its file
    assert [p.name for p in _stored(settings)] == [hashlib.sha256(b"a log").hexdigest()]


ATTACHMENT_PAGE = """
query Page($first: Int!) {
  incidents(first: $first, orderBy: {field: NUMBER, direction: ASC}) {
    nodes {
      number
      attachments { filename uploadedBy { name } }
      comments { nodes { attachments { filename url } } }
    }
  }
}
"""


async def test_attachment_lists_do_not_grow_the_statements_with_the_page(
    gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    # Given ten incidents, each with a file on the report and one on a comment
    reporter = await make_person(Role.USER, name="Rita")
    for n in range(10):
        await gql.upload(
            REPORT, {"input": {"description": f"I{n}"}}, [(f"r{n}.txt", b"r")], as_=reporter
        )
        await gql.upload(
            ADD_COMMENT,
            {"input": {"incidentId": to_global_id("Incident", n + 1), "body": "c"}},
            [(f"c{n}.txt", f"c{n}".encode())],
            as_=reporter,
        )

    # When pages of 2 and of 10 are read with every attachment
    counts = []
    for first in (2, 10):
        with statements() as sql:
            data = await gql.execute(ATTACHMENT_PAGE, {"first": first}, as_=reporter)
        counts.append(len([s for s in sql if AUTH_TABLE not in s]))
        nodes = data["incidents"]["nodes"]
        assert [[a["filename"] for a in n["attachments"]] for n in nodes] == [
            [f"r{i}.txt", f"c{i}.txt"] for i in range(first)
        ]
        assert [
            [a["filename"] for c in n["comments"]["nodes"] for a in c["attachments"]] for n in nodes
        ] == [[f"c{i}.txt"] for i in range(first)]

    # Then both ran the same statements: one per list, not one per incident or comment
    assert counts[0] == counts[1]


async def test_round_trip_over_a_real_server(live_server: str, make_person: MakePerson) -> None:
    # Given a real server and a 5 MB file
    reporter = await make_person(Role.USER)
    content = os.urandom(5 * 1024 * 1024)
    async with httpx.AsyncClient(base_url=live_server) as http:
        gql = GraphQLClient(http)
        # When a file is sent without the preflight header, it is refused
        variables = {"input": {"description": "Real"}}
        refused = await gql.upload(REPORT, variables, [("a.txt", b"a")], as_=reporter, headers={})
        assert refused.status_code == 400
        # And with it, it is stored and comes back the same through its signed link
        response = await gql.upload(
            REPORT, {"input": {"description": "Real"}}, [("a.bin", content)], as_=reporter
        )
        [attachment] = response.json()["data"]["reportIncident"]["incident"]["attachments"]
        assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
        downloaded = await http.get(attachment["url"])
    assert downloaded.status_code == 200
    assert downloaded.headers["content-length"] == str(len(content))
    assert hashlib.sha256(downloaded.content).hexdigest() == attachment["sha256"]
