"""How fast the outbox drains, next to plain aiosmtplib sending the same messages.

Run by hand:  .venv/bin/python benchmarks/outbox_drain.py [DATABASE_URL] [MESSAGES]
(default: a fresh SQLite file under var/bench/, 5,000 messages). It starts an SMTP sink
(aiosmtpd's ``Sink`` handler, in its own process), queues the messages through the incident
service (comments on incidents with ten watchers each), then measures, in the same run:

- plain: the same messages, rendered to bytes beforehand, sent with ``aiosmtplib``'s
  ``sendmail`` over one connection;
- outbox: ``OutboxWorker.drain()`` claiming, rendering, sending and marking them SENT.

Five rounds each measure both, back to back; the report gives every round, the best of each,
and the median of the rounds' ratios (a shared machine's speed drifts from minute to minute, so
only figures measured side by side compare).
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

import aiosmtplib
from tortoise import connections

from gql_support import db
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.notify.models import OutboxMessage, OutboxStatus
from gql_support.notify.worker import OutboxWorker
from gql_support.settings import Settings

WATCHERS = 10
ROUNDS = 5


async def _sink() -> tuple[asyncio.subprocess.Process, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
        "-l", f"127.0.0.1:{port}",
    )  # fmt: skip
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return process, port
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


async def _queue(count: int) -> None:
    reporter = await accounts.create_user(email="r@bench.example.com", name="Reporter")
    watchers = [
        await accounts.create_user(
            email=f"w{i}@bench.example.com", name=f"Watcher {i}", role=Role.USER,
            locale="fr" if i % 2 else "en",
        )
        for i in range(WATCHERS)
    ]  # fmt: skip
    for i in range(count // WATCHERS):
        incident = await service.report_incident(
            actor=reporter,
            description=f"Export number {i} times out",
            changes=IncidentChanges(watcher_ids=[w.id for w in watchers]),
        )
        await OutboxMessage.filter(incident_id=incident.id).delete()  # keep only the comments
        await service.add_comment(
            actor=reporter, incident_id=incident.id, body=f"Still failing, attempt {i}\n" * 5
        )


async def _reset() -> None:
    """Makes every row due again. On PostgreSQL this leaves a dead version of every row, which
    autovacuum would clear in a live table between batches: clear it now, so that each run
    starts from the same table rather than from one bloated by the runs before."""
    await OutboxMessage.all().update(status=OutboxStatus.PENDING, attempts=0, lease_until=None)
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(f"VACUUM ANALYZE {OutboxMessage._meta.db_table}")


async def _plain(settings: Settings, port: int) -> float:
    worker = OutboxWorker(settings.model_copy(update={"outbox_batch_size": 1_000_000}))
    await _reset()
    claimed = await worker.claim()  # the same rows, with no limit, to render them beforehand
    await OutboxMessage.all().update(lease_until=None)
    messages = [(worker.renderer.render(row.notice), row.to_address) for row in claimed]
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    started = time.perf_counter()
    await smtp.connect()
    for email, to in messages:
        await smtp.sendmail(worker.sender.address, [to], email.data)
    await smtp.quit()
    return len(messages) / (time.perf_counter() - started)


async def _outbox(settings: Settings) -> float:
    await _reset()
    count = await OutboxMessage.all().count()
    started = time.perf_counter()
    sent = await OutboxWorker(settings).drain()
    elapsed = time.perf_counter() - started
    assert sent == count, (sent, count)
    return count / elapsed


async def main(url: str, count: int) -> None:
    settings = Settings(database_url=url)
    await db.migrate(settings)
    await db.open_database(settings)
    sink, port = await _sink()
    try:
        await _queue(count)
        settings = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}"})
        total = await OutboxMessage.all().count()
        print(f"{total} messages, {url.split(':', 1)[0]}, SMTP sink in its own process")
        print("round  plain msg/s  outbox msg/s  outbox/plain")
        plains, outboxes = [], []
        for round_ in range(ROUNDS):
            # Each round measures both, back to back, in turn first: a machine whose speed
            # drifts favours neither.
            if round_ % 2:
                outbox = await _outbox(settings)
                plain = await _plain(settings, port)
            else:
                plain = await _plain(settings, port)
                outbox = await _outbox(settings)
            plains.append(plain)
            outboxes.append(outbox)
            print(f"{round_ + 1:5}  {plain:11.0f}  {outbox:12.0f}  {outbox / plain:12.2f}")
        ratio = statistics.median(o / p for o, p in zip(outboxes, plains, strict=True))
        best_plain, best_outbox = max(plains), max(outboxes)
        print(f"best:  {best_plain:11.0f}  {best_outbox:12.0f}  {best_outbox / best_plain:12.2f}")
        print(f"outbox / plain, median of the rounds: {ratio:.2f}")
    finally:
        sink.terminate()
        await sink.wait()
        await db.close_database()


if __name__ == "__main__":
    bench = Path("var/bench")
    bench.mkdir(parents=True, exist_ok=True)
    default = bench / f"outbox-{int(time.time())}.sqlite3"
    database = sys.argv[1] if len(sys.argv) > 1 else f"sqlite://{default}"
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000
    asyncio.run(main(database, total))
