"""Users have a time zone (an IANA name); those there were get UTC."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0006_sessions_and_throttle")]

    initial = False

    operations = [
        ops.AddField(
            model_name="User",
            name="time_zone",
            field=fields.CharField(default="UTC", db_default="UTC", max_length=64),
        ),
    ]
