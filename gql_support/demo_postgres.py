"""Demo data at scale on PostgreSQL, set-based: ``gql-support demo`` writes every row with a
few ``INSERT … SELECT`` statements over ``generate_series``, in one transaction.

Profiled at 20,000 incidents (2 cores), the row-by-row load (rows built in Python, then COPY)
took 25.6 s: 12.5 s copying the incidents, nearly all of it the search trigger parsing each
document twice (English and French, 0.44 ms per 1 KB document), 5.3 s copying history rows
(index and foreign-key checks per row), 3 s comments, 2.3 s building the rows in Python. So
here:

- texts come from pools (comment bodies, description heads and tails, reference labels),
  each parsed into a ``tsvector`` once; an incident's vector is the concatenation of its parts'
  vectors, as the search trigger itself builds it when a change appends to the document
  (``OLD.search_vector || to_tsvector(appended)``), so the trigger is disabled for the load;
- when the rows added outnumber those there are, the tables' secondary indexes and foreign
  keys are dropped first and built again at the end, one pass each, instead of row by row.

Every invariant the service keeps holds, as with the row-by-row load it replaces (the tests
check them row by row): gapless numbers and the counter, ranks and priority, the history
(REPORTED, then one batch per change, status moves along the workflow), one version per
change, the search document (description, reference label, comments) and its vector; and
the reminders of every due date gone by are marked as sent, as a desk that had been running
would have them (the worker's first pass would otherwise find thousands never reminded of).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gql_support.incidents.models import IncidentEventKind as Kind
from gql_support.incidents.search import SEARCH_TRIGGER, vector_sql

#: The tables the demo writes, and the columns whose values it takes from the sequences.
TABLES = (
    "incident", "incident_supporter", "incident_watcher", "comment", "reference",
    "incident_event",
)  # fmt: skip
#: Pool sizes: short comment bodies (1 to 3 sentences) and long ones (20 to 60).
_SHORT, _LONG = 3000, 200


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What to write: how many, who, which words, and the rules' tables (from the domain)."""

    incidents: int
    comments: int
    number: int
    first_ids: dict[str, int]
    start: datetime
    span: float
    #: The moment of the fill: due dates before it are marked as reminded of.
    now: datetime
    reporters: Sequence[int]
    agents: Sequence[int]
    managers: Sequence[int]
    subjects: Sequence[str]
    problems: Sequence[str]
    topics: Sequence[str]
    sentences: Sequence[str]
    tasks: Sequence[str | None]
    #: Each value repeated by its weight: picking one at random follows the weights.
    types: Sequence[str]
    impacts: Sequence[str]
    urgencies: Sequence[str]
    statuses: Sequence[str]
    #: (impact, urgency, priority, priority rank), and (status, rank, moves from NEW).
    priorities: Sequence[tuple[str, str, str, int]]
    paths: Sequence[tuple[str, int, list[str]]]
    max_comment: int
    max_document: int


def _vector(text: str) -> str:
    return vector_sql(text)


_PARAMETERS = """
CREATE TEMP TABLE demo_param (
  n int, comments int, number0 int, incident0 int, supporter0 int, watcher0 int,
  comment0 int, reference0 int, event0 int, start timestamptz, span float8, now timestamptz,
  reporters int[], agents int[], managers int[], subjects text[], problems text[],
  topics text[], sentences text[], tasks text[], types text[], impacts text[],
  urgencies text[], statuses text[], max_comment int, max_document int
) ON COMMIT DROP;
CREATE TEMP TABLE demo_priority (impact text, urgency text, priority text, rank int)
  ON COMMIT DROP;
CREATE TEMP TABLE demo_status (status text, rank int, path text[]) ON COMMIT DROP;
CREATE OR REPLACE AGGREGATE pg_temp.demo_vectors (tsvector) (
  SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = ''
);
"""

