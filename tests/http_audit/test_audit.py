"""graphql-http's ``auditServer``, the reference conformance suite of GraphQL over HTTP (npm),
run by ``audit.js`` against a live server with a token: every audit ok, no warning.

graphql-http is installed from this folder's package-lock.json into a temporary folder. The
test needs ``node`` and ``npm``: it is skipped where they are missing, unless
GQL_SUPPORT_TEST_REQUIRE_NODE=1 (as in CI), which makes it fail instead."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from gql_support.accounts.models import Role
from tests.conftest import MakePerson

HERE = Path(__file__).parent
#: The number of audits graphql-http 1.23.1 runs against a server.
AUDITS = 61


@pytest.fixture(scope="session")
def graphql_http(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node_modules folder holding the pinned graphql-http."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "node and npm are needed to run graphql-http's auditServer"
        if os.environ.get("GQL_SUPPORT_TEST_REQUIRE_NODE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("http_audit")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, folder / name)
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "node_modules"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_server_passes_every_graphql_over_http_audit(
    graphql_http: Path, live_server: str, make_person: MakePerson
) -> None:
    # Given a signed-in user of a live server
    person = await make_person(Role.USER)

    # When graphql-http audits the server as that user
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "audit.js"),
        f"{live_server}/graphql",
        person.token,
        env={**os.environ, "NODE_PATH": str(graphql_http)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()

    # Then every audit passes, none with a warning
    results = json.loads(stdout)
    outcomes = Counter(result["status"] for result in results)
    failures = [f"{r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    assert failures == []
    assert outcomes == {"ok": AUDITS}
