"""What shared subscriptions may share, over a real WebSocket (graphql-transport-ws): never a
field computed for the viewer, however the document reaches it; and links in their results
are the http(s) links a browser opens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from gql_support.accounts.models import Role
from tests.api.test_subscriptions import _listening, _next, _subscribe
from tests.conftest import GraphQLClient, MakePerson

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { number } errors { code message } }
}
"""
#: The same selection three ways: directly, through named fragments (one inside another),
#: and through inline fragments.
DIRECT = "subscription { incidentUpdates { incident { number attachments { url } } } }"
FRAGMENTS = """
subscription Files { incidentUpdates { incident { ...Files } } }
fragment Files on Incident { number attachments { ...Link } }
fragment Link on Attachment { url }
"""
INLINE = """
subscription {
  incidentUpdates {
    incident { ... on Incident { number attachments { ... on Attachment { url } } } }
  }
}
"""


async def test_each_viewer_gets_links_signed_for_them_however_the_document_asks(
    live_server: str, make_person: MakePerson
) -> None:
    # Given two people subscribed with the same documents, each selecting a signed link
    ada = await make_person(Role.USER, name="Ada")
    bob = await make_person(Role.AGENT, name="Bob")
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    sockets = [
        (person, await _subscribe(url, person.token, document))
        for document in (DIRECT, FRAGMENTS, INLINE)
        for person in (ada, bob)
    ]
    await _listening(len(sockets))

    async with httpx.AsyncClient(base_url=live_server) as http:
        # When Ada reports an incident with a file
        response = await GraphQLClient(http).upload(
            REPORT, {"input": {"description": "Printer jam"}}, [("notes.txt", b"jammed")], as_=ada
        )
        assert response.json()["data"]["reportIncident"]["errors"] == []

        # Then each subscriber's link is signed for them, on the server's http address, and opens
        for person, socket in sockets:
            incident = (await _next(socket))["incidentUpdates"]["incident"]
            [attachment] = incident["attachments"]
            link = urlsplit(attachment["url"])
            assert f"{link.scheme}://{link.netloc}" == live_server
            assert parse_qs(link.query)["user"] == [str(person.user.id)]
            download = await http.get(f"{link.path}?{link.query}")
            assert (download.status_code, download.content) == (200, b"jammed")
    for _, socket in sockets:
        await socket.close()