# Pools: each text parsed once. Correlated subqueries (they name the outer row) draw anew
# for every row.
_POOLS = f"""
ANALYZE demo_param, demo_priority, demo_status;
CREATE TEMP TABLE demo_name ON COMMIT DROP AS
SELECT u.id, u.name FROM "user" u, demo_param p WHERE u.id = ANY(p.reporters);
ALTER TABLE demo_name ADD PRIMARY KEY (id);
ANALYZE demo_name;
CREATE TEMP TABLE demo_text ON COMMIT DROP AS
SELECT k, body, {_vector("left(body, max_comment)")} AS vector
FROM (
  SELECT s.k, p.max_comment,
    -- (g in the argument: an aggregate of outer columns only would be the outer query's)
    (SELECT string_agg(p.sentences[g * 0 + 1 + floor(random() * cardinality(p.sentences))::int],
       ' ') FROM generate_series(1, s.sentences) g) AS body
  FROM demo_param p,
    (SELECT k, CASE WHEN k <= {_SHORT} THEN 1 + k % 3 ELSE 20 + k % 41 END AS sentences
       FROM generate_series(1, {_SHORT + _LONG}) k) s
) t;
CREATE TEMP TABLE demo_head ON COMMIT DROP AS
SELECT s, q, t, head, {_vector("head")} AS vector
FROM (
  SELECT s, q, t, p.subjects[s] || ' ' || p.problems[q] || ' (' || p.topics[t] || ').' AS head
  FROM demo_param p, generate_subscripts(p.subjects, 1) s, generate_subscripts(p.problems, 1) q,
    generate_subscripts(p.topics, 1) t
) h;
CREATE TEMP TABLE demo_label ON COMMIT DROP AS
SELECT s, step, label, {_vector("label")} AS vector
FROM (
  SELECT s, step, p.subjects[s] || ', step ' || step AS label
  FROM demo_param p, generate_subscripts(p.subjects, 1) s, generate_series(1, 9) step
) l;
ALTER TABLE demo_text ADD PRIMARY KEY (k);
ANALYZE demo_text, demo_head, demo_label;
"""


def _pick(array: str) -> str:
    return f"p.{array}[1 + floor(random() * cardinality(p.{array}))::int]"


# One row per incident: every choice drawn once, the rest derived from them.
_INCIDENTS = f"""
CREATE TEMP TABLE demo_draw ON COMMIT DROP AS
SELECT g.i,
  p.incident0 + g.i AS id, p.number0 + g.i AS number,
  p.start + make_interval(secs => floor(p.span * g.i)) AS created,
  {_pick("reporters")} AS reporter,
  1 + floor(random() * cardinality(p.subjects))::int AS s,
  1 + floor(random() * cardinality(p.problems))::int AS q,
  1 + g.i % cardinality(p.topics) AS t,
  CASE WHEN random() >= 0.25 THEN 1 + floor(random() * {_SHORT})::int END AS tail,
  {_pick("types")} AS type, {_pick("impacts")} AS impact, {_pick("urgencies")} AS urgency,
  {_pick("statuses")} AS status, {_pick("tasks")} AS task,
  random() < 0.7 AS reporter_watches,
  CASE WHEN random() < 0.3 THEN {_pick("reporters")} END AS other_watcher,
  CASE WHEN random() < 0.2 THEN 1 + floor(random() * cardinality(p.subjects))::int END
    AS label_s,
  1 + floor(random() * 9)::int AS label_step,
  random() < 0.5 AS triage_anyway,
  {_pick("managers")} AS manager, {_pick("agents")} AS assignee,
  (ARRAY[0, 1, 1, 2, 3])[1 + floor(random() * 5)::int] AS wanted,
  make_interval(mins => 5 + floor(random() * 596)::int) AS triage_after,
  CASE WHEN random() < 0.6 THEN make_interval(days => 1 + floor(random() * 45)::int) END
    AS due_after
FROM demo_param p, generate_series(0, p.n - 1) g(i);
ANALYZE demo_draw;

CREATE TEMP TABLE demo_incident ON COMMIT DROP AS
SELECT d.*,
  CASE WHEN d.triaged THEN d.created + d.triage_after END AS triage_at,
  CASE WHEN d.triaged THEN d.assignee END AS assigned_to,
  CASE WHEN d.triaged THEN d.created + d.due_after END AS due_date,
  m.move_at,
  coalesce(
    m.move_at[cardinality(m.move_at)],
    CASE WHEN d.triaged THEN d.created + d.triage_after END,
    d.created
  ) AS last_at
FROM (
  SELECT w.*,
    CASE WHEN w.triaged THEN ARRAY(
      SELECT a FROM (
        SELECT a FROM unnest(p.agents) a ORDER BY random() LIMIT w.wanted
      ) sample WHERE a <> w.assignee
    ) ELSE '{{}}'::int[] END AS supporters
  FROM demo_param p, (
    SELECT x.*, st.path, st.rank AS status_rank, pr.priority, pr.rank AS priority_rank,
      cardinality(st.path) > 1 OR x.triage_anyway AS triaged,
      CASE WHEN x.other_watcher IS NULL OR x.other_watcher = ANY(x.watchers0)
        THEN x.watchers0 ELSE x.watchers0 || x.other_watcher END AS watchers
    FROM (
      SELECT d0.*,
        CASE WHEN d0.reporter_watches THEN ARRAY[d0.reporter] ELSE '{{}}'::int[] END
          AS watchers0
      FROM demo_draw d0
    ) x
    JOIN demo_status st USING (status)
    JOIN demo_priority pr USING (impact, urgency)
  ) w
) d
LEFT JOIN LATERAL (
  -- Moves after the first are changes of their own, 1 to 72 hours apart.
  SELECT array_agg(d.created + d.triage_after + make_interval(hours => h::int) ORDER BY j)
    AS move_at
  FROM (
    SELECT j, sum(1 + floor(random() * 72)) OVER (ORDER BY j) AS h
    FROM generate_series(3, cardinality(d.path)) j
  ) moves
) m ON true;
ALTER TABLE demo_incident ADD PRIMARY KEY (i);
ANALYZE demo_incident;
"""

