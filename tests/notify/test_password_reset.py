"""Password reset by email, through the API and a real SMTP server: the same answer whether or
not the address is a user's, a one-time link that expires, every token revoked once it is used,
nothing usable at rest, and a rate limit per address asked about."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from gql_support.accounts import service as accounts
from gql_support.accounts.models import PasswordReset, Role
from gql_support.notify.models import NoticeReason, OutboxMessage
from gql_support.settings import Settings
from tests.api.test_rate_limits import Clock, _app
from tests.conftest import GraphQLClient, MakePerson
from tests.notify.conftest import MakeWorker, SmtpServer

OLD_PASSWORD = "the old one, long enough"
NEW_PASSWORD = "a brand new passphrase"
REQUEST = """
mutation Request($email: String!) {
  requestPasswordReset(input: {email: $email}) { errors { code message field retryAfter } }
}
"""
RESET = """
mutation Reset($token: String!, $password: String!) {
  resetPassword(input: {token: $token, newPassword: $password}) {
    errors { code message field }
  }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
VIEWER = "query { viewer { email } }"
LINK = re.compile(r"https://desk\.example\.com/reset-password\?token=([\w.-]+)")


async def _request(gql: GraphQLClient, email: str) -> dict[str, Any]:
    return dict((await gql.execute(REQUEST, {"email": email}))["requestPasswordReset"])


async def _reset(gql: GraphQLClient, token: str, password: str = NEW_PASSWORD) -> list[Any]:
    data = await gql.execute(RESET, {"token": token, "password": password})
    return list(data["resetPassword"]["errors"])


def _token_in(smtp: SmtpServer, address: str) -> str:
    """The token of the last reset link emailed to this address (in both parts)."""
    last = smtp.inbox.to(address)[-1]
    text, html = last.part("plain"), last.part("html")
    match = LINK.search(text)
    assert match is not None, text
    assert match.group(0) in html
    return match.group(1)


async def test_a_reset_link_is_emailed_works_once_and_signs_the_user_out_everywhere(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a user with two sessions, who forgot their password
    person = await make_person(Role.AGENT, password=OLD_PASSWORD, locale="fr")
    email = person.user.email
    other_session = await accounts.issue_token(user=person.user)

    # When they ask for a reset, and someone asks for an address nobody has
    mine = await _request(gql, email.upper())
    nobodys = await _request(gql, "nobody@example.com")
    # Then both get the same answer, and only the user gets an email, once the worker sends
    assert mine == nobodys == {"errors": []}
    assert await make_worker().drain() == 1
    assert smtp.inbox.addresses() == [email]
    received = smtp.inbox.to(email)[0].message
    assert received["Subject"] == "Choisissez un nouveau mot de passe gql-support"
    token = _token_in(smtp, email)
    assert "30 minutes" in smtp.inbox.to(email)[0].part("plain")

    # And nothing at rest is a usable link: the database has the token's hash only
    row = await OutboxMessage.get(to_address=email)
    assert (row.reason, row.incident_id) == (NoticeReason.PASSWORD_RESET, None)
    assert token not in str(row.payload)
    reset = await PasswordReset.get(user_id=person.user.id)
    assert token not in (reset.salt, reset.token_hash)

    # When the link is used with a weak password, it is refused and still works
    assert [e["code"] for e in await _reset(gql, token, "password1234")] == ["WEAK_PASSWORD"]
    # And with a good one, the password changes
    assert await _reset(gql, token) == []

    # Then every session of the user is over, and only the new password signs in
    for old in (person.token, other_session):
        response = await gql.http.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {old}"}
        )
        assert response.status_code == 401
    refused = await gql.execute(LOGIN, {"email": email, "password": OLD_PASSWORD})
    assert refused["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    signed_in = await gql.execute(LOGIN, {"email": email, "password": NEW_PASSWORD})
    assert signed_in["login"]["token"]

    # And the link works only once
    [error] = await _reset(gql, token, "yet another passphrase")
    assert (error["code"], error["field"]) == ("INVALID_TOKEN", ["input", "token"])


async def test_an_expired_a_superseded_or_a_forged_link_is_refused(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a user who asked for two links
    person = await make_person(Role.USER, password=OLD_PASSWORD)
    email = person.user.email
    await _request(gql, email)
    await make_worker().drain()
    first = _token_in(smtp, email)
    await _request(gql, email)
    await make_worker().drain()
    second = _token_in(smtp, email)
    assert first != second

    # Then the first no longer works: only the newest does
    assert [e["code"] for e in await _reset(gql, first)] == ["INVALID_TOKEN"]
    # And a token whose signature was made up, or that is not one, is refused
    salt = second.split(".", 1)[0]
    for forged in (f"{salt}.{'0' * 64}", "gqls_not-a-reset-token", "x" * 500):
        assert [e["code"] for e in await _reset(gql, forged)] == ["INVALID_TOKEN"]

    # When the newest one's time is up
    await PasswordReset.filter(user_id=person.user.id, used_at=None).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    # Then it is refused too, and the old password still signs in
    assert [e["code"] for e in await _reset(gql, second)] == ["INVALID_TOKEN"]
    signed_in = await gql.execute(LOGIN, {"email": email, "password": OLD_PASSWORD})
    assert signed_in["login"]["token"]


async def test_a_deactivated_user_gets_no_email_and_their_link_stops_working(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    await make_person(Role.ADMIN)
    person = await make_person(Role.USER, password=OLD_PASSWORD)
    await _request(gql, person.user.email)
    await make_worker().drain()
    token = _token_in(smtp, person.user.email)

    await accounts.change_user(user_id=person.user.id, is_active=False)

    assert [e["code"] for e in await _reset(gql, token)] == ["INVALID_TOKEN"]
    assert await _request(gql, person.user.email) == {"errors": []}
    assert await make_worker().drain() == 0


async def test_requests_are_limited_per_address_asked_about_whether_or_not_it_is_a_users(
    settings: Settings, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a desk allowing 3 reset emails an hour per address
    person = await make_person(Role.USER, password=OLD_PASSWORD)
    clock = Clock()
    async with _app(settings, clock) as gql:
        for email in (person.user.email, "nobody@example.com"):
            # When an address is asked about three times, it is answered each time
            for _ in range(3):
                assert await _request(gql, email) == {"errors": []}
            # Then the fourth is refused, the same way for a user's address and for nobody's
            [error] = (await _request(gql, email))["errors"]
            assert (error["code"], error["retryAfter"]) == ("RATE_LIMITED", 1200)
        # And after the wait it is answered again
        clock.advance(1200)
        assert await _request(gql, person.user.email) == {"errors": []}

    # And the user got an email for each request answered
    assert await make_worker().drain() == 4
    assert smtp.inbox.addresses() == [person.user.email] * 4


async def test_of_two_resets_sent_at_once_with_one_link_exactly_one_succeeds(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    person = await make_person(Role.USER, password=OLD_PASSWORD)
    await _request(gql, person.user.email)
    await make_worker().drain()
    token = _token_in(smtp, person.user.email)

    first, second = await asyncio.gather(
        _reset(gql, token, "first of the two passphrases"),
        _reset(gql, token, "second of the two passphrases"),
    )

    assert sorted([[e["code"] for e in first], [e["code"] for e in second]]) == [
        [],
        ["INVALID_TOKEN"],
    ]
    winner = "first" if not first else "second"
    signed_in = await gql.execute(
        LOGIN, {"email": person.user.email, "password": f"{winner} of the two passphrases"}
    )
    assert signed_in["login"]["token"]
