"""Dates, times and numbers as the recipient reads them: Babel's CLDR data for their locale,
moments shown in their time zone.

A moment reads as the CLDR "medium date, short time" of the locale ("Dec 3, 2026, 1:17 PM" in
English, "3 déc. 2026, 14:17" in French), a day as the long date ("Thursday, December 3,
2026"), sizes with the locale's decimal sign and unit names.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from babel.units import format_unit

#: What a locale Babel does not know reads as.
FALLBACK_LOCALE = "en"
#: What an unknown time zone name reads as (names are checked when set; this is for rows
#: written before a zone was removed from the database).
FALLBACK_TIME_ZONE = "UTC"


@cache
def locale_of(tag: str) -> Locale:
    """The Babel locale of a user's locale tag (``fr-CA``, ``en_GB``, ``fr``)."""
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(FALLBACK_LOCALE)


@cache
def zone_of(name: str) -> ZoneInfo:
    """The time zone of an IANA name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_TIME_ZONE)


def moment(value: datetime | str, *, locale: str, time_zone: str) -> str:
    """A moment in the reader's time zone: medium date and short time of their locale."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    zone, reader = zone_of(time_zone), locale_of(locale)
    # The locale's own way of joining a date and a time ("{1}, {0}", "{1} 'at' {0}"…), with
    # the time to the minute: "medium" alone would show the seconds.
    pattern = str(reader.datetime_formats["medium"])
    return pattern.replace(
        "{0}", format_time(instant, "short", tzinfo=zone, locale=reader)
    ).replace("{1}", format_date(instant.astimezone(zone), "medium", locale=reader))


def day(value: date, *, locale: str) -> str:
    """A calendar day in full, as the locale writes it."""
    return format_date(value, "full", locale=locale_of(locale))


def count(value: int, *, locale: str) -> str:
    """A whole number with the locale's grouping."""
    return format_decimal(value, locale=locale_of(locale))


def size(value: int, *, locale: str) -> str:
    """A file size in bytes, kilobytes or megabytes, with the locale's unit names."""
    if value < 1000:
        return format_unit(value, "digital-byte", "short", locale=locale_of(locale))
    if value < 1000 * 1000:
        unit, amount = "digital-kilobyte", value / 1000
    else:
        unit, amount = "digital-megabyte", value / (1000 * 1000)
    return format_unit(amount, unit, "short", format="#,##0.#", locale=locale_of(locale))