# Comments spread unevenly (most incidents get a few, some many, some none), each a change
# of its own, 1 to 3,000 minutes after the one before; ids follow each incident's order.
_COMMENTS = f"""
CREATE TEMP TABLE demo_comment_draw ON COMMIT DROP AS
SELECT floor(p.n * random() ^ 1.5)::int AS i, g AS ord,
  CASE WHEN random() < 0.95 THEN 1 + floor(random() * {_SHORT})::int
    ELSE {_SHORT + 1} + floor(random() * {_LONG})::int END AS k,
  1 + floor(random() * 3000)::int AS minutes, random() AS r_author
FROM demo_param p, generate_series(1, p.comments) g;
ANALYZE demo_comment_draw;

CREATE TEMP TABLE demo_comment ON COMMIT DROP AS
SELECT p.comment0 - 1 + row_number() OVER (ORDER BY c.i, c.ord) AS id, c.i,
  d.id AS incident_id,
  authors[1 + floor(c.r_author * cardinality(authors))::int] AS author_id,
  c.k, d.last_at
    + make_interval(mins => (sum(c.minutes) OVER (PARTITION BY c.i ORDER BY c.ord))::int) AS at
FROM demo_param p, demo_comment_draw c
JOIN (
  SELECT i, id, last_at,
    ARRAY[reporter] || CASE WHEN triaged THEN ARRAY[assignee] ELSE '{{}}'::int[] END
      || supporters AS authors
  FROM demo_incident
) d USING (i);
ANALYZE demo_comment;
"""


#: The people a history entry names, as the service shows them: sorted, comma-separated.
_NAMES = "string_agg(u.name, ', ' ORDER BY u.name COLLATE \"C\")"


