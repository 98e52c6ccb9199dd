"""Time zones of users: IANA names (``Europe/Paris``), checked against the zone database that
``zoneinfo`` reads (the system's, or the ``tzdata`` package where there is none)."""

from __future__ import annotations

import zoneinfo
from functools import cache

#: A user's time zone when neither they nor the desk's setting say otherwise.
DEFAULT_TIME_ZONE = "UTC"
#: Longer than any IANA name (the longest is 32 characters).
MAX_TIME_ZONE = 64


@cache
def _names() -> frozenset[str]:
    # "localtime" is the host's own zone under another name, "Factory" a placeholder that
    # reads "-00": neither is anyone's time zone.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name, exactly as the database spells it."""
    return name in _names()
