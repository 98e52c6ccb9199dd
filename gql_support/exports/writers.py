"""The two file formats, written batch by batch so memory stays flat whatever the row count.

**CSV** is streamed as it is written: UTF-8 with a byte-order mark (so Excel reads accents),
comma-separated, CRLF line ends (RFC 4180), dates as ``YYYY-MM-DD HH:MM:SS`` (which Excel
and LibreOffice read as dates), numbers as digits. Against formula injection (OWASP's "CSV
Injection"), a text cell starting with ``= + - @``, a tab, a carriage return, or the full-width
forms of the first four (U+FF1D, U+FF0B, U+FF0D, U+FF20) gets a leading ``'``: spreadsheets
show it as text, and the quote is visible, so nothing is silently changed. Only text cells are
escaped: numbers and dates are written from typed values, never from user text.

**XLSX** is written with XlsxWriter in ``constant_memory`` mode (picked over openpyxl's
write-only mode by ``benchmarks/export_memory.py``): each row is flushed to a temporary file as
it is written, the zip is assembled at the end, then streamed. Cells are typed (text, number,
date with a date format), so no text is ever taken as a formula or a link; the header row is
bold, frozen and carries an autofilter. A text over Excel's 32,767 characters is cut there.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import xlsxwriter

from gql_support.exports.columns import COLUMNS, HEADER, Kind, Row

#: What a spreadsheet may take as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Pieces of a finished XLSX file read and sent at a time.
CHUNK_BYTES = 64 * 1024
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def csv_safe(text: str) -> str:
    """The text, with a leading ``'`` if a spreadsheet would take it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SheetWriter(Protocol):
    def start(self) -> bytes:
        """Writes the header row; returns the bytes ready to send."""

    def add(self, rows: Sequence[Row]) -> bytes:
        """Writes rows; returns the bytes ready to send."""

    def finish(self) -> Iterator[bytes]:
        """Completes the file; yields the rest of its bytes."""


class CsvWriter:
    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer)

    def _taken(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def start(self) -> bytes:
        self._csv.writerow(HEADER)
        return "\ufeff".encode() + self._taken()

    def add(self, rows: Sequence[Row]) -> bytes:
        for row in rows:
            self._csv.writerow([_csv_cell(value) for value in row])
        return self._taken()

    def finish(self) -> Iterator[bytes]:
        return iter(())


def _csv_cell(value: object) -> object:
    if isinstance(value, str):
        return csv_safe(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


class XlsxWriter:
    def __init__(self, directory: Path) -> None:
        self._path = directory / "export.xlsx"
        self._book = xlsxwriter.Workbook(
            str(self._path),
            {
                "constant_memory": True,
                "tmpdir": str(directory),
                # Text stays text: never a formula, a number or a link.
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._sheet = self._book.add_worksheet("Incidents")
        self._date = self._book.add_format({"num_format": DATETIME_FORMAT})
        self._bold = self._book.add_format({"bold": True})
        self._row = 0

    def start(self) -> bytes:
        for n, column in enumerate(COLUMNS):
            self._sheet.set_column(n, n, column.width)
        self._sheet.freeze_panes(1, 0)
        self._sheet.write_row(0, 0, HEADER, self._bold)
        self._row = 1
        return b""

    def add(self, rows: Sequence[Row]) -> bytes:
        sheet = self._sheet
        for row in rows:
            for n, (column, value) in enumerate(zip(COLUMNS, row, strict=True)):
                if value is None:
                    continue
                if column.kind is Kind.DATETIME:
                    assert isinstance(value, datetime)
                    sheet.write_datetime(self._row, n, value, self._date)
                elif column.kind is Kind.NUMBER:
                    assert isinstance(value, int)
                    sheet.write_number(self._row, n, value)
                else:
                    sheet.write_string(self._row, n, str(value))
            self._row += 1
        return b""

    def finish(self) -> Iterator[bytes]:
        self._sheet.autofilter(0, 0, max(self._row - 1, 0), len(COLUMNS) - 1)
        self._book.close()
        with self._path.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk
