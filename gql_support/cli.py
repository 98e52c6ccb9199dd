"""The ``gql-support`` command: serve, migrate, send email, and manage users, tokens, the
outbox and attachments."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import uvicorn

from gql_support import db, logs
from gql_support import demo as demo_data
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.attachments.service import AttachmentStore
from gql_support.demo import DEMO_PASSWORD, seed_if_empty
from gql_support.errors import DomainError
from gql_support.incidents import reminders
from gql_support.live import bus
from gql_support.notify import admin as outbox
from gql_support.notify.models import OutboxStatus
from gql_support.notify.worker import OutboxWorker
from gql_support.settings import Settings


def _with_database(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    async def run() -> int:
        await db.open_database(settings)
        # Publishing only (revoked sessions reach the servers' open connections): no listener.
        live_bus = bus.for_database(settings.database_url, settings.redis_url)
        bus.use(live_bus)
        try:
            return await work()
        finally:
            await live_bus.stop()
            await db.close_database()

    return asyncio.run(run())


def serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers > 1 and settings.is_sqlite and not settings.redis_url:
        print(
            "error: --workers > 1 needs PostgreSQL (or GQL_SUPPORT_REDIS_URL): on SQLite live "
            "updates stay inside one process, so dashboards served by the others would miss "
            "changes",
            file=sys.stderr,
        )
        return 2
    refusals = settings.production_refusals()
    if args.workers > 1 and not settings.secret_key_is_set:
        refusals.append(
            "--workers > 1 needs GQL_SUPPORT_SECRET_KEY: each process would sign download "
            "links with its own key, and the others would refuse them"
        )
    if refusals:
        for refusal in refusals:
            print(f"error: {refusal}", file=sys.stderr)
        return 2
    asyncio.run(db.migrate(settings))
    if settings.demo_data:
        tokens = asyncio.run(_seed(settings))
        if tokens:
            print(f"Demo users (password {DEMO_PASSWORD!r}) and their tokens:")
            for email, token in tokens.items():
                print(f"  {email:<22} {token}")
    if not settings.outbox_in_serve:
        print("Email: queued only; run `gql-support worker` to send it")
    elif settings.smtp_url:
        print("Email: sent through GQL_SUPPORT_SMTP_URL")
    else:
        print(f"Email: written as .eml files under {settings.mail_dir}/ (no GQL_SUPPORT_SMTP_URL)")
    graphiql = " and GraphiQL" if settings.graphiql else ""
    print(f"Web desk (sign in with an email and password): http://{args.host}:{args.port}/")
    print(f"GraphQL API{graphiql}: http://{args.host}:{args.port}/graphql", flush=True)
    uvicorn.run(
        "gql_support.api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=logs.config(settings.log_format),
        access_log=settings.access_log,
        # Compression costs ~40 KB per open WebSocket: dashboards send small JSON messages.
        ws_per_message_deflate=False,
    )
    return 0


async def _seed(settings: Settings) -> dict[str, str] | None:
    await db.open_database(settings)
    try:
        return await seed_if_empty()
    finally:
        await db.close_database()


def migrate(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(db.migrate(settings))
    print("database is up to date")
    return 0


def demo(settings: Settings, args: argparse.Namespace) -> int:
    """Migrates, seeds the demo users if the database is empty, then adds incidents in bulk."""
    asyncio.run(db.migrate(settings))

    async def work() -> int:
        tokens = await seed_if_empty()
        if tokens:
            print(f"Demo users (password {DEMO_PASSWORD!r}) and their tokens:")
            for email, token in tokens.items():
                print(f"  {email:<22} {token}")
        filled = await demo_data.fill(
            incidents=args.incidents, users=args.users, comments=args.comments
        )
        rows = ", ".join(f"{count} {table}" for table, count in filled.counts.items())
        print(f"added {rows} in {filled.seconds:.1f} s")
        return 0

    return _with_database(settings, work)


def _token_lifetime(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.token_lifetime_seconds)


def user_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        user = await accounts.create_user(
            email=args.email,
            name=args.name,
            role=Role(args.role),
            locale=args.locale,
            time_zone=args.time_zone or settings.default_time_zone,
            password=args.password,
        )
        print(f"created {user.role} {user.name} <{user.email}>")
        print(await accounts.issue_token(user=user, lifetime=_token_lifetime(settings)))
        return 0

    return _with_database(settings, work)


def user_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        print("email\tname\trole\tlocale\ttime zone\tactive")
        for user in await accounts.all_users():
            active = "yes" if user.is_active else "no"
            print(
                f"{user.email}\t{user.name}\t{user.role}\t{user.locale}\t{user.time_zone}\t{active}"
            )
        return 0

    return _with_database(settings, work)


def user_update(settings: Settings, args: argparse.Namespace) -> int:
    async def update(user: User) -> str:
        changed = await accounts.change_user(
            user_id=user.id,
            role=None if args.role is None else Role(args.role),
            name=args.name,
            locale=args.locale,
            time_zone=args.time_zone,
        )
        return (
            f"updated {changed.role} {changed.name} <{changed.email}> "
            f"({changed.locale}, {changed.time_zone})"
        )

    return _for_user(settings, args.email, update)


def user_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    async def deactivate(user: User) -> str:
        await accounts.change_user(user_id=user.id, is_active=False)
        return f"deactivated {user.email}: signed out everywhere"

    return _for_user(settings, args.email, deactivate)


def user_activate(settings: Settings, args: argparse.Namespace) -> int:
    async def activate(user: User) -> str:
        await accounts.change_user(user_id=user.id, is_active=True)
        return f"activated {user.email}: they sign in again with their password or a new token"

    return _for_user(settings, args.email, activate)


def _for_user(settings: Settings, email: str, act: Callable[[User], Awaitable[str]]) -> int:
    """Runs ``act`` on the user with this email and prints what it says."""

    async def work() -> int:
        user = await accounts.get_user_by_email(email=email)
        if user is None:
            print(f"no user with email {email}", file=sys.stderr)
            return 1
        print(await act(user))
        return 0

    return _with_database(settings, work)


def token_create(settings: Settings, args: argparse.Namespace) -> int:
    return _for_user(
        settings,
        args.email,
        lambda user: accounts.issue_token(user=user, lifetime=_token_lifetime(settings)),
    )


def token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def revoke(user: User) -> str:
        return f"revoked {await accounts.revoke_user_tokens(user=user)} token(s)"

    return _for_user(settings, args.email, revoke)


def attachments_sweep(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        store = AttachmentStore.from_settings(settings)
        removed = await store.sweep_orphans(older_than=args.older_than)
        print(f"removed {len(removed)} orphaned file(s)")
        return 0

    return _with_database(settings, work)


def worker(settings: Settings, args: argparse.Namespace) -> int:
    """Sends the outbox until SIGINT or SIGTERM (or, with --once, until nothing is due)."""

    async def work() -> int:
        sender = OutboxWorker(settings, reminders=reminders.for_worker(settings))
        if args.once:
            print(f"sent {await sender.drain()} email(s)")
            return 0
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, sender.stop)
        print(f"outbox worker {sender.name} running", flush=True)
        await sender.run()
        return 0

    return _with_database(settings, work)


def outbox_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        status = None if args.status is None else OutboxStatus(args.status)
        rows = await outbox.list_messages(status=status, limit=args.limit)
        print("id\tstatus\tattempts\tincident\treason\trecipient\tnext attempt\tlast error")
        for row in rows:
            error = (row.last_error or "").replace("\n", " ")
            # A password reset or a digest is about no incident.
            incident = row.payload.get("incident")
            number = incident["number"] if isinstance(incident, dict) else "-"
            print(
                f"{row.id}\t{row.status}\t{row.attempts}\t{number}"
                f"\t{row.reason}\t{row.to_address}\t{row.next_attempt_at.isoformat()}\t{error}"
            )
        return 0

    return _with_database(settings, work)


def outbox_retry(settings: Settings, args: argparse.Namespace) -> int:
    if args.failed == bool(args.ids):
        print("error: give message ids or --failed, not both", file=sys.stderr)
        return 2

    async def work() -> int:
        count = await outbox.retry_messages(ids=args.ids, failed=args.failed)
        print(f"{count} message(s) queued again")
        return 0

    return _with_database(settings, work)


def config(settings: Settings, args: argparse.Namespace) -> int:
    for variable, value in settings.effective().items():
        print(f"{variable}={value}")
    return 0


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= db.MAX_INT:
        raise argparse.ArgumentTypeError(f"must lie between 0 and {db.MAX_INT}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gql-support", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="migrate, then serve the API and GraphiQL")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1, help="server processes")
    serve_cmd.set_defaults(handler=serve)

    demo_cmd = commands.add_parser(
        "demo", help="migrate, then add demo users and incidents in bulk (for trying at scale)"
    )
    demo_cmd.add_argument("--incidents", type=_count, required=True, metavar="N")
    demo_cmd.add_argument("--users", type=_count, default=200, metavar="U", help="default 200")
    demo_cmd.add_argument("--comments", type=_count, metavar="C", help="default five per incident")
    demo_cmd.set_defaults(handler=demo)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(handler=migrate)
    commands.add_parser(
        "config", help="print the effective configuration, secrets hidden"
    ).set_defaults(handler=config)

    worker_cmd = commands.add_parser("worker", help="send queued email (apart from serve)")
    worker_cmd.add_argument("--once", action="store_true", help="send what is due, then exit")
    worker_cmd.set_defaults(handler=worker)

    outbox_cmd = commands.add_parser("outbox", help="inspect and retry queued email")
    outbox_actions = outbox_cmd.add_subparsers(dest="action", required=True)
    listing = outbox_actions.add_parser("list", help="the newest outbox messages")
    listing.add_argument("--status", choices=[s.value for s in OutboxStatus])
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=outbox_list)
    retry = outbox_actions.add_parser("retry", help="send messages again")
    retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every FAILED message")
    retry.set_defaults(handler=outbox_retry)

    user_cmd = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = user_cmd.add_parser("create", help="create a user and print a token for them")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.USER.value)
    create.add_argument("--locale", default="en")
    create.add_argument(
        "--time-zone", help="IANA name, e.g. Europe/Paris (default: GQL_SUPPORT_DEFAULT_TIME_ZONE)"
    )
    create.add_argument("--password")
    create.set_defaults(handler=user_create)
    user_cmd.add_parser("list", help="every user, active or not").set_defaults(handler=user_list)
    update = user_cmd.add_parser("update", help="change a user's role, name, language or time zone")
    update.add_argument("--email", required=True)
    update.add_argument("--role", choices=[r.value for r in Role])
    update.add_argument("--name")
    update.add_argument("--locale")
    update.add_argument("--time-zone", help="IANA name, e.g. Europe/Paris")
    update.set_defaults(handler=user_update)
    deactivate = user_cmd.add_parser(
        "deactivate", help="sign a user out everywhere and refuse their sign-ins"
    )
    deactivate.add_argument("--email", required=True)
    deactivate.set_defaults(handler=user_deactivate)
    activate = user_cmd.add_parser("activate", help="let a deactivated user sign in again")
    activate.add_argument("--email", required=True)
    activate.set_defaults(handler=user_activate)

    token_cmd = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    issue = token_cmd.add_parser("create", help="issue another token for a user")
    issue.add_argument("--email", required=True)
    issue.set_defaults(handler=token_create)
    revoke = token_cmd.add_parser("revoke", help="revoke every token of a user")
    revoke.add_argument("--email", required=True)
    revoke.set_defaults(handler=token_revoke)

    files_cmd = commands.add_parser("attachments", help="look after attached files")
    sweep = files_cmd.add_subparsers(dest="action", required=True).add_parser(
        "sweep", help="remove stored files no attachment refers to (left by a crash)"
    )
    sweep.add_argument(
        "--older-than",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="only files stored at least this long ago, so uploads in flight are kept",
    )
    sweep.set_defaults(handler=attachments_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(settings, args))
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
