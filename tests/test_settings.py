"""Settings read from the environment: the mail variables, and numbers, whole where they count
things and within bounds."""

from __future__ import annotations

import re

import pytest

from gql_support.settings import Settings


def test_settings_read_the_mail_variables() -> None:
    settings = Settings.from_env(
        {
            "GQL_SUPPORT_SMTP_URL": "smtps://u:p@mail.example.com",
            "GQL_SUPPORT_MAIL_FROM": "Desk <desk@example.com>",
            "GQL_SUPPORT_PUBLIC_URL": "https://desk.example.com/",
            "GQL_SUPPORT_OUTBOX_IN_SERVE": "false",
            "GQL_SUPPORT_OUTBOX_BATCH_SIZE": "25",
            "GQL_SUPPORT_OUTBOX_MAX_ATTEMPTS": "3",
        }
    )
    assert settings.smtp_url == "smtps://u:p@mail.example.com"
    assert settings.public_url == "https://desk.example.com"
    assert (settings.outbox_in_serve, settings.outbox_batch_size) == (False, 25)
    assert settings.outbox_max_attempts == 3
    with pytest.raises(ValueError, match="OUTBOX_BATCH_SIZE"):
        Settings.from_env({"GQL_SUPPORT_OUTBOX_BATCH_SIZE": "0"})


def test_numbers_are_read_as_whole_or_not_as_their_setting_is() -> None:
    settings = Settings.from_env(
        {
            "GQL_SUPPORT_ATTACHMENT_MAX_BYTES": "1048576",
            "GQL_SUPPORT_OUTBOX_BATCH_SIZE": "10000",
            "GQL_SUPPORT_OUTBOX_POLL_SECONDS": "0.5",
            "GQL_SUPPORT_OUTBOX_RETRY_BASE_SECONDS": "0",
        }
    )
    assert settings.attachment_max_bytes == 1_048_576
    assert isinstance(settings.outbox_batch_size, int)
    assert settings.outbox_batch_size == 10_000
    assert settings.outbox_poll_seconds == 0.5
    assert settings.outbox_retry_base_seconds == 0.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OUTBOX_BATCH_SIZE", "1.5", "must be a whole number, not '1.5'"),
        ("OUTBOX_BATCH_SIZE", "0", "must be at least 1 and at most 10000, not '0'"),
        # A batch's ids go into one statement, which takes at most 32,766 parameters.
        ("OUTBOX_BATCH_SIZE", "50000", "must be at least 1 and at most 10000, not '50000'"),
        ("ATTACHMENT_MAX_BYTES", "-1", "must be at least 1, not '-1'"),
        ("OUTBOX_POLL_SECONDS", "soon", "must be a number, not 'soon'"),
        ("OUTBOX_POLL_SECONDS", "nan", "must be at least 0.01, not 'nan'"),
    ],
)
def test_a_number_out_of_place_is_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^GQL_SUPPORT_{name} {re.escape(message)}$"):
        Settings.from_env({f"GQL_SUPPORT_{name}": value})
