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
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
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


# --- bench.py save: Save/Send against plain asyncpg writing the same rows --------------------

SAVE = (
    "mutation Save($input: SaveIncidentInput!) { saveIncident(input: $input) {"
    " incident { number status version } errors { code message } } }"
)
SAVE_COMMENT = "Taken: looking at the ledger mapping now, will report back before noon."


def _psql(url: str, sql: str) -> list[str]:
    return [line for line in _run("psql", url, "-tAc", sql).splitlines() if line]


def _server_load(
    server: Server, bodies: list[Any], *, seconds: float, connections: int
) -> dict[str, float]:
    """Posts each body once from a client in its own process (load_client.py)."""
    body_file = ROOT / "var" / f"bench-bodies-{server.port}.json"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_text(json.dumps(bodies))
    cpu = server.cpu_seconds()
    out = _run(
        str(ROOT / ".venv/bin/python"), "benchmarks/load_client.py", server.url,
        str(body_file), str(seconds), str(connections), json.dumps(server.headers),
    )  # fmt: skip
    cpu = server.cpu_seconds() - cpu
    body_file.unlink()
    result = json.loads(out)
    if result["failures"]:
        raise RuntimeError(f"{server.name}: {result['failures']} failed: {result['first_failure']}")
    return {
        "req/s": result["requests"] / result["seconds"],
        "p50 ms": result["p50"],
        "p99 ms": result["p99"],
        "CPU ms/req": 1000 * cpu / max(result["requests"], 1),
    }


class _SaveFloor(Server):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/save"


def _stop(servers: list[Server]) -> None:
    for server in servers:
        try:
            server.stop()
        except subprocess.TimeoutExpired:
            assert server.process is not None
            server.process.kill()
            server.process.wait()


