"""``make bench``: the dashboard page served by gql-support, by PostGraphile 4 over the same
tables, and by a plain Starlette + asyncpg floor (floor.py), loaded in turn by autocannon.

Run by hand (``make bench`` passes BENCH_ARGS):
    .venv/bin/python benchmarks/bench.py [--incidents 100000] [--rounds 3] [--duration 10]
        [--database URL] [--before DIR] [--sqlite FILE]
It fills a PostgreSQL database ``gqls_bench_<incidents>`` with ``gql-support demo`` once (kept
for the next run; ``--fresh`` fills it again), installs autocannon and PostGraphile with npm
under ``var/bench-node/`` (ignored by git), starts the three servers (one process each), checks
that they answer the same 50 incidents with the same values, then for each round loads each
server in turn (interleaved, so load from elsewhere on the machine hits all three alike):
``--warmup`` seconds unmeasured, then ``--duration`` seconds with ``--connections`` clients.
It prints the median over rounds of req/s, p50 and p99 latency and the server's CPU time per
request (user + system, from /proc), and each figure's ratio to PostGraphile and to the floor
of the same run. README.md in this folder says how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "var" / "bench-node"
NODE_PACKAGES = ("autocannon@7.15.0", "postgraphile@4.14.1")
PG = "postgres://postgres@127.0.0.1:5432"

PAGE = (
    "{ incidents(first: 50, orderBy: {field: NUMBER, direction: DESC}) { totalCount nodes {"
    " number description status priority dueDate reporter { name } assignedTo { name }"
    " supportedBy { name } comments { totalCount } } } }"
)
POSTGRAPHILE_PAGE = (
    "{ allIncidents(first: 50, orderBy: NUMBER_DESC) { totalCount nodes {"
    " number description status priority dueDate userByReporterId { name }"
    " userByAssignedToId { name }"
    " incidentSupportersByIncidentId { nodes { userByUserId { name } } }"
    " commentsByIncidentId { totalCount } } } }"
)


@dataclass
class Server:
    name: str
    port: int
    command: list[str]
    query: str
    env: dict[str, str]
    headers: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def body(self) -> bytes:
        return json.dumps({"query": self.query}).encode()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def ask(self) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url, self.body(), {"Content-Type": "application/json", **self.headers}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.load(response))


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, env={**os.environ, **(env or {})}, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _database(incidents: int, *, fresh: bool) -> str:
    name = f"gqls_bench_{incidents}"
    url = f"{PG}/{name}"
    exists = _run(
        "psql", f"{PG}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
    )
    if exists.strip() and not fresh:
        return url
    _run("psql", f"{PG}/postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _run("psql", f"{PG}/postgres", "-c", f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    out = _run(
        str(ROOT / ".venv/bin/gql-support"), "demo", "--incidents", str(incidents),
        env={"GQL_SUPPORT_DATABASE_URL": url},
    )  # fmt: skip
    print(f"filled {name} in {time.monotonic() - started:.0f} s: {out.strip().splitlines()[-1]}")
    _settle(url)
    return url


def _settle(url: str) -> None:
    """Vacuums and analyses a freshly filled database, as autovacuum would soon after: without
    it, the first rounds ran on stale statistics (a correlated subquery planned as a sequential
    scan per row) and ``count(*)`` read every heap page instead of the visibility map."""
    _run("psql", url, "-qc", "VACUUM ANALYZE")


def _sqlite_server(database: str, token_email: str) -> Server:
    """gql-support on an embedded SQLite database filled by ``gql-support demo`` (PostGraphile
    and the floor have no SQLite side: the row compares with them as any other)."""
    url = database if database.startswith("sqlite:") else f"sqlite://{Path(database).resolve()}"
    env = {"GQL_SUPPORT_DATABASE_URL": url}
    token = _run(
        str(ROOT / ".venv/bin/gql-support"), "token", "create", "--email", token_email, env=env
    ).strip()
    return Server(
        "gql-support (SQLite)",
        8105,
        [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8105"],
        PAGE,
        {
            **env,
            "GQL_SUPPORT_DEMO_DATA": "false",
            "GQL_SUPPORT_ACCESS_LOG": "false",
            "GQL_SUPPORT_OUTBOX_IN_SERVE": "false",
        },
        {"authorization": f"Bearer {token}"},
    )


def _node_tools() -> Path:
    bin_dir = NODE_DIR / "node_modules" / ".bin"
    if not (bin_dir / "postgraphile").exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        _run("npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", *NODE_PACKAGES)
    return bin_dir


def _same_page(gql: dict[str, Any], postgraphile: dict[str, Any], floor: dict[str, Any]) -> None:
    """Fails unless the three answers hold the same incidents with the same values."""
    ours = gql["data"]["incidents"]
    theirs = postgraphile["data"]["allIncidents"]
    mapped = {
        "totalCount": theirs["totalCount"],
        "nodes": [
            {
                "number": n["number"],
                "description": n["description"],
                "status": n["status"],
                "priority": n["priority"],
                "dueDate": n["dueDate"],
                "reporter": n["userByReporterId"],
                "assignedTo": n["userByAssignedToId"],
                "supportedBy": sorted(
                    (s["userByUserId"] for s in n["incidentSupportersByIncidentId"]["nodes"]),
                    key=lambda user: user["name"],
                ),
                "comments": {"totalCount": n["commentsByIncidentId"]["totalCount"]},
            }
            for n in theirs["nodes"]
        ],
    }

    def instants(page: dict[str, Any]) -> dict[str, Any]:
        # PostGraphile writes instants in the server's time zone: compare them as instants.
        from datetime import datetime

        for node in page["nodes"]:
            if node["dueDate"] is not None:
                node["dueDate"] = datetime.fromisoformat(node["dueDate"]).timestamp()
        return page

    assert instants(json.loads(json.dumps(ours))) == instants(mapped), "PostGraphile differs"
    assert ours == floor["data"]["incidents"], "the floor differs"


def _load(server: Server, bin_dir: Path, *, seconds: float, connections: int) -> dict[str, float]:
    headers = [
        f"{k}={v}" for k, v in {"content-type": "application/json", **server.headers}.items()
    ]
    command = [str(bin_dir / "autocannon"), "-j", "-c", str(connections), "-d", str(seconds)]
    command += ["-m", "POST", "-b", server.body().decode()]
    for header in headers:
        command += ["-H", header]
    cpu = server.cpu_seconds()
    out = _run(*command, server.url)
    cpu = server.cpu_seconds() - cpu
    result = json.loads(out)
    requests = result["requests"]["total"]
    if result["non2xx"] or result["errors"]:
        raise RuntimeError(f"{server.name}: {result['non2xx']} non-2xx, {result['errors']} errors")
    return {
        "req/s": requests / result["duration"],
        "p50 ms": result["latency"]["p50"],
        "p99 ms": result["latency"]["p99"],
        "CPU ms/req": 1000 * cpu / max(requests, 1),
    }


def _table(results: dict[str, list[dict[str, float]]]) -> str:
    medians = {
        name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for name, rounds in results.items()
    }
    base, floor = medians["PostGraphile 4.14.1"], medians["Starlette + asyncpg (floor)"]
    lines = [
        "| server | req/s | p50 ms | p99 ms | CPU ms/req | req/s vs PostGraphile | req/s vs floor "
        "| p99 vs PostGraphile |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in medians.items():
        lines.append(
            f"| {name} | {m['req/s']:.0f} | {m['p50 ms']:.0f} | {m['p99 ms']:.0f} "
            f"| {m['CPU ms/req']:.1f} | {m['req/s'] / base['req/s']:.2f}x "
            f"| {m['req/s'] / floor['req/s']:.2f}x | {m['p99 ms'] / base['p99 ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--fresh", action="store_true", help="fill the database again")
    parser.add_argument("--database", help="use this PostgreSQL URL as it is, without filling")
    parser.add_argument(
        "--sqlite",
        metavar="FILE",
        help="also load gql-support on this SQLite database (filled with `gql-support demo`)",
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also load gql-support as of another checkout (its gql_support/ package in DIR, "
        "e.g. from `git archive`), for before/after figures",
    )
    args = parser.parse_args()
    if shutil.which("npm") is None:
        sys.exit("make bench needs npm (PostGraphile and autocannon)")
    url = args.database or _database(args.incidents, fresh=args.fresh)
    bin_dir = _node_tools()
    token = _run(
        str(ROOT / ".venv/bin/gql-support"), "token", "create", "--email", "manager@example.com",
        env={"GQL_SUPPORT_DATABASE_URL": url},
    ).strip()  # fmt: skip
    servers = [
        Server(
            "gql-support",
            8101,
            [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8101"],
            PAGE,
            {
                "GQL_SUPPORT_DATABASE_URL": url,
                "GQL_SUPPORT_DEMO_DATA": "false",
                "GQL_SUPPORT_ACCESS_LOG": "false",
                # The demo's queued email is not the page's work (PostGraphile sends none).
                "GQL_SUPPORT_OUTBOX_IN_SERVE": "false",
            },
            {"authorization": f"Bearer {token}"},
        ),
        Server(
            "PostGraphile 4.14.1",
            8102,
            [
                str(bin_dir / "postgraphile"),
                "-c",
                url,
                "--port",
                "8102",
                "--host",
                "127.0.0.1",
                "--disable-query-log",
                "--simple-collections",
                "omit",
            ],
            POSTGRAPHILE_PAGE,
            {},
            {},
        ),
        Server(
            "Starlette + asyncpg (floor)",
            8103,
            [str(ROOT / ".venv/bin/python"), "benchmarks/floor.py", url, "8103"],
            PAGE,
            {},
            {},
        ),
    ]
    if args.before:
        servers.append(
            Server(
                "gql-support (before)",
                8104,
                [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8104"],
                PAGE,
                {
                    "GQL_SUPPORT_DATABASE_URL": url,
                    "GQL_SUPPORT_DEMO_DATA": "false",
                    "GQL_SUPPORT_ACCESS_LOG": "false",
                    "GQL_SUPPORT_OUTBOX_IN_SERVE": "false",
                    "PYTHONPATH": str(Path(args.before).resolve()),
                },
                {"authorization": f"Bearer {token}"},
            )
        )
    if args.sqlite:
        servers.append(_sqlite_server(args.sqlite, "manager@example.com"))
    results: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    try:
        for server in servers:
            server.start()
        answers = [server.ask() for server in servers]
        _same_page(*answers[:3])
        for server, answer in zip(servers[3:], answers[3:], strict=True):
            if server.name == "gql-support (before)":
                assert answer == answers[0], "before differs"
            else:
                assert "errors" not in answer, answer
        total = answers[0]["data"]["incidents"]["totalCount"]
        load = os.getloadavg()
        print(f"same 50 incidents from all three; load average {load[0]:.1f} before the rounds")
        for round_ in range(args.rounds):
            for server in servers:
                _load(server, bin_dir, seconds=args.warmup, connections=args.connections)
                figures = _load(
                    server, bin_dir, seconds=args.duration, connections=args.connections
                )
                results[server.name].append(figures)
                shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
                print(f"round {round_ + 1} {server.name}: {shown}", flush=True)
    finally:
        for server in servers:
            server.stop()
    print()
    print(
        f"Dashboard page, {total} incidents, {args.connections} connections, "
        f"{args.duration:.0f} s x {args.rounds} rounds (medians), load average "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(_table(results))


if __name__ == "__main__":
    main()
