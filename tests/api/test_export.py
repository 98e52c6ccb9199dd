"""Exports over HTTP: `exportIncidents` gives a signed link, `GET /exports/incidents` streams the
file. The file holds what `incidents` lists (same filter, same order, every page), with typed
cells; links are refused when forged, altered, expired or someone else's; exports are bounded."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import openpyxl
import pytest

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.exports import service as export_service
from gql_support.exports.columns import HEADER
from gql_support.exports.links import ExportLinks
from gql_support.exports.view import ExportFormat, ExportView
from gql_support.exports.writers import FORMULA_STARTS, csv_safe
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
)
from gql_support.incidents.queries import IncidentOrder
from gql_support.settings import Settings
from tests.api.test_dashboard import FEB, MARCH, ORDERS, Desk, make_desk, walk
from tests.conftest import GraphQLClient, MakePerson, Person

EXPORT = """
query Export($filter: IncidentFilter, $orderBy: IncidentOrder, $format: ExportFormat!) {
  exportIncidents(filter: $filter, orderBy: $orderBy, format: $format) {
    url format expiresAt rowCount
    errors { code message field }
  }
}
"""
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER, DESCRIPTION, STATUS, ASSIGNED_TO, SUPPORTED_BY, REPORTED_BY = 0, 1, 4, 7, 8, 9
DUE, CREATED, UPDATED, RESOLVED = 11, 12, 13, 14


async def export_url(
    gql: GraphQLClient,
    as_: Person,
    format_: str,
    filter_: dict[str, Any] | None = None,
    order: dict[str, str] | None = None,
) -> str:
    data = await gql.execute(
        EXPORT, {"filter": filter_, "orderBy": order, "format": format_}, as_=as_
    )
    payload = data["exportIncidents"]
    assert payload["errors"] == []
    return str(payload["url"])


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode()), "a byte-order mark, for Excel"
    return list(csv.reader(io.StringIO(content.decode()[1:], newline="")))


def xlsx_sheet(content: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(content)).active


@pytest.fixture
async def desk(make_person: MakePerson) -> Desk:
    return await make_desk(make_person)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports read two incidents a query, so a handful of them takes several batches."""
    monkeypatch.setattr(export_service, "BATCH_SIZE", 2)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize(("field", "direction"), list(ORDERS))
