"""Time and peak memory of exporting the dashboard's list, and XlsxWriter against openpyxl.

Run by hand:  .venv/bin/python benchmarks/export_memory.py [INCIDENTS] [--database-url URL]
(default 100,000 incidents on a fresh SQLite file under a temporary directory; a PostgreSQL URL
names an empty database to fill, e.g. postgres://postgres@127.0.0.1:5432/gqls_bench).

It fills the database with set-based SQL (one INSERT … SELECT over a generated series for the
incidents, one for their supporters, one for the history of those resolved), then runs each case
in a fresh process, so that no case inherits another's memory:

    csv        the app's export (``gql_support.exports.service.export_file``), CSV
    xlsx       the app's export, XLSX (XlsxWriter, constant_memory)
    openpyxl   the same rows through openpyxl's write-only workbook, same cells and sheet setup

Each case reports the bytes written, the wall time, and the process's resident memory after
start-up (database open, code imported) and its high-water mark during the export (the kernel's
VmHWM, reset before it starts). Linux only.

Measured on 2026-12-01 (SQLite, 2 cores shared with other work at a load average of 7 to 11, so
the times are high; the memory is what counts):

    incidents  case       bytes        seconds  RSS at start  RSS peak
    10,000     csv         2,071,116      5.3      50.3 MiB    57.7 MiB
    10,000     xlsx          597,044     11.5      50.7 MiB    57.1 MiB
    10,000     openpyxl      637,234     26.6      50.6 MiB    62.4 MiB
    100,000    csv        20,909,618    202.8      51.2 MiB    58.2 MiB
    100,000    xlsx        5,928,176    273.7      51.3 MiB    57.3 MiB
    100,000    openpyxl    6,309,652    315.9      51.4 MiB    62.6 MiB

Memory is flat: the peak is start-up plus 6 to 7 MiB at 10,000 and at 100,000 rows. XlsxWriter
(constant_memory) is faster and lighter than openpyxl's write-only mode, hence the app's choice.
Most of the time is reading, not writing: Tortoise building model instances and parsing dates.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tortoise import connections

from gql_support import db
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from gql_support.exports.columns import COLUMNS, HEADER, Kind, Row, row_batches
from gql_support.exports.service import BATCH_SIZE, export_file
from gql_support.exports.view import ExportFormat, ExportView
from gql_support.exports.writers import CHUNK_BYTES, DATETIME_FORMAT
from gql_support.incidents.queries import IncidentOrder, OrderField
from gql_support.settings import Settings

USERS = 20
CASES = ("csv", "xlsx", "openpyxl")

#: One row per incident, from numbers 1..N: enums cycle, a third have a due date, a tenth are
#: resolved, every other one is assigned. ``{series}`` yields ``n``; ``{ago}`` is an instant
#: ``n`` minutes before now in the dialect's text.
_INCIDENTS = """
INSERT INTO incident (number, description, type, impact, urgency, priority, priority_rank,
    status, status_rank, due_date, task, version, search_document, created_at, updated_at,
    assigned_to_id, reporter_id)
SELECT n,
    'Incident ' || n || ': the report of a planning run that failed, with its steps to reproduce',
    CASE n % 3 WHEN 0 THEN 'DEFECT' WHEN 1 THEN 'CHANGE_REQUEST' ELSE 'CLARIFICATION' END,
    CASE n % 3 WHEN 0 THEN 'HIGH' WHEN 1 THEN 'MEDIUM' ELSE 'LOW' END,
    CASE n % 2 WHEN 0 THEN 'HIGH' ELSE 'LOW' END,
    CASE n % 4 WHEN 0 THEN 'URGENT' WHEN 1 THEN 'HIGH' WHEN 2 THEN 'NORMAL' ELSE 'LOW' END,
    n % 4,
    CASE WHEN n % 10 = 0 THEN 'RESOLVED' ELSE 'IN_PROGRESS' END,
    CASE WHEN n % 10 = 0 THEN 3 ELSE 1 END,
    CASE WHEN n % 3 = 0 THEN {ago} END,
    'Task ' || (n % 50), 1, '', {ago}, {ago},
    CASE WHEN n % 2 = 0 THEN {first_user} + n % {users} END,
    {first_user} + (n * 7) % {users}
FROM {series}
"""
_SUPPORTERS = """
INSERT INTO incident_supporter (incident_id, user_id)
SELECT id, {first_user} + (number * 3 + 1) % {users} FROM incident WHERE number % 4 = 0
"""
_RESOLUTIONS = """
INSERT INTO incident_event (incident_id, kind, actor_id, at, field, from_value, to_value)
SELECT id, 'STATUS_CHANGED', reporter_id, updated_at, 'status', 'IN_PROGRESS', 'RESOLVED'
FROM incident WHERE status = 'RESOLVED'
"""
_DIALECT = {
    "sqlite": {
        "series": "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
        "WHERE n < {count}) SELECT n FROM s)",
        "ago": "strftime('%Y-%m-%d %H:%M:%S+00:00', 'now', '-' || n || ' minutes')",
    },
    "postgres": {
        "series": "generate_series(1, {count}) AS n",
        "ago": "now() - n * interval '1 minute'",
    },
}


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> None:
    """Sets the kernel's high-water mark (VmHWM) back to the current resident size."""
    Path("/proc/self/clear_refs").write_text("5")


