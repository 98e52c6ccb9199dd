"""A search's statement runs in one process, at a declared cost that keeps its plans cheap.

Measured at 1M incidents (2 cores, a word in 1 % of them, PostgreSQL time of the page):
migration 0011's declared cost (10,000 per row) priced the page's plan near 300,000, worth two
parallel workers whose start-up cost more than the 10,000 rows they shared, and past
``jit_above_cost`` (the pool now turns JIT off: ``db.SESSION_SETTINGS``): 75 to 125 ms a page.
``PARALLEL UNSAFE`` keeps any statement that calls ``incident_search_read`` in one process
(parallel reading never pays for a page of 50 rows). The cost goes down to 1,000 (2.5 a row,
where the planner prices a page read 1 to 4): plans are still weighed by the rows they visit,
but a walk down the order's index now wins a little earlier. At 1M, for the word in 1 %, the
number order's walk reads the 5,000 newest rows, in few and often read pages (15 to 19 ms),
where sorting the 10,000 matches reads 10,000 pages all over the table (30 to 47 ms, more when
they are not in shared buffers); the other orders cost about the same either way (25 to 50
ms), and at 100k the matches are still sorted (1,000 rows, 7 to 10 ms).
Nothing changes on SQLite.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FORWARD = "ALTER FUNCTION incident_search_read(integer) PARALLEL UNSAFE COST 1000;"
BACKWARD = "ALTER FUNCTION incident_search_read(integer) PARALLEL SAFE COST 10000;"


async def forward(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(FORWARD)


async def backward(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("models", "0011_search_read_cost")]

    initial = False

    operations = [ops.RunPython(forward, backward)]
