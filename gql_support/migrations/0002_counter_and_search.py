"""The Request ID counter row, and the full-text index on PostgreSQL."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from gql_support.incidents.search import CREATE_INDEX_SQL, DROP_INDEX_SQL


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
