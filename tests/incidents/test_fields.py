"""The field rules table: one declaration per editable field, read by the service, the API's
inputs and the README."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.fields import RULES, render_markdown

#: What a change request carries besides the editable fields.
ADDITIONS = {"comment", "references", "attachments"}


def test_every_field_of_a_change_request_has_exactly_one_rule() -> None:
    requested = {f.name for f in dataclasses.fields(IncidentChanges)} - ADDITIONS
    declared = [rule.attribute for rule in RULES if rule.derive is None]
    assert sorted(declared) == sorted(requested)


def test_history_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


def test_the_readme_shows_the_table_the_code_reads() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert render_markdown() in readme
