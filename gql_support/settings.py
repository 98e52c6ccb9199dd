"""The one place configuration is read: ``GQL_SUPPORT_*`` environment variables (and a ``.env``
file in the working directory), each declared once below with its type, default, bounds and
meaning. The README's configuration table is generated from these declarations
(``python -m gql_support.settings``) and a test keeps the two equal."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gql_support.accounts.timezones import DEFAULT_TIME_ZONE, is_time_zone

PREFIX = "GQL_SUPPORT_"
#: Where links in email point when GQL_SUPPORT_PUBLIC_URL is unset: what ``make run`` serves.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
#: What ``GQL_SUPPORT_ENV=production`` changes, unless set apart.
PRODUCTION_DEFAULTS = {"graphiql": False, "suggestions": False, "introspection": "signed-in"}


class Settings(BaseSettings):
    """Everything the server can be told from outside, with the embedded defaults. Building one
    reads the environment; keyword arguments (as tests pass them) take precedence."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    database_url: str = Field(
        "sqlite://var/gql-support.sqlite3",
        description="any Tortoise URL, e.g. `postgres://user:pass@host:5432/db`",
    )
    env: Literal["development", "production"] = Field(
        "development",
        description="`production`: GraphiQL, suggestions and anonymous introspection off unless "
        "set apart; refuses to start without `GQL_SUPPORT_SECRET_KEY` or with debug on",
    )
    debug: bool = Field(
        False, description="unexpected errors shown to clients in full, Starlette debug pages"
    )
    graphiql: bool = Field(True, description="serve GraphiQL on `GET /graphql` (off in production)")
    introspection: Literal["everyone", "signed-in", "off"] = Field(
        "everyone",
        description="who may ask `__schema`/`__type`: `everyone`, `signed-in` (in production) "
        "or `off`",
    )
    suggestions: bool = Field(
        True, description='"Did you mean …?" in error messages (off in production)'
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="largest request body that is not a file upload (413 over it; 8 MiB: a 1 MiB "
        "comment, escaped, fits)",
    )
    max_document_chars: int = Field(
        100_000,
        ge=100,
        description="longest GraphQL document (`DOCUMENT_TOO_LARGE`; long text goes in variables)",
    )
    max_tokens: int = Field(
        1000, ge=10, description="most tokens in a document (`TOO_MANY_TOKENS`)"
    )
    max_aliases: int = Field(15, ge=0, description="most aliased fields (`TOO_MANY_ALIASES`)")
    max_directives: int = Field(50, ge=0, description="most directives (`TOO_MANY_DIRECTIVES`)")
    max_depth: int = Field(10, ge=1, description="deepest nesting of fields (`TOO_DEEP`)")
    max_cost: int = Field(
        10_000,
        ge=1,
        description="most objects a query may return, lists counted at their page size "
        "(`TOO_COSTLY`)",
    )
    demo_data: bool = Field(
        True, description="`serve` seeds demo users and incidents into an empty database"
    )
    redis_url: str | None = Field(
        None,
        description="carry live updates over Redis pub/sub (e.g. `redis://127.0.0.1:6379/0`) "
        "instead of PostgreSQL's LISTEN/NOTIFY",
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated browser origins, besides the server's own, that may open "
        "the subscription WebSocket",
    )
    attachments_dir: str = Field(
        "var/attachments",
        description="where attached files are stored (when no S3 bucket is set)",
    )
    attachments_s3_bucket: str | None = Field(
        None, description="store attached files in this S3 bucket instead (for several hosts)"
    )
    attachments_s3_endpoint_url: str | None = Field(
        None, description="an S3-compatible service (MinIO, Ceph…); unset is AWS"
    )
    attachments_s3_region: str | None = Field(None, description="the bucket's region")
    attachments_s3_access_key_id: str | None = Field(
        None, description="S3 key id; unset uses boto3's own chain (e.g. an instance role)"
    )
    attachments_s3_secret_access_key: SecretStr | None = Field(
        None, description="S3 secret key, with the key id"
    )
    attachment_max_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="largest file accepted, in bytes (25 MiB)"
    )
    attachments_per_request: int = Field(10, ge=1, description="most files in one mutation")
    attachment_link_ttl: int = Field(
        3600, ge=1, description="seconds a signed download link (`Attachment.url`) stays valid"
    )
    secret_key: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="signs download links: set it (the same on every host) so links survive "
        "restarts; unset, a random one per process; required in production and by `serve "
        "--workers` above 1",
    )
    public_url: str | None = Field(
        None,
        description="the server's address as users reach it, for links: `Attachment.url` "
        "(unset: the request's own address) and email (`<PUBLIC_URL>/incidents/<number>`, file "
        f"links; unset: `{DEFAULT_PUBLIC_URL}`)",
    )
    smtp_url: str = Field(
        "",
        description="`smtp://[user:pass@]host[:25][?starttls=true][&timeout=30]` or "
        "`smtps://user:pass@host[:465]`; empty writes `.eml` files instead. `starttls=true` "
        "fails rather than send in clear when the server lacks STARTTLS; user and password "
        "are URL-encoded",
    )
    mail_from: str = Field(
        "gql-support <noreply@gql-support.invalid>",
        description="From header and envelope sender; its domain ends every Message-ID",
    )
    mail_dir: str = Field("var/mail", description="where `.eml` files go when there is no SMTP URL")
    outbox_in_serve: bool = Field(
        True,
        description="`serve` drains the outbox itself; turn off when `gql-support worker` runs "
        "apart",
    )
    # A batch's ids are one statement's parameters: both databases take up to 32,766.
    outbox_batch_size: int = Field(100, ge=1, le=10_000, description="rows a worker claims at once")
    outbox_poll_seconds: float = Field(
        5.0,
        ge=0.01,
        allow_inf_nan=False,
        description="how often a worker looks for due rows (the one in `serve` is also woken "
        "by each commit)",
    )
    outbox_lease_seconds: float = Field(
        300.0,
        ge=1,
        allow_inf_nan=False,
        description="how long claimed rows stay a worker's; after that a crashed worker's rows "
        "are taken over",
    )
    outbox_max_attempts: int = Field(
        10, ge=1, description="tries before a row is FAILED (a 5xx refusal fails it at once)"
    )
    outbox_retry_base_seconds: float = Field(
        30.0,
        ge=0,
        allow_inf_nan=False,
        description="first retry delay, doubled each try, jittered down by up to half…",
    )
    outbox_retry_max_seconds: float = Field(
        3600.0,
        ge=0,
        allow_inf_nan=False,
        description="…and capped here (the defaults keep retrying for about four hours)",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=1000,
        description="PostgreSQL connections each server process keeps open (one per request "
        "running a query at once)",
    )
    access_log: bool = Field(
        True, description="`serve` logs a line per HTTP request (off, it costs nothing)"
    )
    reminder_lead_working_days: int = Field(
        1,
        ge=1,
        le=30,
        description='the worker emails "due soon" this many working days (Monday to Friday, in '
        "`GQL_SUPPORT_DEFAULT_TIME_ZONE`) before an incident's due date",
    )
    digest_hour: int = Field(
        8,
        ge=0,
        le=23,
        description="hour of the day, in each manager's time zone, from which the worker emails "
        "them the day's digest of overdue and unassigned incidents",
    )
    reminder_catch_up_hours: float = Field(
        24.0,
        gt=0,
        allow_inf_nan=False,
        description='the worker emails "overdue" for due dates passed at most this long ago; '
        "older ones (missed while no worker ran: an outage, an upgrade, a restored backup) "
        "are not emailed one by one: the managers' digest counts and lists them",
    )
    reminder_batch_size: int = Field(
        100,
        ge=1,
        le=10_000,
        description="incidents a worker reminds about per transaction (it lets requests run "
        "between two)",
    )
    reminder_check_seconds: float = Field(
        60.0,
        ge=0.01,
        allow_inf_nan=False,
        description="how often a worker looks for reminders and digests that are due",
    )
    statement_timeout: float = Field(
        5.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="seconds any one SQL statement may run on PostgreSQL before it is cancelled, "
        "so no request holds a pooled connection for long (0: no limit; migrations have none); "
        "the client gets a GraphQL error with the code `TIMEOUT`",
    )
    token_lifetime_seconds: int = Field(
        30 * 24 * 3600,
        ge=60,
        description="how long a token from `login` or the CLI is valid (30 days)",
    )
    login_free_attempts: int = Field(
        5, ge=1, description="login attempts per account before the waits start…"
    )
    login_free_attempts_per_address: int = Field(
        30,
        ge=1,
        description="…and per client address (behind a proxy, run uvicorn with "
        "`--forwarded-allow-ips` so this is the client's)",
    )
    login_max_wait_seconds: int = Field(
        900, ge=1, description="the waits (1 s, doubled at each further attempt) stop here"
    )
    password_hashes_at_once: int = Field(
        2,
        ge=1,
        le=64,
        description="password hashes computed at once per process (argon2: 64 MiB each); more "
        "logins queue",
    )
    default_time_zone: str = Field(
        DEFAULT_TIME_ZONE,
        description="IANA time zone given to users created without one (e.g. `Europe/Paris`); "
        "users there were before time zones got `UTC`",
    )
    password_reset_lifetime_seconds: int = Field(
        1800,
        ge=60,
        description="how long the link of a password reset email works (once), in seconds",
    )
    password_resets_per_hour: int = Field(
        3, ge=1, description="password reset emails asked for one address in an hour…"
    )
    password_resets_per_hour_per_address: int = Field(
        20, ge=1, description="…and asked from one client address"
    )
    writes_per_minute: float = Field(
        30.0,
        ge=0.01,
        allow_inf_nan=False,
        description="writes (reports, comments, Save/Sends, any incident change) per user, on "
        "average…",
    )
    write_burst: int = Field(30, ge=1, description="…in bursts of at most this many")
    metrics_token: SecretStr | None = Field(
        None,
        description="the bearer token Prometheus sends to read `/metrics` "
        "(`Authorization: Bearer <it>`); unset, `/metrics` answers 404",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object per log line, each line of a request with its "
        "`request_id`",
    )
    otel_endpoint: str | None = Field(
        None,
        description="send OpenTelemetry traces of every operation to this OTLP/HTTP collector "
        "(e.g. `http://127.0.0.1:4318/v1/traces`); needs `pip install 'gql-support[otel]'`",
    )
    export_link_ttl: int = Field(
        300, ge=1, description="seconds an `exportIncidents` download link stays valid"
    )
    export_max_rows: int = Field(
        200_000,
        ge=1,
        description="most incidents in one export (XLSX stops at 1,048,575 whatever this says); "
        "a larger view is refused with `TOO_LARGE`",
    )
    exports_per_minute: float = Field(
        1.0,
        ge=0.01,
        allow_inf_nan=False,
        description="exports (file downloads) per user, on average…",
    )
    export_burst: int = Field(5, ge=1, description="…in bursts of at most this many")
    exports_at_once: int = Field(
        2, ge=1, description="exports written at once per process; more are refused with 503"
    )

    @model_validator(mode="before")
    @classmethod
    def _production_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("env") == "production":
            return {**PRODUCTION_DEFAULTS, **data}
        return data

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("default_time_zone")
    @classmethod
    def _iana_time_zone(cls, value: str) -> str:
        if not is_time_zone(value):
            raise ValueError("not an IANA time zone name such as Europe/Paris")
        return value

    @field_validator("public_url")
    @classmethod
    def _without_trailing_slash(cls, value: str | None) -> str | None:
        return (value or "").rstrip("/") or None

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of this process; a bad value fails naming its variable."""
        try:
            return cls()
        except ValidationError as error:
            problems = "; ".join(
                f"{PREFIX}{str(e['loc'][0]).upper()}: {e['msg']} (got {e['input']!r})"
                for e in error.errors()
            )
            raise ValueError(problems) from None

    @property
    def secret_key_is_set(self) -> bool:
        """Whether links are signed with a configured key rather than this process's own."""
        return "secret_key" in self.model_fields_set

    def production_refusals(self) -> list[str]:
        """Why this configuration must not serve in production; empty when it may."""
        if self.env != "production":
            return []
        refusals = []
        if not self.secret_key_is_set:
            refusals.append(
                "GQL_SUPPORT_SECRET_KEY is unset: every process would sign links with a key of "
                "its own that dies with it"
            )
        if self.debug:
            refusals.append(
                "GQL_SUPPORT_DEBUG is on: unexpected errors would reach clients in full"
            )
        return refusals

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    def sqlite_directory(self) -> Path | None:
        """The folder a SQLite file database lives in, so it can be created before use."""
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path in {"", ":memory:"}:
            return None
        return Path(path).parent

    def effective(self) -> dict[str, str]:
        """Every setting as its variable and value, secrets and URL passwords hidden."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "**********"
            elif isinstance(value, str) and "://" in value:
                text = _without_password(value)
            else:
                text = _text(value)
            shown[PREFIX + name.upper()] = text
        return shown


def _text(value: object) -> str:
    """A value as one would write it in the environment."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def markdown_table() -> str:
    """The README's configuration table, from the declarations above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "random per process"
        elif field.default in (None, ()):
            default = "unset"
        elif field.default == "":
            default = "*(empty)*"
        else:
            default = f"`{_text(field.default)}`"
        rows.append(f"| `{PREFIX}{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