async def test_csv_holds_every_page_of_the_list_in_its_order(
    gql: GraphQLClient, desk: Desk, field: str, direction: str
) -> None:
    order = {"field": field, "direction": direction}
    listed, _ = await walk(gql, desk.max, order, first=2)

    response = await gql.http.get(await export_url(gql, desk.max, "CSV", order=order))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header, *rows = csv_rows(response.content)
    assert tuple(header) == HEADER
    assert [int(row[NUMBER]) for row in rows] == listed == ORDERS[field, direction]


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize(
    ("filter_", "order"),
    [
        ({"status": ["NEW", "ON_HOLD"]}, {"field": "DUE_DATE", "direction": "ASC"}),
        ({"overdue": False}, {"field": "PRIORITY", "direction": "DESC"}),
        ({"search": "printer"}, None),
    ],
)
async def test_xlsx_holds_what_the_filtered_list_shows(
    gql: GraphQLClient, desk: Desk, filter_: dict[str, Any], order: dict[str, str] | None
) -> None:
    listed, _ = await walk(gql, desk.max, order, first=1, filter_=filter_)

    response = await gql.http.get(await export_url(gql, desk.max, "XLSX", filter_, order))

    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX_TYPE
    sheet = xlsx_sheet(response.content)
    numbers = [row[NUMBER] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == listed
    assert listed, "the filter selects something"


async def test_the_filter_of_involving_a_user_exports_as_the_list_shows_it(
    gql: GraphQLClient, desk: Desk
) -> None:
    filter_ = {"involvingUserId": desk.ada.id}
    listed, _ = await walk(gql, desk.ada, None, first=1, filter_=filter_)

    response = await gql.http.get(await export_url(gql, desk.ada, "CSV", filter_))

    assert [int(row[NUMBER]) for row in csv_rows(response.content)[1:]] == listed == [5, 4, 1]


async def test_xlsx_cells_are_typed_under_a_frozen_filtered_header(
    gql: GraphQLClient, desk: Desk
) -> None:
    first = await Incident.get(number=1)

    response = await gql.http.get(
        await export_url(gql, desk.max, "XLSX", order={"field": "NUMBER", "direction": "ASC"})
    )

    assert response.headers["content-disposition"].startswith('attachment; filename="incidents-')
    assert response.headers["cache-control"] == "private, no-store"
    sheet = xlsx_sheet(response.content)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:O6"
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == HEADER
    assert all(cell.font.b for cell in sheet[1])
    one = rows[0]
    assert one[NUMBER] == 1
    assert isinstance(one[NUMBER], int)
    assert one[DESCRIPTION] == "Printer on floor two jams"
    assert one[STATUS] == "NEW"
    assert one[ASSIGNED_TO] == "Ada Agent"
    assert one[SUPPORTED_BY] == "Hugo Helper"
    assert one[REPORTED_BY] == "Rita Reporter"
    # Dates are dates, in UTC, to the second Excel keeps (openpyxl rounds to the millisecond).
    assert one[DUE] == MARCH.replace(tzinfo=None)
    assert isinstance(one[CREATED], datetime)
    assert abs((one[CREATED] - first.created_at.replace(tzinfo=None)).total_seconds()) < 0.01
    assert sheet.cell(row=2, column=DUE + 1).number_format == "yyyy-mm-dd hh:mm"
    assert rows[2][ASSIGNED_TO] is None  # #3: unassigned, due
    assert rows[2][DUE] is not None
    assert [row[RESOLVED] is None for row in rows] == [True, True, True, False, True]


async def test_csv_dates_numbers_and_empty_cells(gql: GraphQLClient, desk: Desk) -> None:
    response = await gql.http.get(
        await export_url(gql, desk.max, "CSV", order={"field": "NUMBER", "direction": "ASC"})
    )

    rows = csv_rows(response.content)[1:]
    assert rows[0][NUMBER] == "1"
    assert rows[0][DUE] == "2020-03-01 12:00:00"
    assert datetime.strptime(rows[0][CREATED], "%Y-%m-%d %H:%M:%S")
    assert rows[1][DUE] == ""  # #2 has no due date
    assert rows[3][DUE] == FEB.strftime("%Y-%m-%d %H:%M:%S")


async def test_resolved_is_when_a_finished_incident_was_last_finished(
    gql: GraphQLClient, desk: Desk
) -> None:
    # #2 is IN_PROGRESS: resolved, reopened, resolved again. #4 was closed from NEW.
    second = await Incident.get(number=2)
    for status in (IncidentStatus.RESOLVED, IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED):
        await service.update_status(actor=desk.max.user, incident_id=second.id, status=status)

    async def finished_at(number: int) -> datetime:
        last = (
            await IncidentEvent.filter(
                incident__number=number, kind=IncidentEventKind.STATUS_CHANGED
            )
            .order_by("-id")
            .first()
        )
        assert last is not None
        return last.at.replace(tzinfo=None)

    response = await gql.http.get(await export_url(gql, desk.max, "XLSX"))

    rows = {row[NUMBER]: row for row in xlsx_sheet(response.content).iter_rows(values_only=True)}
    assert (rows[2][STATUS], rows[4][STATUS]) == ("RESOLVED", "CLOSED")
    for number in (2, 4):
        # openpyxl reads the time back to the millisecond.
        assert abs((rows[number][RESOLVED] - await finished_at(number)).total_seconds()) < 0.001
    assert [rows[n][RESOLVED] for n in (1, 3, 5)] == [None] * 3  # open


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\uff1d1+1"]


@pytest.mark.parametrize("start", FORMULAS)
async def test_text_that_looks_like_a_formula_stays_text(
    gql: GraphQLClient, make_person: MakePerson, start: str
) -> None:
    reporter = await make_person(Role.MANAGER)
    await service.report_incident(
        actor=reporter.user,
        description=start,
        changes=IncidentChanges(task="-task"),
    )

    as_csv = await gql.http.get(await export_url(gql, reporter, "CSV"))
    as_xlsx = await gql.http.get(await export_url(gql, reporter, "XLSX"))

    [row] = csv_rows(as_csv.content)[1:]
    assert row[DESCRIPTION] == "'" + start
    assert row[10] == "'-task"
    sheet = xlsx_sheet(as_xlsx.content)
    cell = sheet.cell(row=2, column=DESCRIPTION + 1)
    assert (cell.value, cell.data_type) == (start, "s")


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_quoted_and_nothing_else(start: str) -> None:
    # Tabs and carriage returns never reach a description (it is stripped): checked here.
    assert csv_safe(start + "x") == "'" + start + "x"
    assert csv_safe("x" + start) == "x" + start


# ----------------------------------------------------------------------------------------------
# Who may fetch a file

GOOD_VIEW: dict[str, Any] = {
    "filter": {},
    "order": {"field": "NUMBER", "descending": True},
    "format": "CSV",
}


def _param(view: dict[str, Any]) -> str:
    """A view as a link carries it (a Bearer client may write its own)."""
    text = json.dumps(view).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def test_a_view_reads_back_as_written() -> None:
    assert ExportView.from_param(_param(GOOD_VIEW)) == ExportView(
        incident_filter=None, order=IncidentOrder(), format=ExportFormat.CSV
    )


def _link_parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


async def test_a_bearer_token_fetches_the_view_without_a_signature(
    gql: GraphQLClient, desk: Desk
) -> None:
    path, query = _link_parts(await export_url(gql, desk.max, "CSV", {"status": ["NEW"]}))

    anonymous = await gql.http.get(path, params={"view": query["view"]})
    with_token = await gql.http.get(
        path,
        params={"view": query["view"]},
        headers={"Authorization": f"Bearer {desk.rita.token}"},
    )

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["code"] == "UNAUTHENTICATED"
    assert with_token.status_code == 200
    assert [int(r[NUMBER]) for r in csv_rows(with_token.content)[1:]] == [3, 1]


async def test_a_bad_token_is_refused(gql: GraphQLClient, desk: Desk) -> None:
    url = await export_url(gql, desk.max, "CSV")

    response = await gql.http.get(url, headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"signature": "0" * 64}, id="signature"),
        pytest.param({"user": "max"}, id="user"),
        pytest.param({"expires": str(int(time.time()) + 86_400)}, id="expires"),
        pytest.param({"view": "x"}, id="view"),
        pytest.param({"signature": None}, id="signature-missing"),
        pytest.param({"expires": "soon"}, id="expires-not-a-number"),
    ],
)
async def test_an_altered_link_is_forbidden(
    gql: GraphQLClient, desk: Desk, tamper: dict[str, str | None]
) -> None:
    query: dict[str, str | None]
    path, signed = _link_parts(await export_url(gql, desk.rita, "CSV", {"status": ["NEW"]}))
    query = dict(signed)
    if "view" in tamper:
        # Another genuine view (everything, not just NEW) under this view's signature.
        _, other = _link_parts(await export_url(gql, desk.rita, "CSV"))
        tamper = {"view": other["view"]}
    if "user" in tamper:
        tamper = {"user": str(desk.max.user.id)}
    query.update(tamper)
    sent = {k: v for k, v in query.items() if v is not None}

    response = await gql.http.get(f"{path}?{urlencode(sent)}")

    assert response.status_code == 403
    assert response.json() == {"error": "this export link is not valid", "code": "FORBIDDEN"}


