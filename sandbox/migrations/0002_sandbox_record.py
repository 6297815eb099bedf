# The model is called SandboxRecord (sandboxes.Sandbox is the sandbox callers hold); its table
# keeps its first name, so the rename changes nothing in the database.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        # Pin the table name first: the rename then finds the same table on both sides.
        migrations.AlterModelTable(name="sandbox", table="sandbox_sandbox"),
        migrations.RenameModel(old_name="Sandbox", new_name="SandboxRecord"),
    ]
