"""The gql-support command, run as a real process against the test's database."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.settings import Settings
from tests.conftest import served, start_cli


async def _cli(settings: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    process = await start_cli(settings, *args, **env)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_user_create_prints_a_working_token_last(settings: Settings) -> None:
    code, out, _ = await _cli(
        settings, "user", "create", "--email", "Eve@Example.com", "--name", "Eve",
        "--role", "AGENT", "--locale", "fr", "--time-zone", "Europe/Paris",
        "--password", "long enough to pass",
    )  # fmt: skip
    assert code == 0
    token = out.strip().splitlines()[-1]
    user = await accounts.user_for_token(token=token)
    assert user is not None
    assert (user.email, user.name, user.role, user.locale, user.time_zone) == (
        "eve@example.com",
        "Eve",
        Role.AGENT,
        "fr",
        "Europe/Paris",
    )


async def test_user_create_gives_the_desks_time_zone_and_refuses_unknown_ones(
    settings: Settings,
) -> None:
    # Given a desk whose users are in Montreal unless they say otherwise
    desk = {"GQL_SUPPORT_DEFAULT_TIME_ZONE": "America/Montreal"}
    # When a user is created without a time zone
    code, _, _ = await _cli(
        settings, "user", "create", "--email", "a@example.com", "--name", "A", **desk
    )
    # Then they get the desk's
    assert code == 0
    assert (await User.get(email="a@example.com")).time_zone == "America/Montreal"
    # And a name that is no IANA time zone is refused, in the command and in the setting
    code, _, err = await _cli(
        settings, "user", "create", "--email", "b@example.com", "--name", "B",
        "--time-zone", "Paris",
    )  # fmt: skip
    assert (code, "'Paris' is not an IANA time zone name" in err) == (2, True)
    code, _, err = await _cli(settings, "user", "list", GQL_SUPPORT_DEFAULT_TIME_ZONE="localtime")
    assert (code, "GQL_SUPPORT_DEFAULT_TIME_ZONE" in err) == (2, True)
    assert not await User.filter(email="b@example.com").exists()


async def test_token_create_and_revoke(settings: Settings) -> None:
    user = await accounts.create_user(email="tom@example.com", name="Tom")
    code, out, _ = await _cli(settings, "token", "create", "--email", "TOM@example.com")
    assert code == 0
    token = out.strip()
    assert await accounts.user_for_token(token=token) == user

    code, out, _ = await _cli(settings, "token", "revoke", "--email", "tom@example.com")
    assert (code, out.strip()) == (0, "revoked 1 token(s)")
    assert await accounts.user_for_token(token=token) is None


async def test_a_refused_command_says_why_and_fails(settings: Settings) -> None:
    await accounts.create_user(email="dup@example.com", name="Dup")
    code, _, err = await _cli(
        settings, "user", "create", "--email", "dup@example.com", "--name", "X"
    )
    assert code == 2
    assert "already exists" in err
    code, _, err = await _cli(settings, "token", "create", "--email", "nobody@example.com")
    assert code == 1
    assert "no user" in err


async def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    embedded = Settings(database_url=f"sqlite://{tmp_path}/desk.sqlite3")
    code, _, err = await _cli(embedded, "serve", "--workers", "2", "--port", "1")
    assert code == 2
    assert "--workers > 1 needs PostgreSQL" in err
    assert not (tmp_path / "desk.sqlite3").exists()


async def test_attachments_sweep_removes_old_orphans(settings: Settings) -> None:
    # Given an orphaned file in the storage, from long ago
    orphan = Path(settings.attachments_dir) / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (time.time() - 7200, time.time() - 7200))
    # When the sweeper runs, first with a longer grace, then with the default hour
    assert (await _cli(settings, "attachments", "sweep", "--older-than", "10000"))[:2] == (
        0,
        "removed 0 orphaned file(s)\n",
    )
    code, out, _ = await _cli(settings, "attachments", "sweep")
    # Then it is gone
    assert (code, out) == (0, "removed 1 orphaned file(s)\n")
    assert not orphan.exists()


async def test_user_list_update_deactivate_and_activate(settings: Settings) -> None:
    # Given an admin and an agent with a token
    await accounts.create_user(email="root@example.com", name="Root", role=Role.ADMIN)
    agent = await accounts.create_user(email="ada@example.com", name="Ada", role=Role.AGENT)
    token = await accounts.issue_token(user=agent)

    # When the agent is made a manager with a new name and language
    code, out, _ = await _cli(
        settings, "user", "update", "--email", "ADA@example.com", "--role", "MANAGER",
        "--name", "Ada L.", "--locale", "fr", "--time-zone", "Europe/Paris",
    )  # fmt: skip
    assert (code, out) == (0, "updated MANAGER Ada L. <ada@example.com> (fr, Europe/Paris)\n")

    # And deactivated: signed out at once
    code, out, _ = await _cli(settings, "user", "deactivate", "--email", "ada@example.com")
    assert (code, out) == (0, "deactivated ada@example.com: signed out everywhere\n")
    assert await accounts.user_for_token(token=token) is None

    # Then the list shows everyone, active or not
    code, out, _ = await _cli(settings, "user", "list")
    assert (code, out.splitlines()) == (
        0,
        [
            "email\tname\trole\tlocale\ttime zone\tactive",
            "ada@example.com\tAda L.\tMANAGER\tfr\tEurope/Paris\tno",
            "root@example.com\tRoot\tADMIN\ten\tUTC\tyes",
        ],
    )

    # And activating lets them sign in again, though not with the revoked token
    code, _, _ = await _cli(settings, "user", "activate", "--email", "ada@example.com")
    assert code == 0
    assert (await User.get(id=agent.id)).is_active
    assert await accounts.user_for_token(token=token) is None


async def test_the_last_admin_is_not_deactivated_from_the_command_line(settings: Settings) -> None:
    await accounts.create_user(email="root@example.com", name="Root", role=Role.ADMIN)
    code, _, err = await _cli(settings, "user", "deactivate", "--email", "root@example.com")
    assert code == 2
    assert "last active admin" in err
    code, _, err = await _cli(
        settings, "user", "update", "--email", "root@example.com", "--role", "USER"
    )
    assert code == 2
    assert (await User.get(email="root@example.com")).role == Role.ADMIN


async def test_serve_refuses_several_workers_without_a_shared_key() -> None:
    # PostgreSQL (never reached: serve refuses first), so only the key is missing
    elsewhere = Settings(database_url="postgres://nobody@127.0.0.1:1/none")
    code, _, err = await _cli(elsewhere, "serve", "--workers", "2", "--port", "1")
    assert code == 2
    assert "--workers > 1 needs GQL_SUPPORT_SECRET_KEY" in err


async def test_serve_in_production_refuses_without_a_key_or_with_debug(tmp_path: Path) -> None:
    embedded = Settings(database_url=f"sqlite://{tmp_path}/desk.sqlite3")
    process = await start_cli(embedded, "serve", "--port", "1", GQL_SUPPORT_ENV="production")
    # A server that does not refuse would serve until killed: the deadline fails the test.
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "GQL_SUPPORT_SECRET_KEY is unset" in err.decode()
    process = await start_cli(
        embedded, "serve", "--port", "1",
        GQL_SUPPORT_ENV="production", GQL_SUPPORT_SECRET_KEY="k", GQL_SUPPORT_DEBUG="true",
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "GQL_SUPPORT_DEBUG is on" in err.decode()
    assert not (tmp_path / "desk.sqlite3").exists()


async def test_the_access_log_has_no_query_strings(tmp_path: Path) -> None:
    # Given a real server
    embedded = Settings(database_url=f"sqlite://{tmp_path}/desk.sqlite3")
    async with served(embedded) as server, httpx.AsyncClient(base_url=server.url) as http:
        # When a signed link is followed
        response = await http.get("/attachments/1?user=1&expires=1&signature=s3cr3t")
        assert response.status_code == 403
    # Then the access log shows the path, without the signature
    assert '"GET /attachments/1 HTTP/1.1" 403' in server.output
    assert "s3cr3t" not in server.output