async def fill(settings: Settings, count: int) -> None:
    """Migrates the database and fills it with users and ``count`` incidents."""
    await db.migrate(settings)
    await db.open_database(settings)
    try:
        users = [
            await accounts.create_user(
                email=f"agent{n}@bench.example.com", name=f"Agent {n:02}", role=Role.AGENT
            )
            for n in range(USERS)
        ]
        dialect = "postgres" if settings.is_postgres else "sqlite"
        words = {k: v.format(count=count) for k, v in _DIALECT[dialect].items()}
        conn = connections.get("default")
        values = {"first_user": users[0].id, "users": USERS, **words}
        for sql in (_INCIDENTS, _SUPPORTERS, _RESOLUTIONS):
            await conn.execute_script(sql.format(**values))
    finally:
        await db.close_database()


class OpenpyxlWriter:
    """The app's XLSX sheet (same cells, formats, widths, frozen header, autofilter) written
    with openpyxl's write-only workbook, for comparison."""

    def __init__(self, directory: Path) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self._cell, self._letter = WriteOnlyCell, get_column_letter
        self._path = directory / "export.xlsx"
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("Incidents")
        self._bold = Font(bold=True)
        self._rows = 0

    def start(self) -> bytes:
        for n, column in enumerate(COLUMNS, start=1):
            self._sheet.column_dimensions[self._letter(n)].width = column.width
        self._sheet.freeze_panes = "A2"
        header = []
        for title in HEADER:
            cell = self._cell(self._sheet, value=title)
            cell.font = self._bold
            header.append(cell)
        self._sheet.append(header)
        return b""

    def add(self, rows: Sequence[Row]) -> bytes:
        for row in rows:
            cells = []
            for column, value in zip(COLUMNS, row, strict=True):
                cell = self._cell(self._sheet, value=value)
                if column.kind is Kind.DATETIME:
                    cell.number_format = DATETIME_FORMAT
                elif column.kind is Kind.TEXT and value is not None:
                    cell.data_type = "s"  # text stays text, never a formula
                cells.append(cell)
            self._sheet.append(cells)
        self._rows += len(rows)
        return b""

    def finish(self) -> Iterator[bytes]:
        last = self._letter(len(COLUMNS))
        self._sheet.auto_filter.ref = f"A1:{last}{self._rows + 1}"
        self._book.save(self._path)
        with self._path.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk


async def _openpyxl_export(view: ExportView, directory: Path) -> Iterator[bytes]:
    """The rows as ``export_file`` reads them, written by ``OpenpyxlWriter``."""
    writer = OpenpyxlWriter(directory)
    await asyncio.to_thread(writer.start)
    async for rows in row_batches(
        incident_filter=view.incident_filter,
        order=view.order,
        batch_size=BATCH_SIZE,
        now=datetime.now(UTC),
    ):
        await asyncio.to_thread(writer.add, rows)
    return writer.finish()


async def run_case(settings: Settings, case: str) -> None:
    """One export, in this process: prints bytes, seconds, start-up RSS and peak RSS."""
    await db.open_database(settings)
    view = ExportView(
        incident_filter=None,
        order=IncidentOrder(field=OrderField.NUMBER, descending=True),
        format=ExportFormat.CSV if case == "csv" else ExportFormat.XLSX,
    )
    try:
        # Warm up: the code paths loaded and the database opened before the baseline.
        async for _ in export_file(view, max_rows=10):
            pass
        baseline = _kib("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        size = 0
        if case == "openpyxl":
            with tempfile.TemporaryDirectory() as directory:
                for chunk in await _openpyxl_export(view, Path(directory)):
                    size += len(chunk)
        else:
            async for chunk in export_file(view, max_rows=10_000_000):
                size += len(chunk)
        elapsed = time.perf_counter() - started
        print(f"{case} {size} {elapsed:.2f} {baseline} {_kib('VmHWM')}")
    finally:
        await db.close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("incidents", nargs="?", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        asyncio.run(run_case(Settings(database_url=args.database_url), args.case))
        return
    with tempfile.TemporaryDirectory(prefix="gqls-export-bench-") as work:
        url = args.database_url or f"sqlite://{Path(work) / 'desk.sqlite3'}"
        settings = Settings(database_url=url)
        started = time.perf_counter()
        asyncio.run(fill(settings, args.incidents))
        print(f"filled {args.incidents} incidents in {time.perf_counter() - started:.1f} s")
        print(f"{'case':<9} {'bytes':>12} {'seconds':>8} {'RSS start':>10} {'RSS peak':>9}")
        for case in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--case", case, "--database-url", url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            name, size, seconds, baseline, peak = out[-5:]
            print(
                f"{name:<9} {int(size):>12,} {float(seconds):>8.2f} "
                f"{int(baseline) / 1024:>6.1f} MiB {int(peak) / 1024:>5.1f} MiB"
            )


if __name__ == "__main__":
    main()
