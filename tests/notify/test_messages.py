"""The messages themselves: headers that thread and mark them automatic, and user text that
never breaks them."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from gql_support.accounts.models import Role, User
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.notify.messages import Notice, Renderer, Sender, templates
from gql_support.notify.models import NoticeReason, OutboxMessage
from gql_support.notify.transport import MailerConfigError, SmtpConfig, parse_smtp_url
from tests.conftest import MakePerson
from tests.notify.conftest import MakeWorker, SmtpServer


async def test_headers_thread_every_email_about_an_incident_and_mark_them_automatic(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a watched incident, reported then commented
    reporter = await make_person(Role.USER, name="Rita")
    watcher = await make_person(Role.USER)
    incident = await service.report_incident(
        actor=reporter.user,
        description="Printer jams",
        changes=IncidentChanges(watcher_ids=[watcher.user.id]),
    )
    await service.add_comment(actor=reporter.user, incident_id=incident.id, body="Again")

    # When they are sent
    assert await make_worker().drain() == 3

    # Then each has its own stable Message-ID and all refer to the incident's thread
    rows = await OutboxMessage.all().order_by("id")
    received = sorted(smtp.inbox.received, key=lambda r: str(r.message["Message-ID"]))
    assert sorted(str(r.message["Message-ID"]) for r in received) == sorted(
        f"<notice-{row.id}@support.example.com>" for row in rows
    )
    thread = f"<incident-{incident.id}@support.example.com>"
    for r in received:
        assert r.message["In-Reply-To"] == thread
        assert r.message["References"] == thread
        assert r.message["Auto-Submitted"] == "auto-generated"
        assert r.message["From"] == "Desk <desk@support.example.com>"
        assert r.sender == "desk@support.example.com"
        assert r.message["Date"] is not None
    (receipt,) = smtp.inbox.to(reporter.user.email)
    assert receipt.message["To"] == f"Rita <{reporter.user.email}>"
    assert "Its number is #1" in receipt.part("plain")


async def test_html_in_user_text_is_escaped(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a manager watching, and a report whose description and comment hold markup
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    await service.report_incident(
        actor=reporter.user,
        description='<script>alert("x")</script> in the export',
        changes=IncidentChanges(comment="<b>bold</b> & <img src=x onerror=alert(1)>"),
    )

    # When the manager's email is sent
    await make_worker().drain()
    (email,) = smtp.inbox.to(manager.user.email)

    # Then the HTML part shows the markup as text, and the text part shows it as typed
    html = email.part("html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert '<script>alert("x")</script> in the export' in email.part("plain")


async def test_line_breaks_in_user_text_cannot_add_headers(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a reporter whose name, and a description, try to smuggle a Bcc header
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    await User.filter(id=reporter.user.id).update(name="Eve\r\nBcc: evil@example.com")
    reporter.user = await User.get(id=reporter.user.id)
    await User.filter(id=manager.user.id).update(name="Max\nX-Injected: yes")
    await service.report_incident(
        actor=reporter.user, description="Export\rBcc: evil@example.com\r\n\r\nbody"
    )

    # When the emails are sent
    await make_worker().drain()

    # Then they go to their recipients only, with the text folded onto one header line
    assert smtp.inbox.addresses() == sorted([reporter.user.email, manager.user.email])
    for r in smtp.inbox.received:
        assert r.message["Bcc"] is None
        assert r.message["X-Injected"] is None
        assert "evil@example.com" not in r.recipients
    (to_manager,) = smtp.inbox.to(manager.user.email)
    assert to_manager.message["Subject"] == "[#1] New incident: Export Bcc: evil@example.com"
    assert to_manager.message["To"] == f'"Max X-Injected: yes" <{manager.user.email}>'


async def test_a_huge_comment_is_cut_in_the_email_with_a_link_to_the_rest(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a watched incident
    reporter = await make_person(Role.USER)
    watcher = await make_person(Role.USER)
    incident = await service.report_incident(
        actor=reporter.user,
        description="Log dump",
        changes=IncidentChanges(watcher_ids=[watcher.user.id]),
    )
    await make_worker().drain()
    smtp.inbox.received.clear()

    # When a 1 MB comment is added
    await service.add_comment(
        actor=reporter.user, incident_id=incident.id, body="line of log\n" * 87_000
    )
    await make_worker().drain()

    # Then the email carries its beginning and a link, not the megabyte
    (email,) = smtp.inbox.to(watcher.user.email)
    assert len(email.message.as_bytes()) < 40_000
    text = email.part("plain")
    assert text.count("line of log") < 400
    assert "longer than this email shows" in text
    assert f"https://desk.example.com/incidents/{incident.number}" in text
    assert "read it whole" in email.part("html")


def _parts(data: bytes) -> dict[str, str]:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return {part.get_content_subtype(): part.get_content() for part in message.iter_parts()} | {
        "to": str(message["To"])
    }


def test_recipients_of_one_change_each_get_their_own_name_and_links() -> None:
    # Given one change (one payload, with a file) for three recipients in two languages,
    # the first two in English
    payload = {
        "incident": {"id": 7, "number": 42, "summary": "Export times out"},
        "actor": "Ann",
        "description": None,
        "changes": [{"field": "status", "from": "NEW", "to": "IN_PROGRESS"}],
        "comment": {"text": "Looking at it", "truncated": False},
        "references": [],
        "attachments": [{"id": 5, "name": "trace.log", "size": 2048}],
    }
    renderer = Renderer(
        Sender(
            mail_from="desk@example.com",
            public_url="https://desk.example.com",
            file_link=lambda file_id, user_id: f"https://desk.example.com/f/{file_id}/{user_id}",
        )
    )
    people = [(1, "Ben <b>", "en"), (2, "Cleo", "en-GB"), (3, "Zoé", "fr")]

    # When their emails are rendered one after the other
    emails = {
        user_id: _parts(
            renderer.render(
                Notice(
                    id=100 + user_id,
                    reason=NoticeReason.UPDATED,
                    to_address=f"u{user_id}@example.com",
                    to_name=name,
                    locale=locale,
                    payload=payload,
                    created_at=datetime(2026, 11, 29, tzinfo=UTC),
                    recipient_id=user_id,
                )
            ).data
        )
        for user_id, name, locale in people
    }

    # Then each greets its own recipient, with links signed for them, in their language
    assert emails[1]["plain"].startswith("Hello Ben <b>,")
    assert "<p>Hello Ben &lt;b&gt;,</p>" in emails[1]["html"]
    assert emails[2]["plain"].startswith("Hello Cleo,")
    assert "Ben" not in emails[2]["plain"] + emails[2]["html"]
    assert emails[3]["plain"].startswith("Bonjour Zoé,")
    for user_id, email in emails.items():
        assert f"https://desk.example.com/f/5/{user_id}" in email["plain"]
        assert f'href="https://desk.example.com/f/5/{user_id}"' in email["html"]
        assert email["to"].endswith(f"<u{user_id}@example.com>")
    # and what they share says the same in each language
    assert "Status: New → In progress" in emails[1]["plain"]
    assert "Status: New → In progress" in emails[2]["plain"]
    assert "Statut : Nouveau → En cours" in emails[3]["plain"]


def test_a_long_subject_in_french_is_folded_with_crlf_and_reads_whole() -> None:
    # Given a change to an incident whose summary is long and accented, for a French reader
    summary = "Écran figé à la clôture du mois, impossible de valider les écritures"
    notice = Notice(
        id=1,
        reason=NoticeReason.UPDATED,
        to_address="zoe@example.com",
        to_name="Zoé",
        locale="fr",
        payload={
            "incident": {"id": 7, "number": 42, "summary": summary},
            "actor": "Ann",
            "description": None,
            "changes": [],
            "comment": {"text": "é" * 500, "truncated": False},
            "references": [],
            "attachments": [],
        },
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
    )

    # When it is rendered
    renderer = Renderer(Sender(mail_from="desk@example.com", public_url="https://d.example.com"))
    raw = renderer.render(notice).data

    # Then every line ends in CRLF (no bare CR or LF), no line is longer than 78 characters,
    # and the subject and body read whole
    assert raw.count(b"\r") == raw.count(b"\n") == raw.count(b"\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    parts = _parts(raw)
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == f"[#42] Nouveau commentaire d'Ann : {summary}"
    assert "é" * 500 in parts["plain"]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_templates_are_made_of_blocks_only(language: str) -> None:
    # The renderer assembles a message from the templates' blocks, in this order: text outside
    # them would be lost, so the blocks in order must be the whole template.
    context = {
        "subject": "S",
        "reason": "UPDATED",
        "name": "N",
        "actor": "A",
        "of_actor": "de A",
        "number": 1,
        "description": {"text": "D", "truncated": True},
        "rows": [{"label": "L", "old": "o", "new": "n"}],
        "comment": {"text": "C", "truncated": True},
        "references": [{"label": "R", "url": "https://r.example.com"}],
        "attachments": [{"name": "f", "size_text": "1 B", "link": "https://f.example.com"}],
        "link": "https://l.example.com",
    }
    for template in templates(language):
        frame = template.new_context(context)
        blocks = "".join("".join(block(frame)) for block in template.blocks.values())
        assert blocks == template.render(context)
        order = ["head", "greeting", "body", "files", "closing"]
        assert list(template.blocks) == [name for name in order if name in template.blocks]


def test_smtp_urls() -> None:
    assert parse_smtp_url("smtp://mail.example.com") == SmtpConfig(
        hostname="mail.example.com",
        port=25,
        use_tls=False,
        start_tls=False,
        username=None,
        password=None,
        timeout=30.0,
    )
    config = parse_smtp_url("smtp://me%40x.com:p%3Ass@mail:587?starttls=true&timeout=5")
    assert (config.port, config.start_tls, config.use_tls) == (587, True, False)
    assert (config.username, config.password, config.timeout) == ("me@x.com", "p:ss", 5.0)
    config = parse_smtp_url("smtps://u:p@mail")
    assert (config.port, config.use_tls, config.start_tls) == (465, True, False)
    for bad in (
        "http://mail",
        "smtp://",
        "smtp://mail?starttls=maybe",
        "smtp://mail?tls=true",
        "smtps://mail?starttls=true",
        "smtp://mail?timeout=soon",
    ):
        with pytest.raises(MailerConfigError):
            parse_smtp_url(bad)