def save_main() -> None:
    """Save/Send (a status move and a comment, each on an incident of its own) through
    gql-support against save_floor.py, 10 connections, interleaved rounds, medians."""
    parser = argparse.ArgumentParser(description=save_main.__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--database", help="use this PostgreSQL URL as it is, without filling")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--before", metavar="DIR", help="also another checkout's gql_support/")
    args = parser.parse_args()
    url = args.database or _database(args.incidents, fresh=False)
    token = _run(
        str(ROOT / ".venv/bin/gql-support"), "token", "create", "--email", "manager@example.com",
        env={"GQL_SUPPORT_DATABASE_URL": url},
    ).strip()  # fmt: skip
    actor = _psql(url, "SELECT id FROM \"user\" WHERE email = 'manager@example.com'")[0]
    # Each request moves an incident of its own, in a shuffled order: NEW ones to IN_PROGRESS,
    # IN_PROGRESS ones to RESOLVED (ranks 1 and 3).
    moves = {"NEW": ("IN_PROGRESS", 1), "IN_PROGRESS": ("RESOLVED", 3)}
    fresh = iter(
        line.split("|")
        for line in _psql(
            url, "SELECT id, status FROM incident WHERE status IN ('NEW', 'IN_PROGRESS')"
            " ORDER BY random()",
        )
    )  # fmt: skip
    servers = [
        Server(
            "gql-support saveIncident", 8111,
            [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8111"], SAVE,
            # One user saves thousands of times a second here: no write quota.
            {"GQL_SUPPORT_DATABASE_URL": url, "GQL_SUPPORT_DEMO_DATA": "false",
             "GQL_SUPPORT_ACCESS_LOG": "false", "GQL_SUPPORT_WRITES_PER_MINUTE": "1000000",
             "GQL_SUPPORT_WRITE_BURST": "1000000"},
            {"authorization": f"Bearer {token}"},
        ),
        _SaveFloor(
            "Starlette + asyncpg (floor)", 8112,
            [str(ROOT / ".venv/bin/python"), "benchmarks/save_floor.py", url, "8112", actor],
            "", {}, {},
        ),
    ]  # fmt: skip
    if args.before:
        servers.append(
            Server(
                "gql-support saveIncident (before)", 8113,
                [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8113"], SAVE,
                {**servers[0].env, "PYTHONPATH": str(Path(args.before).resolve())},
                servers[0].headers,
            )
        )  # fmt: skip

    def bodies(server: Server, count: int) -> list[Any]:
        taken = [(int(i), *moves[s]) for _, (i, s) in zip(range(count), fresh, strict=False)]
        if server.port == 8112:
            return [
                {"incidentId": i, "status": to, "statusRank": rank, "comment": SAVE_COMMENT}
                for i, to, rank in taken
            ]
        return [
            {"query": SAVE, "variables": {"input": {
                "incidentId": base64.urlsafe_b64encode(f"Incident:{i}".encode()).decode(),
                "status": to, "comment": SAVE_COMMENT}}}
            for i, to, _ in taken
        ]  # fmt: skip

    results: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    try:
        for server in servers:
            server.start()
        print(f"load average {os.getloadavg()[0]:.1f} before the rounds", flush=True)
        for round_ in range(args.rounds):
            for server in servers:
                # At most 200 requests a second (enough here): NEW incidents are finite.
                _server_load(
                    server, bodies(server, int(200 * args.warmup)), seconds=args.warmup,
                    connections=args.connections,
                )  # fmt: skip
                figures = _server_load(
                    server, bodies(server, int(200 * args.duration)), seconds=args.duration,
                    connections=args.connections,
                )  # fmt: skip
                results[server.name].append(figures)
                shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
                print(f"round {round_ + 1} {server.name}: {shown}", flush=True)
    finally:
        _stop(servers)
    medians = {
        name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for name, rounds in results.items()
    }
    floor = medians["Starlette + asyncpg (floor)"]
    print(
        f"\nSave/Send (status move + comment), {args.connections} connections, "
        f"{args.duration:.0f} s x {args.rounds} rounds (medians), load average "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print("| server | req/s | p50 ms | p99 ms | CPU ms/req | req/s vs floor |")
    print("|---|---|---|---|---|---|")
    for name, m in medians.items():
        print(
            f"| {name} | {m['req/s']:.0f} | {m['p50 ms']:.1f} | {m['p99 ms']:.1f} "
            f"| {m['CPU ms/req']:.1f} | {m['req/s'] / floor['req/s']:.2f}x |"
        )


# --- bench.py latency: search and page latency, one client, at several sizes --------------

SEARCH_PAGE = (
    "query Search($words: String!) { incidents(filter: {search: $words}, first: 50,"
    " orderBy: {field: NUMBER, direction: DESC}) { totalCount nodes { number description"
    " status priority } } }"
)
#: The statements a search page runs (as the server writes them), for EXPLAIN ANALYZE.
_QUERY = "websearch_to_tsquery('{c}', '{{w}}')"
_MATCH = (
    f"((search_vector) @@ (CASE WHEN {_QUERY.format(c='english')} = {_QUERY.format(c='french')}"
    f" THEN {_QUERY.format(c='english')} ELSE {_QUERY.format(c='english')} ||"
    f' {_QUERY.format(c="french")} END) AND incident_search_read("incident"."id"))'
)
SEARCH_SQL = f"SELECT id, number FROM incident WHERE {_MATCH} = true"
SEARCH_SQL += " ORDER BY number DESC, id DESC LIMIT 51"
#: How counting.py counts a search alone: from the index, with no other condition.
SEARCH_COUNT_SQL = (
    "SELECT count(*) FROM incident WHERE search_vector @@ "
    + _MATCH.split(" @@ ", 1)[1].rsplit(" AND ", 1)[0]
)


def _latencies(server: Server, body: bytes, requests: int) -> dict[str, float]:
    timings = []
    for n in range(requests + 10):
        request = urllib.request.Request(
            server.url, body, {"Content-Type": "application/json", **server.headers}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        if "errors" in answer:
            raise RuntimeError(f"{server.name}: {answer['errors']}")
        if n >= 10:  # the first ten warm the caches
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"p50": timings[len(timings) // 2], "p99": timings[int(len(timings) * 0.99) - 1]}


def _explained_ms(url: str, sql: str) -> float:
    # As the server's pooled connections run it (db.SESSION_SETTINGS).
    out = _run(
        "psql", url, "-tAc", f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}",
        env={"PGOPTIONS": "-c jit=off"},
    )  # fmt: skip
    lines = [line for line in out.splitlines() if line]
    return float(json.loads("".join(lines))[0]["Execution Time"])


def latency_main() -> None:
    """Search and dashboard page latency, one client, at each size (filled once each)."""
    parser = argparse.ArgumentParser(description=latency_main.__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--word", default="banyan", help="a demo topic word: ~1 %% of incidents")
    parser.add_argument(
        "--databases",
        help="filled databases to use, one per size (names on the same server), instead of "
        "gqls_bench_<size>",
    )
    parser.add_argument(
        "--outbox",
        action="store_true",
        help="leave serve's outbox worker on (reminders written and sent as .eml files to a "
        "temporary folder), to measure pages while it catches up",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = args.databases.split(",") if args.databases else [None] * len(sizes)
    if len(names) != len(sizes):
        parser.error("--databases names one database per size")
    rows = []
    for size, name in zip(sizes, names, strict=True):
        url = _database(size, fresh=False) if name is None else f"{PG}/{name}"
        token = _run(
            str(ROOT / ".venv/bin/gql-support"), "token", "create", "--email",
            "manager@example.com", env={"GQL_SUPPORT_DATABASE_URL": url},
        ).strip()  # fmt: skip
        mail = tempfile.mkdtemp(prefix="bench-mail-")
        server = Server(
            "gql-support", 8121, [str(ROOT / ".venv/bin/gql-support"), "serve", "--port", "8121"],
            PAGE,
            {"GQL_SUPPORT_DATABASE_URL": url, "GQL_SUPPORT_DEMO_DATA": "false",
             "GQL_SUPPORT_ACCESS_LOG": "false", "GQL_SUPPORT_MAIL_DIR": mail,
             "GQL_SUPPORT_OUTBOX_IN_SERVE": str(args.outbox).lower()},
            {"authorization": f"Bearer {token}"},
        )  # fmt: skip
        search = json.dumps({"query": SEARCH_PAGE, "variables": {"words": args.word}}).encode()
        try:
            server.start()
            page = _latencies(server, server.body(), args.requests)
            found = _latencies(server, search, args.requests)
        finally:
            _stop([server])
            shutil.rmtree(mail)
        matches = int(_psql(url, SEARCH_COUNT_SQL.format(w=args.word))[0])
        rows.append(
            (size, matches, page, found, _explained_ms(url, SEARCH_SQL.format(w=args.word)),
             _explained_ms(url, SEARCH_COUNT_SQL.format(w=args.word)), os.getloadavg()[0])
        )  # fmt: skip
        print(f"{size}: page {page}, search {found}", flush=True)
    base = rows[0][2]["p99"]
    print(f"\nOne client, {args.requests} requests each (after 10 unmeasured), word {args.word!r}")
    print(
        "| incidents | page p50 ms | page p99 ms | page p99 vs first | matches | search p50 ms "
        "| search p99 ms | EXPLAIN page ms | EXPLAIN count ms | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, matches, page, found, plan, count, load in rows:
        print(
            f"| {size:,} | {page['p50']:.1f} | {page['p99']:.1f} | {page['p99'] / base:.2f}x "
            f"| {matches:,} | {found['p50']:.1f} | {found['p99']:.1f} | {plan:.1f} | {count:.1f} "
            f"| {load:.1f} |"
        )


if __name__ == "__main__":
    commands = {"save": save_main, "latency": latency_main}
    if len(sys.argv) > 1 and sys.argv[1] in commands:
        commands[sys.argv.pop(1)]()
    else:
        main()
