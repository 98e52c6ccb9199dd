"""What an export holds: the dashboard's filter and order and the file format, and their JSON
form. The JSON travels in download links (``?view=``), so reading it back checks every value
as the GraphQL inputs are checked: a link is signed, but a Bearer client may write its own."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from gql_support.db import MAX_INT
from gql_support.errors import InvalidInput
from gql_support.incidents.changes import check_instant
from gql_support.incidents.filters import IncidentFilter
from gql_support.incidents.models import IncidentStatus, IncidentType, Priority
from gql_support.incidents.queries import IncidentOrder, OrderField
from gql_support.text import check_characters


class ExportFormat(StrEnum):
    XLSX = "XLSX"
    CSV = "CSV"

    @property
    def extension(self) -> str:
        return self.value.lower()

    @property
    def media_type(self) -> str:
        if self is ExportFormat.XLSX:
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv; charset=utf-8"


_ENUM_LISTS: dict[str, type[StrEnum]] = {
    "status": IncidentStatus,
    "priority": Priority,
    "type": IncidentType,
}
_USER_IDS = ("assigned_to_id", "involving_user_id", "watched_by_user_id")
_INSTANTS = ("due_before", "due_after")
_FILTER_FIELDS = frozenset(f.name for f in fields(IncidentFilter))
FIELD = ["view"]


@dataclass(frozen=True, kw_only=True)
class ExportView:
    """The dashboard's current view in a file format."""

    incident_filter: IncidentFilter | None
    order: IncidentOrder
    format: ExportFormat

    def to_param(self) -> str:
        """The view as URL-safe text: compact JSON, keys sorted, in base64url."""
        data = {
            "filter": {} if self.incident_filter is None else _filter_json(self.incident_filter),
            "order": {"field": self.order.field.value, "descending": self.order.descending},
            "format": self.format.value,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def from_param(cls, param: str) -> ExportView:
        """The view ``to_param`` wrote; InvalidInput for anything else."""
        try:
            padded = param + "=" * (-len(param) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidInput("view is not an export view", field=FIELD) from None
        if not isinstance(data, dict) or set(data) != {"filter", "order", "format"}:
            raise InvalidInput("view is not an export view", field=FIELD)
        return cls(
            incident_filter=_filter_of(data["filter"]),
            order=_order_of(data["order"]),
            format=_member(ExportFormat, data["format"], "format"),
        )


def _filter_json(f: IncidentFilter) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in sorted(_FILTER_FIELDS):
        value = getattr(f, name)
        if value is None:
            continue
        if name in _ENUM_LISTS:
            value = [str(member) for member in value]
        elif isinstance(value, datetime):
            value = value.isoformat()
        data[name] = value
    return data


def _member(enum: type[StrEnum], value: Any, name: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        message = f"{name} is not one of {', '.join(enum)}"
        raise InvalidInput(message, field=[*FIELD, name]) from None


def _filter_of(data: Any) -> IncidentFilter | None:
    if not isinstance(data, dict) or not set(data) <= _FILTER_FIELDS:
        raise InvalidInput("view.filter is not a dashboard filter", field=[*FIELD, "filter"])
    if not data:
        return None
    values: dict[str, Any] = {}
    for name, value in data.items():
        field = [*FIELD, "filter", name]
        if name in _ENUM_LISTS:
            if not isinstance(value, list):
                raise InvalidInput(f"{name} must be a list", field=field)
            values[name] = [_member(_ENUM_LISTS[name], v, name) for v in value]
        elif name in _USER_IDS:
            if type(value) is not int or not 0 < value <= MAX_INT:
                raise InvalidInput(f"{name} must be a user id", field=field)
            values[name] = value
        elif name in _INSTANTS:
            try:
                instant = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"{name} must be a date and time", field=field) from None
            values[name] = check_instant(instant, field=field)
        elif name == "overdue":
            if not isinstance(value, bool):
                raise InvalidInput("overdue must be true or false", field=field)
            values[name] = value
        else:
            if not isinstance(value, str):
                raise InvalidInput("search must be text", field=field)
            values[name] = check_characters(value, field=field)
    return IncidentFilter(**values)


def _order_of(data: Any) -> IncidentOrder:
    if (
        not isinstance(data, dict)
        or set(data) != {"field", "descending"}
        or not isinstance(data["descending"], bool)
    ):
        raise InvalidInput("view.order is not a dashboard order", field=[*FIELD, "order"])
    field: OrderField = _member(OrderField, data["field"], "field")
    return IncidentOrder(field=field, descending=data["descending"])
