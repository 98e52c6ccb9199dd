"""Live fan-out: N subscribers to ``incidentUpdates`` on one server process, M mutations.

Run by hand:  .venv/bin/python benchmarks/live_fanout.py [--subscribers 1000] [--mutations 20]
              [--sqlite] [--no-compression]

The server runs as its own uvicorn process (``app_from_env``) on a fresh database: by default a
PostgreSQL database created here and dropped at the end (so the LISTEN/NOTIFY bus is used),
with ``--sqlite`` a fresh SQLite file (the in-process bus). This process opens N WebSockets
(graphql-transport-ws, one manager token), waits until they are subscribed, then makes one
``reportIncident`` over HTTP every ``--interval`` seconds. The moment each HTTP response comes
back stands for the commit time. It reports:

  latency     p50/p99 of receipt - commit, over every (subscriber, event)
  lost        events expected (N x M) that never arrived, and subscriptions closed early
  memory      the server's RSS growth (VmRSS) per subscriber, once subscribed
  fan-out     per event, the time from its first receipt to its last

and the same for a bare Starlette WebSocket broadcast (``--bare-server PORT``, another uvicorn
process started by this script) that sends the very bytes captured from the GraphQL run to the
same number of sockets. Targets: none lost, p99 <= 250 ms, <= 64 KB per subscriber, fan-out
time <= 3x the bare broadcast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
PG_ADMIN_DSN = "postgres://postgres@127.0.0.1:5432/postgres"
UPDATES = "subscription { incidentUpdates { kind incident { number status } events { kind } } }"
REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { number } errors { message } }
}
"""
TARGET_P99_MS = 250.0
TARGET_KB_PER_SUBSCRIBER = 64.0
TARGET_FANOUT_RATIO = 3.0


