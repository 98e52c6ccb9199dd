"""GraphQL documents the HTTP tests share: the incident mutations, each answering with the
incident's fields and its errors, and a snapshot of an incident to compare before and after a
refusal."""

from __future__ import annotations

INCIDENT_FIELDS = """
    id number version status type impact urgency priority dueDate task
    reporter { name } assignedTo { name } supportedBy { name } watchers { name }
"""


def _incident_mutation(operation: str, field: str, input_type: str) -> str:
    return f"""
mutation {operation}($input: {input_type}!) {{
  {field}(input: $input) {{
    incident {{ {INCIDENT_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""


REPORT = _incident_mutation("Report", "reportIncident", "ReportIncidentInput")
ASSIGN = _incident_mutation("Assign", "assignIncident", "AssignIncidentInput")
UPDATE_STATUS = _incident_mutation("Status", "updateStatus", "UpdateStatusInput")
SAVE = _incident_mutation("Save", "saveIncident", "SaveIncidentInput")
WATCH = _incident_mutation("Watch", "watchIncident", "WatchIncidentInput")

ADD_COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) {
    comment { body author { name } }
    incident { version comments { totalCount } }
    errors { code message field }
  }
}
"""

SNAPSHOT = f"""
query Snapshot($id: ID!) {{
  incident(id: $id) {{
    {INCIDENT_FIELDS}
    comments {{ totalCount }}
    references {{ label url }}
    history(first: 100) {{ totalCount }}
  }}
  incidents {{ totalCount }}
}}
"""