_INSERTS = {
    "comment": """
INSERT INTO comment (id, incident_id, author_id, body, created_at)
SELECT c.id, c.incident_id, c.author_id, t.body, c.at FROM demo_comment c JOIN demo_text t USING (k)
""",
    "incident_supporter": """
INSERT INTO incident_supporter (id, incident_id, user_id)
SELECT p.supporter0 - 1 + row_number() OVER (ORDER BY d.i, s.o), d.id, s.u
FROM demo_param p, demo_incident d, unnest(d.supporters) WITH ORDINALITY s(u, o)
""",
    "incident_watcher": """
INSERT INTO incident_watcher (id, incident_id, user_id)
SELECT p.watcher0 - 1 + row_number() OVER (ORDER BY d.i, w.o), d.id, w.u
FROM demo_param p, demo_incident d, unnest(d.watchers) WITH ORDINALITY w(u, o)
""",
    "reference": """
INSERT INTO reference (id, incident_id, label, url, added_by_id, added_at)
SELECT p.reference0 - 1 + row_number() OVER (ORDER BY d.i), d.id, l.label,
  'https://wiki.example.com/steps/' || d.number, d.reporter, d.created
FROM demo_param p, demo_incident d JOIN demo_label l ON (l.s, l.step) = (d.label_s, d.label_step)
""",
    # In each incident: the report and what came with it, the triage, later moves, comments.
    "incident_event": f"""
INSERT INTO incident_event (id, incident_id, kind, actor_id, at, field, from_value, to_value)
SELECT p.event0 - 1 + row_number() OVER (ORDER BY e.i, e.seq, e.sub), d.id, e.kind, e.actor,
  e.at, e.field, e.from_value, e.to_value
FROM demo_param p, (
  SELECT i, 1 AS seq, 0 AS sub, '{Kind.REPORTED}' AS kind, reporter AS actor, created AS at,
    NULL AS field, NULL AS from_value, NULL AS to_value
  FROM demo_incident
  UNION ALL
  SELECT d.i, 2, 0, '{Kind.WATCHERS_CHANGED}', d.reporter, d.created, 'watchers', '', {_NAMES}
  FROM demo_incident d, unnest(d.watchers) who JOIN demo_name u ON u.id = who
  GROUP BY d.i
  UNION ALL
  SELECT d.i, 3, 0, '{Kind.REFERENCE_ADDED}', d.reporter, d.created, 'references', NULL, l.label
  FROM demo_incident d JOIN demo_label l ON (l.s, l.step) = (d.label_s, d.label_step)
  UNION ALL
  SELECT d.i, 4, 0, '{Kind.ASSIGNED}', d.manager, d.triage_at, 'assignedTo', NULL, u.name
  FROM demo_incident d JOIN demo_name u ON u.id = d.assigned_to
  UNION ALL
  SELECT d.i, 5, 0, '{Kind.SUPPORTERS_CHANGED}', d.manager, d.triage_at, 'supportedBy', '',
    {_NAMES}
  FROM demo_incident d, unnest(d.supporters) who JOIN demo_name u ON u.id = who
  GROUP BY d.i
  UNION ALL
  SELECT i, 6, 0, '{Kind.STATUS_CHANGED}', manager, triage_at, 'status', path[1], path[2]
  FROM demo_incident WHERE cardinality(path) > 1
  UNION ALL
  SELECT i, 7, 0, '{Kind.DUE_DATE_CHANGED}', manager, triage_at, 'dueDate', NULL,
    to_char(due_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
  FROM demo_incident WHERE due_date IS NOT NULL
  UNION ALL
  SELECT i, 7 + j, 0, '{Kind.STATUS_CHANGED}', manager, move_at[j - 2], 'status', path[j - 1],
    path[j]
  FROM demo_incident, generate_series(3, cardinality(path)) j
  UNION ALL
  SELECT c.i, 100, c.id, '{Kind.COMMENTED}', c.author_id, c.at, NULL, NULL, left(t.body, 200)
  FROM demo_comment c JOIN demo_text t USING (k)
) e JOIN demo_incident d USING (i)
""",
    # One version per change: the report, the triage, each later move, each comment.
    "incident": f"""
INSERT INTO incident (id, number, description, type, impact, urgency, priority, priority_rank,
  status, status_rank, due_date, task, reporter_id, assigned_to_id, version, search_document,
  search_vector, created_at, updated_at, due_soon_sent_for, overdue_sent_for)
SELECT id, number, description, type, impact, urgency, priority, priority_rank, status,
  status_rank, due_date, task, reporter, assigned_to, version,
  left(document, max_document),
  CASE WHEN length(document) <= max_document THEN vector
    ELSE {_vector("left(document, max_document)")} END,
  created, greatest(updated, created), reminded, reminded
FROM (
  SELECT d.*, p.max_document,
    -- A desk would have sent the reminders of the due dates gone by.
    CASE WHEN d.due_date <= p.now THEN d.due_date END AS reminded,
    1 + d.triaged::int + greatest(cardinality(d.path) - 2, 0) + coalesce(c.n, 0) AS version,
    h.head || coalesce(' ' || tail.body, '') AS description,
    concat_ws(E'\\n', h.head || coalesce(' ' || tail.body, ''), l.label, c.document)
      AS document,
    h.vector || coalesce(tail.vector, '') || coalesce(l.vector, '') || coalesce(c.vector, '')
      AS vector,
    coalesce(c.last, d.last_at) AS updated
  FROM demo_param p, demo_incident d
  JOIN demo_head h USING (s, q, t)
  LEFT JOIN demo_text tail ON tail.k = d.tail
  LEFT JOIN demo_label l ON (l.s, l.step) = (d.label_s, d.label_step)
  LEFT JOIN (
    SELECT c.i, count(*) AS n, max(c.at) AS last,
      string_agg(left(t.body, p.max_comment), E'\\n' ORDER BY c.id) AS document,
      pg_temp.demo_vectors(t.vector ORDER BY c.id) AS vector
    FROM demo_param p, demo_comment c JOIN demo_text t USING (k)
    GROUP BY c.i
  ) c USING (i)
) x
""",
}
#: Referenced rows first, so foreign keys kept during a small load are met.
_ORDER = ("incident", "comment", "incident_supporter", "incident_watcher", "reference",
          "incident_event")  # fmt: skip


