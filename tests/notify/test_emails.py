"""Every kind of email, in English and in French, as its reader gets it: compared with the
reviewed snapshots in ``__snapshots__/test_emails/`` (subject, plain text, then HTML).

After changing a template or the catalog on purpose, run ``pytest tests/notify/test_emails.py
--snapshot-update`` and read the diff of the snapshots before committing them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from gql_support.notify.catalog import french_of
from gql_support.notify.messages import Notice, Renderer, Sender
from gql_support.notify.models import NoticeReason

#: Readers: a French one in Paris and an English one in London.
READERS = {
    "fr": ("Zoé Martin", "fr-FR", "Europe/Paris"),
    "en": ("Oliver Smith", "en", "Europe/London"),
}
DUE = "2026-12-03T13:17:23.120545+00:00"
INCIDENT = {"id": 7, "number": 1042, "summary": "Budget export times out after 30 seconds"}
ENTRY = INCIDENT | {
    "status": "IN_PROGRESS",
    "priority": "HIGH",
    "assignee": "Ben Okafor",
    "due_date": DUE,
}
CHANGE: dict[str, Any] = {
    "incident": INCIDENT | {"status": "IN_PROGRESS", "priority": "HIGH", "type": "DEFECT"},
    "actor": "Ann Lee",
    "at": "2026-12-01T09:30:00+00:00",
    "description": None,
    "changes": [],
    "comment": None,
    "references": [],
    "attachments": [],
}

#: One payload per kind of email (and per way an update reads).
KINDS: dict[str, tuple[NoticeReason, dict[str, Any]]] = {
    "receipt": (
        NoticeReason.RECEIPT,
        CHANGE
        | {
            "description": {
                "text": "Budget export times out after 30 seconds\n\nSince Monday, every time.",
                "truncated": False,
            },
            "changes": [{"field": "watchers", "from": None, "to": "Ann Lee"}],
        },
    ),
    "reported": (
        NoticeReason.REPORTED,
        CHANGE
        | {
            "description": {"text": "Budget export times out after 30 seconds", "truncated": False},
            "changes": [{"field": "assignedTo", "from": None, "to": "Ben Okafor"}],
        },
    ),
    "assigned": (
        NoticeReason.ASSIGNED,
        CHANGE | {"changes": [{"field": "assignedTo", "from": "Cleo Park", "to": "Ben Okafor"}]},
    ),
    "status": (
        NoticeReason.UPDATED,
        CHANGE
        | {
            "changes": [
                {"field": "status", "from": "NEW", "to": "IN_PROGRESS"},
                {"field": "priority", "from": "NORMAL", "to": "HIGH"},
                {"field": "dueDate", "from": None, "to": DUE},
            ],
            "comment": {"text": "Reproduced on the March budget.", "truncated": False},
            "references": [{"label": "CHG-118", "url": "https://tracker.example.com/CHG-118"}],
            "attachments": [{"id": 5, "name": "export.log", "size": 1_536_000}],
        },
    ),
    "comment": (
        NoticeReason.UPDATED,
        CHANGE | {"comment": {"text": "Could you try again now?", "truncated": False}},
    ),
    "update": (
        NoticeReason.UPDATED,
        CHANGE
        | {
            "changes": [
                {"field": "dueDate", "from": DUE, "to": "2026-12-10T08:00:00+00:00"},
                {"field": "type", "from": "DEFECT", "to": "CHANGE_REQUEST"},
            ]
        },
    ),
    "due_soon": (NoticeReason.DUE_SOON, {"incident": ENTRY}),
    "overdue": (NoticeReason.OVERDUE, {"incident": ENTRY}),
    "password_reset": (NoticeReason.PASSWORD_RESET, {"salt": "s4lt", "minutes": 30}),
    "digest": (
        NoticeReason.DIGEST,
        {
            "day": "2026-12-04",
            "overdue": [ENTRY],
            "overdue_count": 1,
            "unassigned": [
                {
                    "id": 9,
                    "number": 1051,
                    "summary": "Printer on floor 3 prints blank pages",
                    "status": "NEW",
                    "priority": "NORMAL",
                    "assignee": None,
                    "due_date": None,
                },
                {
                    "id": 10,
                    "number": 1052,
                    "summary": "New starter needs a desk account",
                    "status": "NEW",
                    "priority": "LOW",
                    "assignee": None,
                    "due_date": "2026-12-07T16:00:00+00:00",
                },
            ],
            "unassigned_count": 1_203,
        },
    ),
}


class EmailSnapshot(SingleFileSnapshotExtension):
    """One text file per email, so that a review reads it as its recipient would."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def render(kind: str, language: str) -> str:
    """The email of that kind for the reader of that language: subject, text, HTML."""
    reason, payload = KINDS[kind]
    name, locale, time_zone = READERS[language]
    sender = Sender(
        mail_from="Desk <desk@support.example.com>",
        public_url="https://desk.example.com",
        file_link=lambda file_id, user_id: f"https://desk.example.com/files/{file_id}?u={user_id}",
        reset_link=lambda salt: f"https://desk.example.com/reset-password?token={salt}.signed",
    )
    notice = Notice(
        id=1,
        reason=reason,
        to_address="reader@example.com",
        to_name=name,
        locale=locale,
        time_zone=time_zone,
        payload=payload,
        created_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        recipient_id=3,
    )
    message = message_from_bytes(Renderer(sender).render(notice).data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = {part.get_content_subtype(): str(part.get_content()) for part in message.iter_parts()}
    assert message["Content-Language"] == language
    return (
        f"Subject: {message['Subject']}\n\n{parts['plain']}\n"
        f"======== text/html ========\n{parts['html']}"
    )


@pytest.mark.parametrize("language", sorted(READERS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_email_reads_as_reviewed(
    kind: str, language: str, snapshot: SnapshotAssertion
) -> None:
    assert render(kind, language) == snapshot(extension_class=EmailSnapshot)


def test_dates_read_as_the_reader_reads_them() -> None:
    # The examples of issue 12: a moment in Paris for a French reader, in London for an
    # English one, to the minute.
    assert "Échéance : 3 déc. 2026, 14:17" in render("status", "fr")
    assert "Due date: Dec 3, 2026, 1:17\u202fPM" in render("status", "en")
    # and numbers with the reader's grouping and units
    assert "Sans attribution : 1\u202f203" in render("digest", "fr")
    assert "export.log (1,5\u202fMo)" in render("status", "fr")
    assert "export.log (1.5 MB)" in render("status", "en")


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Zoé Martin", "de Zoé Martin"),
        ("Ann Lee", "d'Ann Lee"),
        ("Élodie Roy", "d'Élodie Roy"),
        ("Hélène Petit", "d'Hélène Petit"),
        ("Yves Blanc", "d'Yves Blanc"),
        ("ben okafor", "de ben okafor"),
    ],
)
def test_french_elides_de_before_a_vowel_sound(name: str, written: str) -> None:
    assert french_of(name) == written