async def test_an_expired_link_is_gone(gql: GraphQLClient, desk: Desk, settings: Settings) -> None:
    links = ExportLinks(secret_key=settings.secret_key.get_secret_value(), ttl=60)
    view = ExportView(incident_filter=None, order=IncidentOrder(), format=ExportFormat.CSV)
    link = links.make(view, user_id=desk.rita.user.id, now=time.time() - 61)

    response = await gql.http.get(links.url(link, base_url="http://testserver"))

    assert response.status_code == 410
    assert response.json()["error"] == "this export link has expired: export again for a new one"


async def test_another_users_link_is_refused(gql: GraphQLClient, desk: Desk) -> None:
    url = await export_url(gql, desk.max, "CSV")

    response = await gql.http.get(url, headers={"Authorization": f"Bearer {desk.rita.token}"})
    own_token = await gql.http.get(url, headers={"Authorization": f"Bearer {desk.max.token}"})

    assert response.status_code == 403
    assert response.json()["error"] == "this export link was made for someone else"
    assert own_token.status_code == 200


async def test_the_link_of_a_deactivated_user_is_refused(gql: GraphQLClient, desk: Desk) -> None:
    url = await export_url(gql, desk.rita, "CSV")
    await accounts.change_user(user_id=desk.rita.user.id, is_active=False)

    response = await gql.http.get(url)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "view",
    [
        "",
        "not base64 !",
        _param({"foo": 1}),
        _param({**GOOD_VIEW, "format": "XLS"}),
        _param({**GOOD_VIEW, "filter": {"owner": 1}}),
        _param({**GOOD_VIEW, "filter": {"assigned_to_id": "1"}}),
        _param({**GOOD_VIEW, "filter": {"status": ["DONE"]}}),
        _param({**GOOD_VIEW, "filter": {"due_before": "2030-01-01T00:00:00"}}),
        _param({**GOOD_VIEW, "filter": {"search": "x" * 1000}}),
        _param({**GOOD_VIEW, "order": {"field": "NAME", "descending": True}}),
    ],
)
async def test_a_malformed_view_is_a_bad_request(gql: GraphQLClient, desk: Desk, view: str) -> None:
    response = await gql.http.get(
        "/exports/incidents",
        params={"view": view},
        headers={"Authorization": f"Bearer {desk.rita.token}"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"


async def test_export_needs_a_signed_in_user(gql: GraphQLClient) -> None:
    response = await gql.post(EXPORT, {"format": "CSV"})

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_bad_filter_is_a_user_error(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(
        EXPORT, {"format": "XLSX", "filter": {"assignedToId": "nope"}}, as_=desk.max
    )

    [error] = data["exportIncidents"]["errors"]
    assert error["code"] == "NOT_FOUND"  # as `incidents` answers it
    assert error["field"] == ["filter", "assignedToId"]
    assert data["exportIncidents"]["url"] is None


# ----------------------------------------------------------------------------------------------
# Bounds


@pytest.fixture
async def bounded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with small bounds: 3 rows an export, 2 exports in a burst."""
    bounds = settings.model_copy(
        update={"export_max_rows": 3, "export_burst": 2, "exports_per_minute": 0.1}
    )
    app = create_app(bounds, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


async def test_a_view_over_the_row_bound_is_refused(bounded: httpx.AsyncClient, desk: Desk) -> None:
    client = GraphQLClient(bounded)
    too_many = await client.execute(EXPORT, {"format": "CSV"}, as_=desk.max)
    few = await client.execute(
        EXPORT, {"format": "CSV", "filter": {"status": ["NEW"]}}, as_=desk.max
    )
    direct = await bounded.get(
        "/exports/incidents",
        params={
            "view": ExportView(
                incident_filter=None, order=IncidentOrder(), format=ExportFormat.CSV
            ).to_param()
        },
        headers={"Authorization": f"Bearer {desk.max.token}"},
    )

    [error] = too_many["exportIncidents"]["errors"]
    assert error["code"] == "TOO_LARGE"
    assert error["message"] == (
        "this view holds 5 incidents; an export takes at most 3: narrow the filter"
    )
    assert few["exportIncidents"]["rowCount"] == 2
    assert direct.status_code == 422
    assert direct.json()["code"] == "TOO_LARGE"


async def test_exports_are_rate_limited_per_user(bounded: httpx.AsyncClient, desk: Desk) -> None:
    client = GraphQLClient(bounded)
    data = await client.execute(
        EXPORT, {"format": "CSV", "filter": {"status": ["NEW"]}}, as_=desk.max
    )
    url = data["exportIncidents"]["url"]

    statuses = [(await bounded.get(url)).status_code for _ in range(2)]
    refused = await bounded.get(url)
    other_user = await client.execute(
        EXPORT, {"format": "CSV", "filter": {"status": ["NEW"]}}, as_=desk.rita
    )
    theirs = await bounded.get(other_user["exportIncidents"]["url"])

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) > 0
    assert theirs.status_code == 200


async def test_exports_beyond_the_per_process_limit_are_told_to_come_back(
    settings: Settings, desk: Desk
) -> None:
    app = create_app(settings.model_copy(update={"exports_at_once": 1}), manage_database=False)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    client = GraphQLClient(http)
    url = await export_url(client, desk.max, "CSV")
    path, query = _link_parts(url)
    # A client that reads the first piece of its file and then stalls, holding the export.
    started, release = asyncio.Event(), asyncio.Event()
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await release.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            started.set()
            await release.wait()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(query).encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    held = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    await started.wait()

    busy = await http.get(url)
    release.set()
    await held
    again = await http.get(url)
    await http.aclose()

    assert busy.status_code == 503
    assert busy.json()["code"] == "BUSY"
    assert busy.headers["retry-after"] == "30"
    assert again.status_code == 200