async def fill(connection: Any, plan: Plan, *, rebuild: bool) -> dict[str, int]:
    """Writes the plan's rows on an asyncpg connection inside a transaction; returns the rows
    written per table. With ``rebuild``, indexes and foreign keys are built after the rows."""
    # The estimates over generated rows are rough: compiling them (JIT) took longer than
    # running them.
    await connection.execute(
        "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off;"
        # Documents and vectors are compressed as they are written: lz4 is several times
        # faster than the default pglz (reading takes either).
        " SET LOCAL default_toast_compression = lz4"
    )
    await connection.execute(_PARAMETERS)
    ids = plan.first_ids
    await connection.execute(
        "INSERT INTO demo_param VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
        plan.incidents, plan.comments, plan.number, ids["incident"],
        ids["incident_supporter"], ids["incident_watcher"], ids["comment"], ids["reference"],
        ids["incident_event"], plan.start, plan.span, plan.now, list(plan.reporters),
        list(plan.agents),
        list(plan.managers), list(plan.subjects), list(plan.problems), list(plan.topics),
        list(plan.sentences), list(plan.tasks), list(plan.types), list(plan.impacts),
        list(plan.urgencies), list(plan.statuses), plan.max_comment, plan.max_document,
    )  # fmt: skip
    await connection.executemany(
        "INSERT INTO demo_priority VALUES ($1, $2, $3, $4)", plan.priorities
    )
    await connection.executemany("INSERT INTO demo_status VALUES ($1, $2, $3)", plan.paths)
    rebuilt = await _drop_indexes_and_keys(connection) if rebuild else []
    await connection.execute(f"ALTER TABLE incident DISABLE TRIGGER {SEARCH_TRIGGER}")
    await connection.execute("SELECT setseed(0.5)")
    for script in (_POOLS, _INCIDENTS, _COMMENTS):
        await connection.execute(script)
    counts = {}
    for table in _ORDER:
        status = await connection.execute(_INSERTS[table])
        counts[table] = int(status.rsplit(" ", 1)[1])
    await connection.execute(f"ALTER TABLE incident ENABLE TRIGGER {SEARCH_TRIGGER}")
    await connection.execute("DROP AGGREGATE pg_temp.demo_vectors (tsvector)")
    for statement in rebuilt:
        await connection.execute(statement)
    return counts


async def _drop_indexes_and_keys(connection: Any) -> list[str]:
    """Drops the demo tables' secondary indexes and foreign keys; returns the statements that
    build them again."""
    tables = list(TABLES)
    indexes = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        tables,
    )
    keys = await connection.fetch(
        "SELECT conrelid::regclass::text AS owner, quote_ident(conname) AS name,"
        " pg_get_constraintdef(oid) AS definition FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[])",
        tables,
    )
    for key in keys:
        await connection.execute(f"ALTER TABLE {key['owner']} DROP CONSTRAINT {key['name']}")
    for index in indexes:
        await connection.execute(f"DROP INDEX {index['name']}")
    return [index["definition"] for index in indexes] + [
        f"ALTER TABLE {key['owner']} ADD CONSTRAINT {key['name']} {key['definition']}"
        for key in keys
    ]