def raise_open_files() -> int:
    """Raises this process's open-file limit to the hard limit; returns it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- the bare broadcast server (run as ``--bare-server PORT``) -----------------------------------


def bare_app() -> Any:
    """A Starlette app that keeps every WebSocket open and, on ``POST /broadcast``, sends the
    request body as one text message to all of them (after answering the POST)."""
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    clients: set[WebSocket] = set()

    async def hold(websocket: WebSocket) -> None:
        await websocket.accept()
        clients.add(websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(websocket)

    async def send_all(text: str) -> None:
        for websocket in list(clients):
            with contextlib.suppress(Exception):
                await websocket.send_text(text)

    async def broadcast(request: Request) -> Response:
        text = (await request.body()).decode()
        now = repr(time.time())
        return PlainTextResponse(now, background=BackgroundTask(send_all, text))

    async def health(request: Request) -> Response:
        return PlainTextResponse(str(len(clients)))

    return Starlette(
        routes=[
            WebSocketRoute("/ws", hold),
            Route("/broadcast", broadcast, methods=["POST"]),
            Route("/healthz", health),
        ]
    )


def run_bare_server(port: int) -> None:
    import uvicorn

    raise_open_files()
    uvicorn.run(bare_app(), host=HOST, port=port, log_level="warning", ws_per_message_deflate=False)


# --- processes, database ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: uvicorn shuts down, then re-raises it, so ``--profile`` gets its stats
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 15) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.splitlines()[-lines:]


def start_server(name: str, argv: list[str], env: dict[str, str], port: int, logs: Path) -> Server:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_open_files,
        )
    return Server(name, process, port, log)


async def wait_healthy(server: Server, within: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                tail = "\n".join(server.log_tail())
                raise RuntimeError(f"{server.name} exited ({server.process.returncode}):\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"http://{HOST}:{server.port}/healthz")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{server.name} did not start in {within} s")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gql_support", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"gql_support {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


async def create_pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"gqls_fanout_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, f"postgres://postgres@127.0.0.1:5432/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def commit_stamps(database_url: str) -> dict[int, float]:
    """Per incident number, when its change row was written (server clock, seconds)."""
    sql = (
        "SELECT i.number, c.created_at FROM incident_change c"
        " JOIN incident i ON i.id = c.incident_id"
    )
    if database_url.startswith("sqlite://"):
        import sqlite3
        from datetime import datetime

        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite://"))) as db:
            rows = db.execute(sql).fetchall()
        return {int(n): datetime.fromisoformat(str(at)).timestamp() for n, at in rows}
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return {int(r[0]): r[1].timestamp() for r in await conn.fetch(sql)}
    finally:
        await conn.close()


# --- the subscribers ---------------------------------------------------------------------------


@dataclass
class Subscriber:
    ws: Any = None
    received: dict[int, float] = field(default_factory=dict)
    closed: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Run:
    """One side of the comparison: the sockets, what they got, and the commit times."""

    name: str
    subscribers: list[Subscriber] = field(default_factory=list)
    #: per incident number, the server's clock when the change was written (GraphQL: the
    #: ``incident_change.created_at`` stamp, inside the committing transaction) or the
    #: broadcast was asked for (bare)
    commits: dict[int, float] = field(default_factory=dict)
    responses: dict[int, float] = field(default_factory=dict)
    sent: dict[int, float] = field(default_factory=dict)
    captured: dict[int, str] = field(default_factory=dict)
    received_total: int = 0
    connect_failures: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0
    rss_before_kb: int = 0
    rss_subscribed_kb: int = 0
    rss_after_kb: int = 0


def incident_number(message: dict[str, Any]) -> int | None:
    if message.get("type") != "next":
        return None
    data = (message.get("payload") or {}).get("data") or {}
    update = data.get("incidentUpdates") or {}
    number = (update.get("incident") or {}).get("number")
    return int(number) if number is not None else None


async def read(run: Run, sub: Subscriber) -> None:
    """Records the receipt time of each incident number, answering pings."""
    try:
        async for raw in sub.ws:
            now = time.time()
            message = json.loads(raw)
            number = incident_number(message)
            if number is not None:
                if number not in sub.received:
                    run.received_total += 1
                sub.received.setdefault(number, now)
                if number not in run.captured:
                    run.captured[number] = raw if isinstance(raw, str) else raw.decode()
            elif message.get("type") == "ping":
                await sub.ws.send('{"type":"pong"}')
            elif message.get("type") in {"error", "complete"}:
                sub.errors.append(str(message)[:300])
    except Exception as error:  # a closed socket ends the reader
        sub.closed = f"{type(error).__name__}: {error}"[:200]
    else:
        sub.closed = "closed by server"


async def open_sockets(
    run: Run,
    count: int,
    url: str,
    handshake: Callable[[Any], Awaitable[None]],
    *,
    compression: bool,
    concurrency: int,
) -> list[asyncio.Task[None]]:
    import websockets

    gate = asyncio.Semaphore(concurrency)

    async def one() -> Subscriber | None:
        async with gate:
            try:
                ws = await websockets.connect(
                    url,
                    subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                    compression="deflate" if compression else None,
                    ping_interval=None,
                    open_timeout=120,
                    close_timeout=2,
                    max_size=None,
                )
                await handshake(ws)
            except Exception as error:
                run.connect_failures.append(f"{type(error).__name__}: {error}"[:200])
                return None
            return Subscriber(ws=ws)

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)))
    run.connect_seconds = time.perf_counter() - started
    run.subscribers = [s for s in results if s is not None]
    return [asyncio.create_task(read(run, s)) for s in run.subscribers]


def graphql_handshake(token: str) -> Callable[[Any], Awaitable[None]]:
    async def handshake(ws: Any) -> None:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
        if reply.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {reply}")
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}
        await ws.send(json.dumps(subscribe))

    return handshake


async def bare_handshake(ws: Any) -> None:
    return None


async def close_all(run: Run, readers: list[asyncio.Task[None]]) -> None:
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for sub in run.subscribers:
        with contextlib.suppress(Exception):
            sub.ws.transport.abort()


async def wait_for_receipts(run: Run, expected: int, within: float) -> None:
    deadline = time.monotonic() + within
    last, still_since = -1, time.monotonic()
    while run.received_total < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if run.received_total != last:
            last, still_since = run.received_total, time.monotonic()
        elif time.monotonic() - still_since > max(5.0, within / 6):
            break  # nothing more is coming


# --- the two runs -------------------------------------------------------------------------------


async def graphql_run(args: argparse.Namespace, server: Server, token: str) -> Run:
    import httpx

    run = Run("GraphQL incidentUpdates")
    base = f"http://{HOST}:{server.port}"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        # warm up: one query, one short-lived subscriber, so the baseline RSS is steady
        await client.post("/graphql", json={"query": "{ __typename }"})
        warm = Run("warm-up")
        warm_readers = await open_sockets(
            warm,
            1,
            f"ws://{HOST}:{server.port}/graphql",
            graphql_handshake(token),
            compression=args.compression,
            concurrency=1,
        )
        await close_all(warm, warm_readers)
        await asyncio.sleep(0.5)
        run.rss_before_kb = rss_kb(server.process.pid)

        readers = await open_sockets(
            run,
            args.subscribers,
            f"ws://{HOST}:{server.port}/graphql",
            graphql_handshake(token),
            compression=args.compression,
            concurrency=args.connect_concurrency,
        )
        await asyncio.sleep(args.settle)  # let every subscription reach the hub
        run.rss_subscribed_kb = rss_kb(server.process.pid)

        for i in range(args.mutations):
            tick = time.time()
            payload = {"description": f"Fan-out benchmark incident {i + 1}"}
            response = await client.post(
                "/graphql", json={"query": REPORT, "variables": {"input": payload}}
            )
            done = time.time()
            body = response.json()
            result = (body.get("data") or {}).get("reportIncident") or {}
            if response.status_code != 200 or body.get("errors") or result.get("errors"):
                raise RuntimeError(f"reportIncident failed: {response.status_code} {body}")
            number = int(result["incident"]["number"])
            run.sent[number], run.responses[number] = tick, done
            await asyncio.sleep(max(0.0, args.interval - (time.time() - tick)))

        await wait_for_receipts(run, len(run.subscribers) * args.mutations, args.drain)
        run.rss_after_kb = rss_kb(server.process.pid)
    await close_all(run, readers)
    return run


async def bare_run(
    args: argparse.Namespace, server: Server, messages: list[tuple[int, str]]
) -> Run:
    import httpx

    run = Run("bare Starlette broadcast")
    base = f"http://{HOST}:{server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        run.rss_before_kb = rss_kb(server.process.pid)
        readers = await open_sockets(
            run,
            args.subscribers,
            f"ws://{HOST}:{server.port}/ws",
            bare_handshake,
            compression=args.compression,
            concurrency=args.connect_concurrency,
        )
        await asyncio.sleep(1.0)
        run.rss_subscribed_kb = rss_kb(server.process.pid)
        for number, text in messages:
            tick = time.time()
            response = await client.post("/broadcast", content=text.encode())
            done = time.time()
            response.raise_for_status()
            run.sent[number], run.responses[number] = tick, done
            run.commits[number] = float(response.text)
            await asyncio.sleep(max(0.0, args.interval - (time.time() - tick)))
        await wait_for_receipts(run, len(run.subscribers) * len(messages), args.drain)
        run.rss_after_kb = rss_kb(server.process.pid)
    await close_all(run, readers)
    return run


# --- the report ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Summary:
    p50: float
    p99: float
    worst: float
    lost: int
    expected: int
    kb_per_subscriber: float
    fanout_p50: float
    fanout_max: float


def summarize(run: Run, wanted: int) -> Summary:
    latencies: list[float] = []
    fanouts: list[float] = []
    for number, commit in run.commits.items():
        times = [s.received[number] for s in run.subscribers if number in s.received]
        latencies.extend((t - commit) * 1000 for t in times)
        if times:
            fanouts.append((max(times) - min(times)) * 1000)
    expected = wanted * len(run.commits)
    got = sum(len(s.received.keys() & run.commits.keys()) for s in run.subscribers)
    subscribed = max(1, len(run.subscribers))
    summary = Summary(
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        worst=max(latencies, default=float("nan")),
        lost=expected - got,
        expected=expected,
        kb_per_subscriber=(run.rss_subscribed_kb - run.rss_before_kb) * 1.024 / subscribed,
        fanout_p50=statistics.median(fanouts) if fanouts else float("nan"),
        fanout_max=max(fanouts, default=float("nan")),
    )
    closed = [s.closed for s in run.subscribers if s.closed]
    errors = [e for s in run.subscribers for e in s.errors]
    print(f"\n{run.name}")
    print(
        f"  sockets      {len(run.subscribers)}/{wanted} open in {run.connect_seconds:.1f} s"
        f", {len(run.connect_failures)} failed to connect"
    )
    for failure in sorted(set(run.connect_failures))[:3]:
        print(f"               e.g. {failure}")
    print(
        f"  latency      p50 {summary.p50:7.1f} ms   p99 {summary.p99:7.1f} ms"
        f"   max {summary.worst:7.1f} ms   (receipt - commit, server clock)"
    )
    for label, start in (("HTTP response", run.responses), ("HTTP request sent", run.sent)):
        since = [
            (s.received[n] - t) * 1000
            for n, t in start.items()
            for s in run.subscribers
            if n in s.received
        ]
        print(
            f"               p50 {percentile(since, 50):7.1f} ms"
            f"   p99 {percentile(since, 99):7.1f} ms   (receipt - {label})"
        )
    answers = [(run.responses[n] - run.sent[n]) * 1000 for n in run.sent]
    print(
        f"  mutation     HTTP round trip p50 {percentile(answers, 50):.1f} ms,"
        f" max {max(answers, default=float('nan')):.1f} ms"
    )
    print(f"  lost         {summary.lost} of {summary.expected} events")
    if closed or errors:
        print(f"  closed early {len(closed)} sockets; {len(errors)} error/complete messages")
        for reason in sorted(set(closed))[:3] + sorted(set(errors))[:3]:
            print(f"               e.g. {reason}")
    print(
        f"  server RSS   {run.rss_before_kb / 1024:.1f} MB before, "
        f"{run.rss_subscribed_kb / 1024:.1f} MB subscribed, "
        f"{run.rss_after_kb / 1024:.1f} MB after the events: "
        f"{summary.kb_per_subscriber:.1f} KB per subscriber"
    )
    print(
        f"  fan-out      first to last receipt per event: median {summary.fanout_p50:.1f} ms,"
        f" max {summary.fanout_max:.1f} ms"
    )
    return summary


def verdict(name: str, ok: bool, detail: str) -> None:
    print(f"  {'PASS' if ok else 'FAIL'}  {name:<26} {detail}")


# --- main ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()


async def main(args: argparse.Namespace) -> int:
    limit = raise_open_files()
    print(
        f"live fan-out: {args.subscribers} subscribers, {args.mutations} mutations every "
        f"{args.interval * 1000:.0f} ms, {'SQLite' if args.sqlite else 'PostgreSQL'}, "
        f"permessage-deflate {'on' if args.compression else 'off'}, open-file limit {limit}"
    )
    if args.subscribers + 100 > limit:
        print(f"warning: {args.subscribers} sockets need more than the open-file limit {limit}")
    workdir = Path(tempfile.mkdtemp(prefix="live-fanout-", dir=ROOT / "var"))
    pg_name: str | None = None
    if args.sqlite:
        database_url = f"sqlite://{workdir / 'bench.sqlite3'}"
    else:
        pg_name, database_url = await create_pg_database()
    env = {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": database_url,
        "GQL_SUPPORT_DEMO_DATA": "false",
        "GQL_SUPPORT_GRAPHIQL": "false",
    }
    env.pop("GQL_SUPPORT_REDIS_URL", None)
    try:
        with servers() as started:
            cli(env, "migrate")
            created = cli(
                env,
                "user",
                "create",
                "--email",
                "manager@fanout.example.com",
                "--name",
                "Fan-out Manager",
                "--role",
                "MANAGER",
            )
            token = created.strip().splitlines()[-1]

            port = free_port()
            argv = [sys.executable, "-m", "uvicorn", "gql_support.api.app:app_from_env"]
            if args.profile:  # cProfile writes its stats when uvicorn exits on SIGTERM
                argv[1:1] = ["-m", "cProfile", "-o", args.profile]
            argv += ["--factory", "--host", HOST, "--port", str(port), "--log-level", "warning"]
            # As ``gql-support serve`` runs it: no per-message compression.
            argv += ["--ws-per-message-deflate", "false"]
            gql = start_server("graphql", argv, env, port, workdir)
            started.append(gql)
            await wait_healthy(gql)
            graphql = await asyncio.wait_for(graphql_run(args, gql, token), args.timeout / 2)
            stamps = await commit_stamps(database_url)
            graphql.commits = {n: stamps[n] for n in graphql.responses}
            gql_log = gql.log_tail()
            gql.stop()

            messages = [(n, graphql.captured[n]) for n in graphql.commits if n in graphql.captured]
            port = free_port()
            bare = start_server(
                "bare",
                [sys.executable, str(SCRIPT), "--bare-server", str(port)],
                env,
                port,
                workdir,
            )
            started.append(bare)
            await wait_healthy(bare)
            if messages:
                print(
                    f"bare broadcast payload, e.g. ({len(messages[0][1])} bytes): {messages[0][1]}"
                )
                plain = await asyncio.wait_for(bare_run(args, bare, messages), args.timeout / 2)
            else:
                print("no GraphQL message was received: nothing to broadcast bare")
                plain = Run("bare Starlette broadcast")
            bare_log = bare.log_tail()
    finally:
        if pg_name is not None:
            await drop_pg_database(pg_name)

    g = summarize(graphql, args.subscribers)
    b = summarize(plain, args.subscribers)
    for name, log in (("graphql", gql_log), ("bare", bare_log)):
        if log:
            print(f"\n{name} server log (last lines):")
            for line in log:
                print(f"  | {line[:300]}")
    ratio = g.fanout_p50 / b.fanout_p50 if b.fanout_p50 > 0 else float("nan")
    print("\ntargets")
    verdict("none lost", g.lost == 0, f"{g.lost} of {g.expected} lost")
    verdict("p99 <= 250 ms", g.p99 <= TARGET_P99_MS, f"p99 {g.p99:.1f} ms")
    verdict(
        "<= 64 KB per subscriber",
        g.kb_per_subscriber <= TARGET_KB_PER_SUBSCRIBER,
        f"{g.kb_per_subscriber:.1f} KB (bare: {b.kb_per_subscriber:.1f} KB)",
    )
    verdict(
        "fan-out <= 3x bare",
        ratio <= TARGET_FANOUT_RATIO,
        f"median {g.fanout_p50:.1f} ms vs {b.fanout_p50:.1f} ms bare = {ratio:.1f}x"
        f" (max {g.fanout_max:.1f} vs {b.fanout_max:.1f} ms)",
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--mutations", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between mutations")
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite file, not PostgreSQL")
    parser.add_argument(
        "--no-compression",
        dest="compression",
        action="store_false",
        help="do not offer permessage-deflate (browsers do; so does the default)",
    )
    parser.add_argument("--connect-concurrency", type=int, default=200)
    parser.add_argument("--settle", type=float, default=None, help="seconds after subscribing")
    parser.add_argument("--drain", type=float, default=60.0, help="most seconds to wait for events")
    parser.add_argument("--timeout", type=float, default=900.0, help="overall seconds")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the GraphQL server to FILE")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    if args.settle is None:
        args.settle = max(1.0, args.subscribers / 2000)
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.bare_server is not None:
        run_bare_server(arguments.bare_server)
        sys.exit(0)
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    sys.exit(runner(asyncio.wait_for(main(arguments), arguments.timeout)))
