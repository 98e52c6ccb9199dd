"""Soak with faults: a busy desk through a PostgreSQL restart and a killed server process.

Run by hand:  make soak   (or .venv/bin/python benchmarks/soak.py [--seconds 60] [--clients 50])

PostgreSQL: a private cluster, made here with ``initdb`` in a temporary folder on a free port
(the binaries of /usr/lib/postgresql/*/bin, run as the ``postgres`` user when we are root) and
restarted with ``pg_ctl``. A soak must never take down a shared server: other work (a test
suite, another developer) may be using the machine's PostgreSQL.

It starts an SMTP server (aiosmtpd, in this process, counting each Message-ID), two
``gql-support serve`` processes and one ``gql-support worker`` on that cluster, then runs
``--clients`` clients for ``--seconds`` (reads, reports, Save/Sends, comments, each on either
server) and two ``incidentUpdates`` subscribers per server. A third of the way in PostgreSQL is
restarted; two thirds in, the second server is SIGKILLed and started again. Every request has a
``REQUEST_TIMEOUT`` bound: an answer that does not come by then counts as lost. Outage and
recovery are read from each server's ``/readyz`` (and ``/metrics`` where the server has them;
else from a query that reads the database).

Afterwards the checker proves, from the database and the SMTP server's counts:
- every acknowledged change is in the database exactly once, every refused or failed one left
  nothing (a request lost with its server, or answered ``OUTCOME_UNKNOWN`` because the database
  went away during its commit, may have committed: at most once);
- each incident's history replays to its status, and its version counts its changes;
- each subscriber saw every change committed while it was connected, or was told it fell behind
  (closed with 4008) or that its connection broke (no close frame, 1011, 1012, 1013)
  (connected: from its ``subscribe`` to its close, for an attempt that was acknowledged; after
  the clients stop, each subscriber stays until nothing arrives for ``QUIET`` seconds, so a
  subscription still working through its queue is not counted as losing what it would send);
- every outbox row was sent, and each Message-ID reached the SMTP server exactly once.

Then the SQLite soak: ``--sqlite-writers`` writers for ``--sqlite-seconds`` on one server on the
embedded database; no "database is locked" may reach a client.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

REQUEST_TIMEOUT = 15.0
#: A change this close to a subscriber's connecting or dropping may fall on either side.
WINDOW_MARGIN = 2.0
#: How a connection can end that tells its subscriber it may have missed changes: 4008 (fell
#: behind), or an abnormal end (no close frame: its server died; 1011 server error, 1012
#: restart, 1013 try again later). A killed server takes with it the changes it had not sent
#: yet; graphql-transport-ws has no resume, so a client re-reads after any such reconnect.
TOLD = frozenset({"4008", "dropped", "1006", "1011", "1012", "1013"})
#: After the clients stop, a subscriber leaves once nothing arrived for this many seconds...
QUIET = 3.0
#: ...or this long after the clients stopped, whichever comes first.
DRAIN_BOUND = 60.0
METRICS_TOKEN = "soak-metrics"
HEADERS_OF = "Authorization"

REPORT = """mutation($d: String!) { reportIncident(input: {description: $d}) {
  incident { id } errors { code } } }"""
COMMENT = """mutation($i: ID!, $b: String!) { addComment(input: {incidentId: $i, body: $b}) {
  comment { id } errors { code } } }"""
SAVE = """mutation($i: ID!, $c: String!, $s: IncidentStatus!) {
  saveIncident(input: {incidentId: $i, comment: $c, status: $s}) {
  incident { version } errors { code } } }"""
READ = "{ incidents(first: 20) { nodes { id number status version } } }"
UPDATES = "subscription { incidentUpdates { kind incident { id } events { id } } }"
STATUSES = ["IN_PROGRESS", "ON_HOLD", "RETESTING", "RESOLVED", "CLOSED", "REJECTED"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pk(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id.encode()).decode().split(":", 1)[1])


# --- the private PostgreSQL --------------------------------------------------------------------


class Cluster:
    """A PostgreSQL cluster of our own, in a temporary folder, on a free port."""

    def __init__(self, folder: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            sys.exit("the soak needs PostgreSQL's binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(binaries[-1]).parent
        self.data = folder / "pgdata"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"
        folder.chmod(0o755)

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        log = str(self.data / "server.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", log, "-w", "-m", "fast", "-o", options, action
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop")


# --- the SMTP server ----------------------------------------------------------------------------


class Counting:
    """An aiosmtpd handler that counts each Message-ID it receives."""

    def __init__(self) -> None:
        self.message_ids: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        for line in text.splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids[line.split(":", 1)[1].strip()] += 1
                break
        return "250 OK"


# --- the processes ------------------------------------------------------------------------------


@dataclass
class Server:
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gql_support", *self.args],
                env=self.env,
                cwd=self.log.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def environment(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": database_url,
        "GQL_SUPPORT_ATTACHMENTS_DIR": str(folder / "attachments"),
        "GQL_SUPPORT_MAIL_DIR": str(folder / "mail"),
        "GQL_SUPPORT_DEMO_DATA": "false",
        "GQL_SUPPORT_SECRET_KEY": "soak-" + uuid.uuid4().hex,
        "GQL_SUPPORT_WRITES_PER_MINUTE": "1000000",
        "GQL_SUPPORT_WRITE_BURST": "1000000",
        "GQL_SUPPORT_METRICS_TOKEN": METRICS_TOKEN,
        **extra,
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gql_support", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"gql-support {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def make_people(env: dict[str, str]) -> dict[str, str]:
    """A manager, two agents, two users: their tokens by role name."""
    roles = {"manager": "MANAGER", "agent1": "AGENT", "agent2": "AGENT", "user1": "USER"}
    roles["user2"] = "USER"
    return {
        name: cli(
            env, "user", "create", "--email", f"{name}@example.com", "--name", name, "--role", role
        )
        .strip()
        .splitlines()[-1]
        for name, role in roles.items()
    }


async def ready(client: httpx.AsyncClient, server: Server, token: str) -> bool:
    """Whether the server answers and reaches its database (``/readyz`` where it has one)."""
    try:
        response = await client.get(f"{server.url}/readyz", timeout=3)
        if response.status_code != 404:
            return response.status_code == 200
        answer = await client.post(
            f"{server.url}/graphql",
            json={"query": "{ viewer { id } }"},
            headers={HEADERS_OF: f"Bearer {token}"},
            timeout=3,
        )
        return answer.status_code == 200 and "errors" not in answer.json()
    except (httpx.HTTPError, ValueError):
        return False


async def wait_ready(servers: list[Server], token: str, within: float = 60) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        while not all([await ready(client, s, token) for s in servers]):
            if time.monotonic() - started > within:
                raise RuntimeError("servers not ready")
            await asyncio.sleep(0.1)
    return time.monotonic() - started


# --- the clients --------------------------------------------------------------------------------


@dataclass
class Op:
    kind: str
    marker: str | None
    outcome: str  # ok, refused, error, unknown (OUTCOME_UNKNOWN), lost
    seconds: float
    detail: str = ""


@dataclass
class Soak:
    servers: list[Server]
    tokens: dict[str, str]
    deadline: float
    incidents: list[str] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    texts: Counter[str] = field(default_factory=Counter)
    #: Seconds from each change's commit to its arrival at each subscriber that saw it.
    lags: list[float] = field(default_factory=list)
    missed: Counter[int] = field(default_factory=Counter)


async def send(
    soak: Soak,
    client: httpx.AsyncClient,
    kind: str,
    query: str,
    variables: dict[str, Any],
    token: str,
    marker: str | None = None,
) -> dict[str, Any] | None:
    server = random.choice(soak.servers)
    started = time.monotonic()
    try:
        response = await client.post(
            f"{server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={HEADERS_OF: f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT,
        )
    except httpx.HTTPError as error:
        soak.ops.append(Op(kind, marker, "lost", time.monotonic() - started, type(error).__name__))
        return None
    seconds = time.monotonic() - started
    text = response.text
    for needle in ("database is locked", "Unexpected error"):
        if needle in text:
            soak.texts[needle] += 1
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or body.get("errors") or not body.get("data"):
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
        detail = f"{response.status_code} {codes}"
        outcome = "unknown" if "OUTCOME_UNKNOWN" in codes else "error"
        soak.ops.append(Op(kind, marker, outcome, seconds, detail))
        return None
    payload = next(iter(body["data"].values()))
    if isinstance(payload, dict) and payload.get("errors"):
        soak.ops.append(Op(kind, marker, "refused", seconds, payload["errors"][0]["code"]))
        return None
    soak.ops.append(Op(kind, marker, "ok", seconds))
    return dict(body["data"])


async def client_loop(soak: Soak, n: int) -> None:
    people = sorted(soak.tokens)
    async with httpx.AsyncClient() as client:
        while time.monotonic() < soak.deadline:
            token = soak.tokens[random.choice(people)]
            roll = random.random()
            marker = f"soak-{uuid.uuid4().hex}"
            if roll < 0.4 or not soak.incidents:
                if roll < 0.15 or not soak.incidents:
                    data = await send(soak, client, "report", REPORT, {"d": marker}, token, marker)
                    if data:
                        soak.incidents.append(data["reportIncident"]["incident"]["id"])
                else:
                    await send(soak, client, "read", READ, {}, token)
            elif roll < 0.7:
                variables = {"i": random.choice(soak.incidents), "b": marker}
                await send(soak, client, "comment", COMMENT, variables, token, marker)
            else:
                variables = {
                    "i": random.choice(soak.incidents),
                    "c": marker,
                    "s": random.choice(STATUSES),
                }
                await send(soak, client, "save", SAVE, variables, soak.tokens["manager"], marker)
            await asyncio.sleep(random.uniform(0.05, 0.3))


@dataclass
class Subscriber:
    server: Server
    windows: list[tuple[float, float]] = field(default_factory=list)
    behind: list[tuple[float, float]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    #: When each event id first arrived (time.time()).
    arrived: dict[int, float] = field(default_factory=dict)
    closes: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)


async def subscribe_loop(soak: Soak, sub: Subscriber, token: str) -> None:
    url = sub.server.url.replace("http", "ws") + "/graphql"
    while time.monotonic() < soak.deadline:
        start = time.time()
        code = "refused"
        # Only an attempt that got its connection_ack and sent its subscribe was connected: a
        # handshake or an init that timed out (5 s) is not a window in which to expect changes.
        subscribed = False
        try:
            async with websockets.connect(
                url,
                subprotocols=["graphql-transport-ws"],
                open_timeout=5,
                close_timeout=1,  # type: ignore[list-item]
            ) as ws:
                init = {"type": "connection_init", "payload": {HEADERS_OF: f"Bearer {token}"}}
                await ws.send(json.dumps(init))
                acknowledged = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if acknowledged.get("type") != "connection_ack":
                    raise RuntimeError(f"init answered {acknowledged}")
                await ws.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}})
                )
                start = time.time()
                subscribed = True
                last = time.monotonic()
                while time.monotonic() < soak.deadline + DRAIN_BOUND:
                    now = time.monotonic()
                    if now > soak.deadline and now - max(last, soak.deadline) > QUIET:
                        break
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    except TimeoutError:
                        continue
                    last = time.monotonic()
                    sub.messages[message.get("type", "?")] += 1
                    if message.get("type") != "next":
                        sub.messages[json.dumps(message)[:300]] += 1
                    if message.get("type") == "next":
                        update = message["payload"]["data"]["incidentUpdates"]
                        for event in update["events"]:
                            sub.seen.add(pk(event["id"]))
                            sub.arrived.setdefault(pk(event["id"]), time.time())
                code = "done"
        except websockets.ConnectionClosed as closed:
            code = str(closed.rcvd.code if closed.rcvd else "dropped")
        except (OSError, TimeoutError, RuntimeError, websockets.InvalidHandshake) as error:
            code = type(error).__name__
        end = time.time()
        sub.closes[code] += 1
        if subscribed:
            (sub.behind if code in TOLD else sub.windows).append((start, end))
        if code != "done":
            await asyncio.sleep(0.5)


# --- the faults ---------------------------------------------------------------------------------


async def recovery(servers: list[Server], token: str, fault: Any) -> float:
    """Runs the fault; returns the seconds from its start until every server is ready again."""
    started = time.monotonic()
    await asyncio.to_thread(fault)
    await wait_ready(servers, token, within=120)
    return time.monotonic() - started


async def metrics(servers: list[Server]) -> dict[str, float]:
    """The counters the operator watches, summed over the servers (empty without /metrics)."""
    wanted = ("gql_support_bus_reconnects_total", "gql_support_bus_replayed_changes_total")
    totals: dict[str, float] = {}
    async with httpx.AsyncClient() as client:
        for server in servers:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(
                    f"{server.url}/metrics", headers={HEADERS_OF: f"Bearer {METRICS_TOKEN}"}
                )
                if response.status_code != 200:
                    continue
                for line in response.text.splitlines():
                    name, _, value = line.partition(" ")
                    if name.split("{")[0] in wanted:
                        totals[name] = totals.get(name, 0) + float(value)
    return totals


# --- the checker --------------------------------------------------------------------------------


async def check(database_url: str, soak: Soak, subs: list[Subscriber], smtp: Counting) -> list[str]:
    problems: list[str] = []
    conn = await asyncpg.connect(database_url)
    try:
        found: Counter[str] = Counter()
        for row in await conn.fetch(
            "SELECT description AS t FROM incident UNION ALL SELECT body FROM comment"
        ):
            found[row["t"]] += 1
        for op in soak.ops:
            if op.marker is None:
                continue
            count = found[op.marker]
            if op.outcome == "ok" and count != 1:
                problems.append(f"acknowledged {op.kind} {op.marker} is there {count} times")
            if op.outcome in ("refused", "error") and count != 0:
                problems.append(
                    f"{op.outcome} {op.kind} {op.marker} left {count} rows ({op.detail})"
                )
            if op.outcome in ("unknown", "lost") and count > 1:
                problems.append(f"{op.outcome} {op.kind} {op.marker} is there {count} times")
        changes = await conn.fetch("SELECT incident_id, event_ids, created_at FROM incident_change")
        per_incident = Counter(row["incident_id"] for row in changes)
        for incident in await conn.fetch("SELECT id, status, version FROM incident"):
            status = "NEW"
            events = await conn.fetch(
                "SELECT from_value, to_value FROM incident_event WHERE incident_id = $1 "
                "AND kind = 'STATUS_CHANGED' ORDER BY id",
                incident["id"],
            )
            for event in events:
                if event["from_value"] != status:
                    problems.append(f"incident {incident['id']}: history breaks at {event}")
                status = event["to_value"]
            if status != incident["status"]:
                problems.append(
                    f"incident {incident['id']}: history ends {status}, is {incident['status']}"
                )
            if incident["version"] != per_incident[incident["id"]]:
                problems.append(
                    f"incident {incident['id']}: version {incident['version']}, "
                    f"{per_incident[incident['id']]} changes logged"
                )
        for n, sub in enumerate(subs):
            for row in changes:
                at = row["created_at"].timestamp()
                inside = any(a + WINDOW_MARGIN <= at <= b - WINDOW_MARGIN for a, b in sub.windows)
                behind = any(a <= at <= b for a, b in sub.behind)
                ids = set(
                    json.loads(row["event_ids"])
                    if isinstance(row["event_ids"], str)
                    else row["event_ids"]
                )
                if inside and not behind and not ids <= sub.seen:
                    soak.missed[n] += 1
                    problems.append(
                        f"subscriber {n} missed change of incident "
                        f"{row['incident_id']} at {datetime.fromtimestamp(at)}"
                    )
                if ids and ids <= sub.seen:
                    soak.lags.append(max(sub.arrived[i] for i in ids) - at)
        outbox = await conn.fetch("SELECT id, status FROM outbox_message")
        pending = [row["id"] for row in outbox if row["status"] != "SENT"]
        if pending:
            problems.append(f"{len(pending)} outbox rows not SENT: {pending[:10]}")
        domain = None
        for message_id, count in smtp.message_ids.items():
            domain = message_id.rsplit("@", 1)[-1]
            if count != 1:
                problems.append(f"{message_id} delivered {count} times")
        expected = {f"<notice-{row['id']}@{domain}" for row in outbox if row["status"] == "SENT"}
        missing = expected - set(smtp.message_ids)
        if missing:
            problems.append(f"{len(missing)} SENT rows never reached the SMTP server")
        return problems
    finally:
        await conn.close()


# --- the runs -----------------------------------------------------------------------------------


async def postgres_soak(args: argparse.Namespace, folder: Path) -> bool:
    cluster = Cluster(folder)
    cluster.init()
    smtp = Counting()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    servers: list[Server] = []
    worker: Server | None = None
    try:
        admin = await asyncpg.connect(cluster.url + "/postgres")
        await admin.execute("CREATE DATABASE soak")
        await admin.close()
        database_url = cluster.url + "/soak"
        env = environment(
            database_url,
            folder,
            GQL_SUPPORT_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
            GQL_SUPPORT_OUTBOX_IN_SERVE="false",
            GQL_SUPPORT_OUTBOX_POLL_SECONDS="1",
            GQL_SUPPORT_OUTBOX_RETRY_BASE_SECONDS="1",
            GQL_SUPPORT_OUTBOX_RETRY_MAX_SECONDS="5",
            # A claim whose commit answer the restart cut off leaves its rows leased, not lost,
            # until the lease ends (300 s by default): short here, so the drain can wait for it.
            GQL_SUPPORT_OUTBOX_LEASE_SECONDS="30",
        )
        cli(env, "migrate")
        tokens = make_people(env)
        for n in range(2):
            server = Server(["serve", "--port", "0"], env, folder / f"server{n}.log")
            server.port = free_port()
            server.args = ["serve", "--port", str(server.port)]
            server.start()
            servers.append(server)
        worker = Server(["worker"], env, folder / "worker.log")
        worker.start()
        await wait_ready(servers, tokens["manager"])
        soak = Soak(servers, tokens, deadline=time.monotonic() + args.seconds)
        subs = [Subscriber(server) for server in servers for _ in range(2)]
        tasks = [asyncio.create_task(subscribe_loop(soak, s, tokens["agent1"])) for s in subs]
        await asyncio.sleep(1)
        tasks += [asyncio.create_task(client_loop(soak, n)) for n in range(args.clients)]
        await asyncio.sleep(args.seconds / 3)
        pg_back = await recovery(servers, tokens["manager"], cluster.restart)
        await asyncio.sleep(max(0.0, soak.deadline - time.monotonic() - args.seconds / 3))

        def kill_and_restart() -> None:
            servers[1].kill()
            servers[1].start()

        kill_back = await recovery(servers, tokens["manager"], kill_and_restart)
        await asyncio.gather(*tasks)
        observed = await metrics(servers)
        drained = await drain(database_url, within=120)
        for server in [*servers, worker]:
            server.stop()
        problems = await check(database_url, soak, subs, smtp)
        outcomes = Counter((op.kind, op.outcome) for op in soak.ops)
        worst = max((op.seconds for op in soak.ops if op.outcome != "ok"), default=0.0)
        print(f"\n== PostgreSQL soak: {args.clients} clients, {args.seconds} s, 2 servers + worker")
        print("requests by outcome:", dict(sorted(outcomes.items())))
        print(f"longest failed or refused request: {worst:.2f} s (bound {REQUEST_TIMEOUT} s)")
        print(
            f"changes checked: {sum(1 for op in soak.ops if op.marker)} requests that write, "
            f"{len(soak.incidents)} incidents reported"
        )
        print(
            f"emails counted at the SMTP server: {sum(smtp.message_ids.values())} "
            f"({len(smtp.message_ids)} Message-IDs); outbox drained: {drained}"
        )
        print(f"PostgreSQL restart: servers ready again {pg_back:.2f} s after it began")
        print(f"server SIGKILL + restart: ready again {kill_back:.2f} s after the kill")
        print(f"worst recovery time: {max(pg_back, kill_back):.2f} s")
        print(
            "subscribers: "
            + "; ".join(
                f"{len(s.windows)} connections, {len(s.seen)} events, closes {dict(s.closes)}, "
                f"messages {dict(s.messages)}"
                for s in subs
            )
        )
        lags = sorted(soak.lags) or [0.0]
        print(
            f"subscriber delivery: {len(soak.lags)} changes seen, from commit to arrival median "
            f"{lags[len(lags) // 2]:.2f} s, worst {lags[-1]:.2f} s; missed without being told "
            f"(per subscriber): {[soak.missed[n] for n in range(len(subs))]}"
        )
        failed = [op for op in soak.ops if op.outcome in ("error", "unknown", "lost")]
        details = Counter(op.detail for op in failed)
        print("failures:", dict(details.most_common(8)))
        print("from /metrics:", observed or "no /metrics on this server")
        print(f"texts reaching clients: {dict(soak.texts) or 'none of the forbidden ones'}")
        print("problems:" if problems else "checker: every promise held")
        for problem in problems[:40]:
            print("  ", problem)
        return not problems and not soak.texts
    finally:
        for server in [*servers, *([worker] if worker else [])]:
            server.stop()
        controller.stop()
        cluster.stop()


async def drain(database_url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() < deadline:
            left = await conn.fetchval(
                "SELECT count(*) FROM outbox_message WHERE status = 'PENDING'"
            )
            if left == 0:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await conn.close()


async def sqlite_soak(args: argparse.Namespace, folder: Path) -> bool:
    env = environment(f"sqlite://{folder / 'desk.sqlite3'}", folder)
    cli(env, "migrate")
    tokens = make_people(env)
    server = Server(["serve"], env, folder / "server.log")
    server.port = free_port()
    server.args = ["serve", "--port", str(server.port)]
    server.start()
    try:
        await wait_ready([server], tokens["manager"])
        soak = Soak([server], tokens, deadline=time.monotonic() + args.sqlite_seconds)
        await asyncio.gather(*(client_loop(soak, n) for n in range(args.sqlite_writers)))
        outcomes = Counter((op.kind, op.outcome) for op in soak.ops)
        print(f"\n== SQLite soak: {args.sqlite_writers} writers, {args.sqlite_seconds} s")
        print("requests by outcome:", dict(sorted(outcomes.items())))
        print(f"'database is locked' reaching a client: {soak.texts['database is locked']}")
        print(f"'Unexpected error' reaching a client: {soak.texts['Unexpected error']}")
        failed = [op for op in soak.ops if op.outcome in ("error", "unknown", "lost")]
        print("failures:", dict(Counter(op.detail for op in failed).most_common(8)))
        return not soak.texts and not failed
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sqlite-seconds", type=float, default=30)
    parser.add_argument("--sqlite-writers", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gqls-soak-"))
    folder.chmod(0o755)  # the postgres user reaches its data folder through it
    (folder / "pg").mkdir()
    (folder / "sqlite").mkdir()
    try:
        ok = asyncio.run(postgres_soak(args, folder / "pg"))
        ok = asyncio.run(sqlite_soak(args, folder / "sqlite")) and ok
    finally:
        if os.environ.get("GQL_SUPPORT_SOAK_KEEP"):
            print("kept", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
