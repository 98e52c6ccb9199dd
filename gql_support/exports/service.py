"""An export of the dashboard's list: its size checked against the bound, then its file as a
stream of bytes. The rows are read in keyset batches (no long transaction, no OFFSET) and the
writing runs in a worker thread, batch by batch, so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from gql_support.errors import TooLarge
from gql_support.exports.columns import row_batches
from gql_support.exports.view import ExportFormat, ExportView
from gql_support.exports.writers import CsvWriter, SheetWriter, XlsxWriter
from gql_support.incidents.queries import filtered_incidents

#: Incidents read per query: large enough that 100,000 take 100 queries, small enough that a
#: batch's objects weigh a few MiB.
BATCH_SIZE = 1000
#: An XLSX sheet holds 1,048,576 rows, one of them the header.
XLSX_MAX_ROWS = 1_048_575


def most_rows(view: ExportView, max_rows: int) -> int:
    """The most rows an export of the view may hold."""
    return min(max_rows, XLSX_MAX_ROWS) if view.format is ExportFormat.XLSX else max_rows


async def check_size(view: ExportView, *, max_rows: int) -> int:
    """How many incidents the view holds; TooLarge over the bound."""
    count = await filtered_incidents(view.incident_filter).count()
    bound = most_rows(view, max_rows)
    if count > bound:
        raise TooLarge(
            f"this view holds {count} incidents; an export takes at most {bound}: narrow the "
            "filter",
            field=["filter"],
        )
    return count


def filename(view: ExportView, *, now: datetime) -> str:
    return f"incidents-{now.astimezone(UTC):%Y-%m-%d-%H%M}.{view.format.extension}"


async def export_file(
    view: ExportView, *, max_rows: int, now: datetime | None = None
) -> AsyncIterator[bytes]:
    """The file of the view's incidents, in the dashboard's order, piece by piece; at most
    ``max_rows`` of them (rows added since the size was checked are cut, not refused: the
    response has started)."""
    now = now or datetime.now(UTC)
    left = most_rows(view, max_rows)
    directory = Path(tempfile.mkdtemp(prefix="gqls-export-"))
    try:
        writer: SheetWriter = (
            XlsxWriter(directory) if view.format is ExportFormat.XLSX else CsvWriter()
        )
        yield await asyncio.to_thread(writer.start)
        async for rows in row_batches(
            incident_filter=view.incident_filter,
            order=view.order,
            batch_size=min(BATCH_SIZE, left),
            now=now,
        ):
            rows = rows[:left]
            if chunk := await asyncio.to_thread(writer.add, rows):
                yield chunk
            left -= len(rows)
            if left <= 0:
                break
        rest = writer.finish()
        while chunk := await asyncio.to_thread(next, rest, b""):
            yield chunk
    finally:
        shutil.rmtree(directory, ignore_errors=True)
