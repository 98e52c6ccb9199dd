"""The one place configuration is read: ``GQL_SUPPORT_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "GQL_SUPPORT_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the server can be told from outside, with the embedded defaults."""

    database_url: str = "sqlite://var/gql-support.sqlite3"
    debug: bool = False
    graphiql: bool = True
    demo_data: bool = True
    #: Redis for the live-update bus; unset: PostgreSQL LISTEN/NOTIFY, or in-process on SQLite.
    redis_url: str | None = None
    #: Browser origins, besides the server's own, that may open a subscription WebSocket.
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Reads the settings from ``GQL_SUPPORT_*`` variables; unset ones keep their default."""
        defaults = cls()

        def flag(name: str, default: bool) -> bool:
            value = environ.get(PREFIX + name)
            if value is None:
                return default
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"{PREFIX}{name} must be true or false, not {value!r}")

        return cls(
            database_url=environ.get(PREFIX + "DATABASE_URL", defaults.database_url),
            debug=flag("DEBUG", defaults.debug),
            graphiql=flag("GRAPHIQL", defaults.graphiql),
            demo_data=flag("DEMO_DATA", defaults.demo_data),
            redis_url=environ.get(PREFIX + "REDIS_URL") or None,
            allowed_origins=tuple(
                origin.strip()
                for origin in environ.get(PREFIX + "ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def sqlite_directory(self) -> Path | None:
        """The folder a SQLite file database lives in, so it can be created before use."""
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path in {"", ":memory:"}:
            return None
        return Path(path).parent
