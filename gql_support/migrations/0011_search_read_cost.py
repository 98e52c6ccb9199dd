"""The cost of reading an incident's stored search vector, declared to PostgreSQL's planner.

PostgreSQL prices ``search_vector @@ query`` as one operator call, but each call reads the
stored vector (1.4 kB on average, often out of line): for a word in 1 % of 100k incidents the
planner walked the ``number`` index backwards and read 5,000 vectors (270 ms) instead of
taking the 1,000 matches from the GIN index and sorting them (10 ms). Search conditions add
``incident_search_read(id)``: it does nothing (it is true), but its declared cost is the
read's, so both plans are weighed by the rows they visit. Nothing changes on SQLite.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

FORWARD = """
CREATE FUNCTION incident_search_read(integer) RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$ BEGIN RETURN true; END $$;
"""
BACKWARD = "DROP FUNCTION incident_search_read(integer);"


async def forward(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(FORWARD)


async def backward(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("models", "0010_reminders")]

    initial = False

    operations = [ops.RunPython(forward, backward)]
