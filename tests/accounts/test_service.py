"""Account rules: unique emails, hashed passwords, hashed tokens."""

from __future__ import annotations

import hashlib

import pytest

from gql_support.accounts import service as accounts
from gql_support.accounts.models import ApiToken, Role, User
from gql_support.errors import DomainError
from gql_support.settings import Settings


async def test_emails_are_unique_whatever_their_case(settings: Settings) -> None:
    await accounts.create_user(email="Ada@Example.com", name="Ada", role=Role.AGENT)
    with pytest.raises(DomainError) as refused:
        await accounts.create_user(email="ada@EXAMPLE.com", name="Other Ada")
    assert refused.value.field == ["input", "email"]
    assert await User.filter(email="ada@example.com").count() == 1


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("email", {"email": "not-an-email", "name": "X"}),
        ("name", {"email": "x@example.com", "name": "   "}),
        ("locale", {"email": "x@example.com", "name": "X", "locale": "french!"}),
        ("password", {"email": "x@example.com", "name": "X", "password": "short"}),
        ("timeZone", {"email": "x@example.com", "name": "X", "time_zone": "Europe/Nowhere"}),
        ("timeZone", {"email": "x@example.com", "name": "X", "time_zone": "localtime"}),
    ],
)
async def test_bad_user_input_is_refused(
    settings: Settings, field: str, values: dict[str, str]
) -> None:
    with pytest.raises(DomainError) as refused:
        await accounts.create_user(**values)  # type: ignore[arg-type]
    assert refused.value.field == ["input", field]
    assert await User.all().count() == 0


async def test_passwords_and_tokens_are_stored_only_as_hashes(settings: Settings) -> None:
    user = await accounts.create_user(email="a@example.com", name="A", password="s3cret-passphrase")
    token = await accounts.issue_token(user=user)

    stored = await User.get(id=user.id)
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert "s3cret-passphrase" not in stored.password_hash
    row = await ApiToken.get(user_id=user.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (await accounts.user_for_token(token=token)) == user

    assert await accounts.revoke_user_tokens(user=user) == 1
    assert await accounts.user_for_token(token=token) is None
