"""Email about a comment lists its files, each with a download link signed for the recipient."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson
from tests.notify.conftest import MakeWorker, SmtpServer

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { id } errors { code } }
}
"""
ADD_COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } errors { code message } }
}
"""


async def test_a_comment_email_lists_its_files_with_working_links(
    mail_settings: Settings, smtp: SmtpServer, make_worker: MakeWorker, make_person: MakePerson
) -> None:
    settings = mail_settings.model_copy(
        update={"secret_key": SecretStr("shared by the server and the worker")}
    )
    reporter = await make_person(Role.USER, name="Rita")
    helper = await make_person(Role.AGENT, name="Hugo")
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://desk.example.com"
    ) as http:
        gql = GraphQLClient(http)
        data = await gql.execute(
            REPORT, {"input": {"description": "Printer jam", "watcherIds": []}}, as_=reporter
        )
        incident_id = data["reportIncident"]["incident"]["id"]
        # When the helper comments with a log file attached
        response = await gql.upload(
            ADD_COMMENT,
            {"input": {"incidentId": incident_id, "body": "See the log"}},
            [("printer.log", b"paper jam at tray 2\n" * 100)],
            as_=helper,
        )
        assert response.json()["data"]["addComment"]["errors"] == []
        await make_worker(secret_key=settings.secret_key).drain()

        # Then the reporter's email names the file, its size, and a link made for her
        receipt, mail = smtp.inbox.to(reporter.user.email)
        assert "printer.log" not in receipt.part("plain")
        text = mail.part("plain")
        assert "printer.log (2 kB)" in text
        link = re.search(r"printer\.log \(2 kB\): (\S+)", text)
        assert link is not None
        assert f"user={reporter.user.id}" in link.group(1)
        # And the link downloads the file without a token
        parts = urlsplit(link.group(1))
        download = await http.get(f"{parts.path}?{parts.query}")
        assert download.status_code == 200
        assert download.content == b"paper jam at tray 2\n" * 100
