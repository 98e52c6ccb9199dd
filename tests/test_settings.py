"""Settings: read from the environment, typed and bounded, documented once (the README's table
is generated from the declarations), secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gql_support.cli import main
from gql_support.settings import Settings, markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_settings_read_the_mail_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SMTP_URL": "smtps://u:p@mail.example.com",
        "MAIL_FROM": "Desk <desk@example.com>",
        "PUBLIC_URL": "https://desk.example.com/",
        "OUTBOX_IN_SERVE": "false",
        "OUTBOX_BATCH_SIZE": "25",
        "OUTBOX_MAX_ATTEMPTS": "3",
        "ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com,",
    }.items():
        monkeypatch.setenv(f"GQL_SUPPORT_{name}", value)
    settings = Settings.from_env()
    assert settings.smtp_url == "smtps://u:p@mail.example.com"
    assert settings.public_url == "https://desk.example.com"
    assert (settings.outbox_in_serve, settings.outbox_batch_size) == (False, 25)
    assert settings.outbox_max_attempts == 3
    assert settings.allowed_origins == ("https://a.example.com", "https://b.example.com")


def test_a_dotenv_file_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("GQL_SUPPORT_OUTBOX_BATCH_SIZE=7\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env().outbox_batch_size == 7


def test_numbers_are_read_as_whole_or_not_as_their_setting_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "ATTACHMENT_MAX_BYTES": "1048576",
        "OUTBOX_BATCH_SIZE": "10000",
        "OUTBOX_POLL_SECONDS": "0.5",
        "OUTBOX_RETRY_BASE_SECONDS": "0",
        "STATEMENT_TIMEOUT": "0.5",
    }.items():
        monkeypatch.setenv(f"GQL_SUPPORT_{name}", value)
    settings = Settings.from_env()
    assert settings.attachment_max_bytes == 1_048_576
    assert isinstance(settings.outbox_batch_size, int)
    assert settings.outbox_batch_size == 10_000
    assert settings.outbox_poll_seconds == 0.5
    assert settings.outbox_retry_base_seconds == 0.0
    assert settings.statement_timeout == 0.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OUTBOX_BATCH_SIZE", "1.5", "valid integer"),
        ("OUTBOX_BATCH_SIZE", "0", "greater than or equal to 1"),
        # A batch's ids go into one statement, which takes at most 32,766 parameters.
        ("OUTBOX_BATCH_SIZE", "50000", "less than or equal to 10000"),
        ("ATTACHMENT_MAX_BYTES", "-1", "greater than or equal to 1"),
        ("OUTBOX_POLL_SECONDS", "soon", "valid number"),
        ("OUTBOX_POLL_SECONDS", "nan", "finite number"),
        ("DEBUG", "maybe", "valid boolean"),
        ("STATEMENT_TIMEOUT", "-1", "greater than or equal to 0"),
    ],
)
def test_a_value_out_of_place_is_refused_by_name(
    name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"GQL_SUPPORT_{name}", value)
    with pytest.raises(ValueError, match=f"^GQL_SUPPORT_{name}: .*{re.escape(message)}"):
        Settings.from_env()


def test_the_readme_table_is_the_declarations() -> None:
    assert markdown_table() in README.read_text(), (
        "run `python -m gql_support.settings` and paste its table into README.md"
    )


def test_config_prints_every_setting_with_secrets_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQL_SUPPORT_SECRET_KEY", "do-not-print-me")
    monkeypatch.setenv("GQL_SUPPORT_SMTP_URL", "smtp://desk:hunter2@mail.example.com:25")
    monkeypatch.setenv("GQL_SUPPORT_ATTACHMENTS_S3_SECRET_ACCESS_KEY", "s3-secret")
    assert main(["config"]) == 0
    printed = capsys.readouterr().out
    assert "do-not-print-me" not in printed
    assert "hunter2" not in printed
    assert "s3-secret" not in printed
    lines = dict(line.split("=", 1) for line in printed.splitlines())
    assert set(lines) == {f"GQL_SUPPORT_{name.upper()}" for name in Settings.model_fields}
    assert lines["GQL_SUPPORT_SMTP_URL"] == "smtp://desk:***@mail.example.com:25"
    assert lines["GQL_SUPPORT_SECRET_KEY"] == "**********"


def test_a_bad_setting_stops_the_command_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GQL_SUPPORT_OUTBOX_MAX_ATTEMPTS", "0")
    assert main(["config"]) == 2
    assert "GQL_SUPPORT_OUTBOX_MAX_ATTEMPTS" in capsys.readouterr().err
