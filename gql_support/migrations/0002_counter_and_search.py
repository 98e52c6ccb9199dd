"""The Request ID counter row, and the full-text index on PostgreSQL."""

from tortoise import migrations
from tortoise.migrations import operations as ops

# As it was first built (0009 replaces it with an index on a stored column): written out, so
# this migration stays what it was whatever the search module becomes.
_VECTOR = "to_tsvector('english', search_document) || to_tsvector('french', search_document)"
CREATE_INDEX_SQL = f"CREATE INDEX incident_search_idx ON incident USING GIN (({_VECTOR}))"
DROP_INDEX_SQL = "DROP INDEX incident_search_idx"


async def create_search_index(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(CREATE_INDEX_SQL)


async def drop_search_index(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(DROP_INDEX_SQL)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.RunSQL(
            "INSERT INTO incident_counter (id, value) VALUES (1, 0)",
            reverse_sql="DELETE FROM incident_counter WHERE id = 1",
        ),
        ops.RunPython(create_search_index, drop_search_index),
    ]
