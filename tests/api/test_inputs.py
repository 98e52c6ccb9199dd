"""The GraphQL inputs carry every editable field the field rules declare."""

from __future__ import annotations

import dataclasses

from gql_support.api.inputs import SaveIncidentInput
from gql_support.incidents.fields import RULES


def test_save_send_can_change_every_editable_field() -> None:
    inputs = {f.name for f in dataclasses.fields(SaveIncidentInput)}
    editable = {rule.attribute for rule in RULES if rule.derive is None}
    assert editable <= inputs, editable - inputs
