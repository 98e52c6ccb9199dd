"""Fixtures that create real things: a fresh database per test (a SQLite file copied from a
migrated template, or a PostgreSQL database cloned from a migrated template database), the
ASGI app over HTTP, and users with tokens.

PostgreSQL tests are skipped when no server answers, unless GQL_SUPPORT_TEST_REQUIRE_POSTGRES=1
(as in CI), which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from hypothesis.configuration import set_hypothesis_home_dir
from starlette.applications import Starlette
from tortoise.backends.base.executor import EXECUTOR_CACHE

from gql_support import db
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.api.app import create_app
from gql_support.api.ids import to_global_id
from gql_support.attachments.storage import S3Storage, s3_client
from gql_support.live import bus
from gql_support.settings import Settings
from tests.fuzz_tally import TALLY

POSTGRES_ADMIN_URL = os.environ.get(
    "GQL_SUPPORT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("GQL_SUPPORT_TEST_REQUIRE_POSTGRES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis caches what it reads in the code (from collection on) in its home folder: a
    temporary one, so the suite writes nothing into the checkout."""
    home = tempfile.mkdtemp(prefix="gqls-hypothesis-")
    set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def _pg_url(database: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every process it starts, works in its own temporary folder: whatever
    a default setting writes relative to the working directory stays out of the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(db.migrate(Settings(database_url=f"sqlite://{path}")))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"gqls_template_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    try:
        asyncio.run(db.migrate(Settings(database_url=_pg_url(name))))
        yield name
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, over real HTTP on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str) -> S3Storage:
    """A fresh bucket on moto's server, behind the S3 storage."""
    client = s3_client(
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )
    bucket = f"gqls-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Storage(client, bucket)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def template(backend: str, request: pytest.FixtureRequest) -> Any:
    """The migrated template of this test's backend (a file path or a database name)."""
    return request.getfixturevalue(f"{backend}_template")


@pytest.fixture
async def settings(backend: str, template: Any, tmp_path: Path) -> AsyncIterator[Settings]:
    """A fresh, migrated database for this test only, opened for Tortoise."""
    # Tortoise caches each model's INSERT statement by connection name, not by dialect: one
    # process serving SQLite and then PostgreSQL tests must start each test without it.
    EXECUTOR_CACHE.clear()
    # Change ids start again in every test database: start with a bus that has seen none.
    bus.use(bus.InProcessBus())
    # Files and email stay under the test's own directory, never in the checkout.
    folders = Settings(
        attachments_dir=str(tmp_path / "attachments"), mail_dir=str(tmp_path / "mail")
    )
    if backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        settings = folders.model_copy(update={"database_url": f"sqlite://{path}"})
        await db.open_database(settings)
        yield settings
        await db.close_database()
        return
    name = f"gqls_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    settings = folders.model_copy(update={"database_url": _pg_url(name)})
    try:
        await db.open_database(settings)
        yield settings
        await db.close_database()
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Person:
    user: User
    token: str

    @property
    def id(self) -> str:
        return to_global_id("User", self.user.id)


MakePerson = Callable[..., Awaitable[Person]]


@pytest.fixture
def make_person(settings: Settings) -> MakePerson:
    """Creates an active user of a role, with a token."""
    counter = iter(range(1, 10_000))

    async def make(role: Role = Role.USER, *, name: str | None = None, **extra: Any) -> Person:
        n = next(counter)
        user = await accounts.create_user(
            email=f"{role.value.lower()}{n}@example.com",
            name=name or f"{role.value.title()} {n}",
            role=role,
            **extra,
        )
        return Person(user=user, token=await accounts.issue_token(user=user))

    return make


class GraphQLClient:
    """Posts GraphQL operations over HTTP to the app, as a given person (or anonymously)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person | None = None
    ) -> httpx.Response:
        headers = {} if as_ is None else {"Authorization": f"Bearer {as_.token}"}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def upload(
        self,
        query: str,
        variables: dict[str, Any],
        files: list[tuple[str, bytes]],
        *,
        as_: Person | None = None,
        at: str = "input.attachments",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Posts an operation with files, as the GraphQL multipart request specification says:
        each file replaces a null at ``variables.<at>.<n>``. Sends Apollo-Require-Preflight
        unless ``headers`` say otherwise."""
        operations: dict[str, Any] = {"query": query, "variables": variables}
        target: Any = operations["variables"]
        *parents, leaf = at.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = [None] * len(files)
        mapping = {str(n): [f"variables.{at}.{n}"] for n in range(len(files))}
        sent = {"Apollo-Require-Preflight": "true"} if headers is None else dict(headers)
        if as_ is not None:
            sent["Authorization"] = f"Bearer {as_.token}"
        return await self.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
            files=[(str(n), (name, content)) for n, (name, content) in enumerate(files)],
            headers=sent,
        )

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: Person | None = None
    ) -> dict[str, Any]:
        """The ``data`` of a successful operation; fails the test on any GraphQL error."""
        response = await self.post(query, variables, as_=as_)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return dict(body["data"])


@pytest.fixture
async def gql(settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The app on a real uvicorn server on a free port: its base URL."""
    async with serve_app(create_app(settings, manage_database=False)) as url:
        yield url


@asynccontextmanager
async def serve_app(app: Starlette) -> AsyncIterator[str]:
    """An app on a real uvicorn server in this process, on a free port: its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no start-up event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@dataclass
class Served:
    """A ``gql-support serve`` process: its base URL and, once it has stopped, its output."""

    url: str
    process: asyncio.subprocess.Process
    output: str = ""


@asynccontextmanager
async def served(settings: Settings, **env: str) -> AsyncIterator[Served]:
    """``gql-support serve`` as a real process on a free port, without demo data, answering
    /healthz; stopped (SIGTERM) on the way out, its output kept."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await start_cli(
        settings, "serve", "--port", str(port), **{"GQL_SUPPORT_DEMO_DATA": "false", **env}
    )
    server = Served(f"http://127.0.0.1:{port}", process)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await http.get("/healthz")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, "the server stopped"
                    assert time.monotonic() < deadline, "the server did not start"
                    await asyncio.sleep(0.05)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        server.output = out.decode() + err.decode()


async def start_cli(settings: Settings, *args: str, **env: str) -> asyncio.subprocess.Process:
    """Starts ``gql-support`` as a real process on the test's database, files and mail server."""
    environment = {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": settings.database_url,
        "GQL_SUPPORT_ATTACHMENTS_DIR": settings.attachments_dir,
        "GQL_SUPPORT_SMTP_URL": settings.smtp_url,
        "GQL_SUPPORT_MAIL_FROM": settings.mail_from,
        "GQL_SUPPORT_MAIL_DIR": settings.mail_dir,
        **env,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql_support",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After a run of the model or the fuzzers (``make fuzz``): what they did, in a few lines
    (pytest's own lines above say what failed)."""
    if not TALLY:
        return
    terminalreporter.section("fuzz summary")
    for what, n in sorted(TALLY.items()):
        terminalreporter.write_line(f"{what}: {n}")
    outcomes = {k: len(v) for k, v in terminalreporter.stats.items() if k in ("passed", "failed")}
    terminalreporter.write_line(f"tests: {outcomes}")
