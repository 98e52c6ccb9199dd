"""Schemathesis against a live server: every query and mutation, with a manager's token.

Schemathesis (4.x still loads GraphQL schemas, through hypothesis-graphql) reads the schema by
introspection from a real ``gql-support serve`` process and generates whole documents for each
root field: random selections, random arguments that fit their types. Whatever it sends, no
answer is a 5xx and none is "Unexpected error.". ``tests/api/test_fuzz_arguments.py`` throws
hostile values at each argument; this one varies the documents themselves.

``GQL_SUPPORT_TEST_SCHEMATHESIS_EXAMPLES`` (default 10) sets the examples per field;
``make fuzz`` runs many more.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.graphql.schemas import GraphQLSchema

from gql_support.api.schema import build_schema
from tests.fuzz_tally import count

MANAGER = "manager@example.com"
EXAMPLES = int(os.environ.get("GQL_SUPPORT_TEST_SCHEMATHESIS_EXAMPLES", "10"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": f"sqlite://{folder / 'desk.sqlite3'}",
        "GQL_SUPPORT_ATTACHMENTS_DIR": str(folder / "attachments"),
        "GQL_SUPPORT_MAIL_DIR": str(folder / "mail"),
        "GQL_SUPPORT_DEMO_DATA": "false",
        # The fuzzer writes far faster than a person: the write limit is not what it tests.
        "GQL_SUPPORT_WRITES_PER_MINUTE": "1000000",
        "GQL_SUPPORT_WRITE_BURST": "1000000",
    }


def _cli(folder: Path, *args: str) -> str:
    """Runs a ``gql-support`` command to its end: what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "gql_support", *args],
        env=_environment(folder),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("schemathesis")


@pytest.fixture(scope="module")
def server(server_folder: Path) -> Iterator[tuple[str, str]]:
    """A ``gql-support serve`` process on its own SQLite file: its URL and a manager's token."""
    folder = server_folder
    _cli(folder, "migrate")
    created = _cli(folder, "user", "create", "--email", MANAGER, "--name", "M", "--role", "MANAGER")
    token = created.strip().splitlines()[-1]
    port = _free_port()
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gql_support", "serve", "--port", str(port)],
        env=_environment(folder),
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, (folder / "serve.log").read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    # Something to find, so generated IDs are not the only ones.
    report = (
        'mutation { reportIncident(input: {description: "Printer on fire"}) { errors { code } } }'
    )
    httpx.post(
        f"{url}/graphql", json={"query": report}, headers={"Authorization": f"Bearer {token}"}
    )
    yield url, token
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def graphql_schema(server: tuple[str, str]) -> GraphQLSchema:
    url, token = server
    return schemathesis.graphql.from_url(
        f"{url}/graphql", config=SchemathesisConfig(), headers={"Authorization": f"Bearer {token}"}
    )


#: Every root field over HTTP (subscriptions go over WebSocket).
CODE_SCHEMA = build_schema()
ROOT_FIELDS = [
    f"{root.name}.{name}"
    for root in (CODE_SCHEMA._schema.query_type, CODE_SCHEMA._schema.mutation_type)
    if root is not None
    for name in root.fields
]


@pytest.mark.parametrize("label", ROOT_FIELDS)
def test_no_server_error_and_no_unexpected_error(
    label: str, graphql_schema: GraphQLSchema, server: tuple[str, str], server_folder: Path
) -> None:
    url, token = server
    if label == "Mutation.logout":
        # Logging out revokes the token it is sent with: not the one the other fields use.
        token = _cli(server_folder, "token", "create", "--email", MANAGER).strip()
    operation = graphql_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"})
        count(f"schemathesis: requests, answered {response.status_code}")
        assert response.status_code < 500, response.text
        assert "Unexpected error" not in response.text, (case.body, response.text)

    check()
    count(f"schemathesis: fields fuzzed, up to {EXAMPLES} examples each")
    if label != "Mutation.logout":
        # Still signed in: the examples were not all turned away at the door.
        viewer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert viewer.json()["data"]["viewer"] is not None, viewer.text
